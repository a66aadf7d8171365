"""ec-neuro: Evolving Connectivity for recurrent spiking networks, from training to neuromorphic chips."""
__version__ = "0.1.0"
