"""Stage 1, describe: the networks as frozen, validated data named after their equations."""
from .ei import NetworkSpec, NeuronParams
from .weights import DenseRSNNSpec, GRUSpec, LSTMSpec, WeightSpec

__all__ = ["NetworkSpec", "NeuronParams", "DenseRSNNSpec", "GRUSpec", "LSTMSpec", "WeightSpec"]
