"""The seed paper's two-layer LIF classifier (EGGROLL, arXiv 2511.16652, N-MNIST) as a network of real weights,
trained by ES or EGGROLL (spec/weights.py's WeightSpec: a layout, init_params, strategy_defaults).

    inputs   x_t (n_obs,) per time bin: N-MNIST's 34x34x2 = 2312 event counts (578 after 2x2 sum-pooling), scaled
             by the task so that E ||x_t||^2 = 1 over the training set, then multiplied by `in_gain`
    hidden   LIF, H = `hidden` units:  v <- beta v + x_t W1 + b1;  s = v > 1;  v <- v - s   (soft reset, threshold 1)
    readout  "membrane": a leaky integrator u <- beta u + s W2 + b2,  logits = mean_t u_t
             "counts":   a LIF layer like the hidden one on s W2 + b2, logits = out_gain * (its spike counts)
    layout   W1 (n_obs, H), b1 (H,), W2 (H, n_act), b2 (n_act,);  n_act = the number of classes
    init     W1 ~ N(0, w1_gain^2) (on unit-rms inputs the hidden current has std w1_gain), W2 ~ N(0, w2_gain^2 / H),
             biases 0;  v, u start at 0 for every sample

Classification only: its population forward is `classify` (networks/lif2.py, the contract with
host/classify.py); `forward`, the control-loop forward of host/weights.py, refuses to run (a UserError), and
config.complete refuses a task without mini-batches (`batch`, `split`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import numpy as np

from .ei import _check
from .weights import Layout, WeightSpec

READOUTS = ("membrane", "counts")


@dataclass(frozen=True)
class LIFClassifierSpec(WeightSpec):
    """n_obs inputs -> `hidden` LIF units -> n_act classes (see the module docstring for the equations)."""

    n_obs: int
    n_act: int
    hidden: int = 128
    beta: float = 0.8           # membrane decay per time bin, hidden and readout
    readout: str = "membrane"   # "membrane" (mean leaky-integrator potential) or "counts" (output spike counts)
    out_gain: float = 1.0       # logits = out_gain * spike counts ("counts" only)
    in_gain: float = 1.0        # multiplies the task's (unit-rms) frames
    w1_gain: float = 1.0
    w2_gain: float = 3.0

    kind: ClassVar[str] = "lif-classifier"
    forward: ClassVar[str] = "ec_neuro.networks.lif2:ControlForward"   # refuses: classification only
    classify: ClassVar[str] = "ec_neuro.networks.lif2:classify"        # the population forward on mini-batches
    spiking: ClassVar[bool] = True
    # the research prototype's measured settings (BENCHMARKS.md, "Event classification"): Adam (no weight decay), sigma 0.1, lr 0.02
    # decayed by 0.998 a generation, z-scored fitness; EGGROLL at rank 4
    strategy_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "es": {"sigma": 0.1, "lr": 0.02, "optimizer": "adam", "weight_decay": 0.0, "shaping": "zscore",
               "lr_decay": 0.998},
        "eggroll": {"sigma": 0.1, "lr": 0.02, "optimizer": "adam", "weight_decay": 0.0, "shaping": "zscore",
                    "lr_decay": 0.998, "rank": 4},
    }

    def __post_init__(self) -> None:
        self._check_sizes("n_obs", "n_act", "hidden")
        _check(self.n_act >= 2, "network.n_act", f"a classifier needs at least 2 classes, got {self.n_act}")
        _check(_number(self.beta) and 0.0 <= self.beta < 1.0, "network.beta",
               f"must be a number in [0, 1) (the membrane decay per time bin), got {self.beta!r}")
        _check(self.readout in READOUTS, "network.readout",
               f"must be one of {', '.join(READOUTS)}, got {self.readout!r}")
        for name in ("out_gain", "in_gain", "w1_gain", "w2_gain"):
            val = getattr(self, name)
            _check(_number(val) and math.isfinite(val) and val > 0, f"network.{name}",
                   f"must be a positive number, got {val!r}")

    @property
    def n_inputs(self) -> int:
        return self.n_obs

    @property
    def n_classes(self) -> int:
        return self.n_act

    @property
    def layout(self) -> Layout:
        H, C = self.hidden, self.n_act
        return (("W1", (self.n_obs, H)), ("b1", (H,)), ("W2", (H, C)), ("b2", (C,)))

    def init_params(self, seed: int) -> np.ndarray:
        rng, H = self._rng(seed), self.hidden
        W1 = rng.standard_normal((self.n_obs, H)) * self.w1_gain
        W2 = rng.standard_normal((H, self.n_act)) * (self.w2_gain / math.sqrt(H))
        return np.concatenate([W1.ravel(), np.zeros(H), W2.ravel(), np.zeros(self.n_act)])

    def eval_bytes(self, slots: int) -> int:
        """Memory the population forward holds while it evaluates `slots` members (memory.py): it works in
        chunks of members (networks/lif2.py, CHUNK_BYTES), so this does not grow with the population."""
        from ..networks.lif2 import CHUNK_BYTES
        return 2 * CHUNK_BYTES + 64 * slots * (self.hidden + self.n_act)


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
