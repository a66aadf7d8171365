"""The Brian2 backend: the reference simulator, equal to the numpy backend bit for bit in both precisions.

Brian2 owns its time loop, so closed loop runs inside one `net.run()`: a single `network_operation`
(`ecn_loop`, slot `start`, on the network's one clock; it acts every K-th substep) hands the readout r (P, N)
to the host's ControlLoop and writes the next bias (P, N) into I_ext.  A member that the loop marks inactive
keeps being simulated (its neurons only touch its own block), but its spike counts and readout are frozen at
that moment, which is what the numpy backend returns.  See `ec_neuro.compilers.brian2` for the model and
the compile flags.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator

import brian2  # noqa: F401  (imported here so that the registry turns its absence into the install command)
import numpy as np

from ..compilers import brian2 as comp
from ..compilers.common import Lowered
from .base import ControlLoop, Trace

CHUNK = 1000  # control steps per net.run() while a closed loop has not finished


@dataclass
class Brian2Program:
    """A built population: the Brian2 objects, the lowering, and the callback the network operation calls."""

    low: Lowered
    b2: comp.Brian2Net
    on_control: Callable[[], None] = field(default=lambda: None)


@contextmanager
def serial_numba() -> Iterator[None]:
    """One numba thread while Brian2 runs: the host's encode/decode kernels in the callback would otherwise wake a
    parallel team every control step, which cost ~8 ms a call on the loaded 2-core machine (0.1 ms serial)."""
    import numba
    prev = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(prev)


@contextmanager
def frozen_gc() -> Iterator[None]:
    """Every `Network.run()` starts with a full `gc.collect()` (to warn about stray Brian2 objects), which walked
    the whole heap: 0.1 s per rollout in the benchmark. Objects older than the run are frozen meanwhile."""
    if gc.get_freeze_count():  # somebody else froze objects on purpose: leave their freeze alone
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class Brian2Backend:
    """Options: target = "cython" (default; strict gcc flags, cache in .cache/brian2/) or "numpy" (no compiler)."""

    name: ClassVar[str] = "brian2"

    def __init__(self, target: str = "cython") -> None:
        self.target = target
        self.config = comp.configure(target)
        comp.check_flags()
        self._current: Brian2Program | None = None

    def compile(self, lowered: Lowered) -> Brian2Program:
        import brian2 as b2
        self.close()
        comp.configure(self.target)
        net = comp.build(lowered)
        prog = Brian2Program(lowered, net)
        b2.defaultclock.dt = net.dt

        timestep, K = net.clock.variables["timestep"].get_value(), net.K

        @b2.network_operation(clock=net.clock, when="start", name="ecn_loop")
        def _loop() -> None:
            if timestep[0] % K == 0:  # a second clock of dt K*dt would cost Brian2's multi-clock loop
                prog.on_control()

        net.net.add(_loop)
        net.net.store("init")
        self._current = prog
        return prog

    def _start(self, prog: Brian2Program, v0: np.ndarray) -> None:
        """Back to t = 0 with the initial state: u, r, counts, pending spikes zero; v = v0 in threshold units."""
        comp.configure(self.target)
        comp.check_flags()
        prog.b2.net.restore("init")
        prog.b2.var("v")[:] = prog.low.initial_v(np.asarray(v0, dtype=np.float64))  # fixed: exact integers

    def rollout(self, program: Brian2Program, loop: ControlLoop, v0: np.ndarray) -> np.ndarray:
        """Closed loop until `loop.step` returns None; spike counts (P, N) as the numpy backend counts them."""
        b = program.b2
        self._start(program, v0)
        cnt, r, bias = b.var("cnt"), b.var("r"), b.var("I_ext")
        counts = np.zeros((b.P, b.N), np.int64)
        r_frozen = np.zeros((b.P, b.N))
        frozen = np.zeros(b.P, bool)
        state = {"calls": 0, "done": False}

        def freeze(members: np.ndarray) -> None:
            new = members & ~frozen
            counts[new] = cnt[new]
            r_frozen[new] = r[new]
            frozen[new] = True

        def on_control() -> None:
            if state["calls"] == 0:
                nxt = loop.start()
            else:
                rr = r.copy()
                rr[frozen] = r_frozen[frozen]
                nxt = loop.step(rr)
            state["calls"] += 1
            if nxt is None:
                freeze(np.ones(b.P, bool))
                state["done"] = True
                b.net.stop()
                return
            freeze(~np.asarray(loop.active, bool))
            bias[:] = nxt

        program.on_control = on_control
        try:
            with serial_numba(), frozen_gc():
                while not state["done"]:
                    b.net.run(CHUNK * b.K * b.dt, namespace={})
                    comp.verify_compiled(b.net)
        finally:
            program.on_control = lambda: None
        return counts

    def open_loop(self, program: Brian2Program, v0: np.ndarray, bias: np.ndarray) -> Trace:
        """Replay bias (T, P, N); u, v, s recorded at the end of every substep by a StateMonitor."""
        import brian2 as b2
        b = program.b2
        T = bias.shape[0]
        self._start(program, v0)
        r_live, i_ext = b.var("r"), b.var("I_ext")
        r_rec = np.zeros((T, b.P, b.N))
        calls = [0]

        def on_control() -> None:
            t = calls[0]
            if t > 0:
                r_rec[t - 1] = r_live
            if t < T:
                i_ext[:] = bias[t]
            calls[0] += 1

        mon = b2.StateMonitor(b.G, ["u", "v", "sp"], record=True, when="end", name="ecn_mon")
        b.net.add(mon)
        program.on_control = on_control
        try:
            with frozen_gc():
                b.net.run(T * b.K * b.dt, namespace={})
            comp.verify_compiled(b.net)
            r_rec[T - 1] = r_live
            shape = (T * b.K, b.P, b.N)
            u = np.ascontiguousarray(mon.u[:].T).reshape(shape)
            v = np.ascontiguousarray(mon.v[:].T).reshape(shape)
            if program.low.fixed is not None:  # integers held in float64: convert, and prove they are integers
                ui, vi = u.astype(np.int64), v.astype(np.int64)
                if not (np.array_equal(ui, u) and np.array_equal(vi, v)):
                    raise RuntimeError("brian2 fixed-point state left the integers; this is a bug")
                u, v = ui, vi
            s = np.ascontiguousarray(mon.sp[:].T).reshape(shape).astype(np.int32)
        finally:
            program.on_control = lambda: None
            b.net.remove(mon)
            del mon
        return Trace(u, v, s, r_rec)

    def close(self) -> None:
        comp.teardown(self._current.b2 if self._current else None)
        self._current = None

    def info(self) -> dict[str, Any]:
        """What the backend set in Brian2 (target, flags, cache directory)."""
        return dict(self.config)
