"""The numpy backend (numba kernels): a whole population per call, float64 or Loihi-2 fixed point."""
from .backend import NumpyBackend, NumpyProgram

__all__ = ["NumpyBackend", "NumpyProgram"]
