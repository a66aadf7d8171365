"""Stage 1, describe: the networks as frozen, validated data named after their equations."""
from .ei import NetworkSpec, NeuronParams

__all__ = ["NetworkSpec", "NeuronParams"]
