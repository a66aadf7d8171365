"""The backend protocol: run a lowered population, closed loop (one control step at a time) or open loop.

A backend never sees probabilities, tasks or rewards: it compiles a `Lowered` population, then either
advances it K substeps per control step under a bias the host computed (closed loop, through a
`ControlLoop`), or replays a recorded bias sequence (open loop) and returns the state traces.  Backends
whose simulator owns its time loop (Brian2) override `rollout` and call the `ControlLoop` from inside it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from ..compilers.common import Lowered


@dataclass
class Trace:
    """Open-loop recording, one row per substep: u, v (T*K, P, N) float64 or int64; s (T*K, P, N) int32 signed."""

    u: np.ndarray
    v: np.ndarray
    s: np.ndarray
    r: np.ndarray  # readout after each control step, (T, P, N)


class ControlLoop(Protocol):
    """Host side of closed loop: bias for the first control step, then bias for the next given the readout."""

    active: np.ndarray  # (P,) bool: members whose episode is still running

    def start(self) -> np.ndarray: ...

    def step(self, r: np.ndarray) -> np.ndarray | None: ...


@runtime_checkable
class Backend(Protocol):
    """compile -> (rollout | open_loop) -> close."""

    name: ClassVar[str]

    def compile(self, lowered: Lowered) -> Any: ...

    def rollout(self, program: Any, loop: ControlLoop, v0: np.ndarray) -> np.ndarray:
        """Drive `loop` until every member is done; returns spike counts per neuron (P, N), counted while active.

        A finished member's state is unspecified afterwards (it may be frozen or keep running); only its
        readout while `loop.active` matters.
        """
        ...

    def open_loop(self, program: Any, v0: np.ndarray, bias: np.ndarray) -> Trace:
        """Replay bias (T, P, N), each held for K substeps, from v0 (P, N) and zero u, r, spikes."""
        ...

    def close(self) -> None: ...


class SteppedBackend:
    """Base for backends that can advance K substeps on request; `rollout` is then generic."""

    name: ClassVar[str] = ""

    def reset(self, program: Any, v0: np.ndarray) -> None:
        raise NotImplementedError

    def advance(self, program: Any, bias: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Run K substeps under `bias` for the `active` members; return the readout r (P, N)."""
        raise NotImplementedError

    def spike_counts(self, program: Any) -> np.ndarray:
        raise NotImplementedError

    def rollout(self, program: Any, loop: ControlLoop, v0: np.ndarray) -> np.ndarray:
        self.reset(program, v0)
        bias = loop.start()
        while bias is not None:
            r = self.advance(program, bias, loop.active)
            bias = loop.step(r)
        return self.spike_counts(program)

    def close(self) -> None:
        pass


def compare_traces(a: Trace, b: Trace) -> dict[str, Any]:
    """Bitwise comparison of two traces: identical?, first differing substep, max |du|, |dv|, spike mismatches."""
    out: dict[str, Any] = {}
    first = None
    for name in ("u", "v", "s"):
        x, y = getattr(a, name), getattr(b, name)
        if x.shape != y.shape:
            raise ValueError(f"trace {name} shapes differ: {x.shape} vs {y.shape}")
        diff = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
        bad = np.flatnonzero((diff != 0).reshape(diff.shape[0], -1).any(axis=1))
        if bad.size:
            first = int(bad[0]) if first is None else min(first, int(bad[0]))
        out[f"max_abs_d{name}"] = float(np.abs(diff).max()) if diff.size else 0.0
    out["spike_mismatches"] = int(np.count_nonzero(a.s != b.s))
    out["first_divergence"] = first
    out["identical"] = first is None
    return out
