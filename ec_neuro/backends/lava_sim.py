"""The lava-sim backend: a population evaluated by Lava's Loihi-2 simulator, bit for bit the numpy backend.

Lava runs in a worker process (`lava_worker`, started with `python -m`, its own session), never here:
importing Lava forces the `fork` start method and every rebuilt graph leaks ~4 MB, so the worker is
recycled every `recycle_every` graphs.  Per control step the host sends one message (bias (P*N) + active
(P)) and gets the readout r (P, N) back; inside the graph the HostBridge streams the bias into the LIF for
K timesteps and folds the spikes into r (no `Var.get()/set()` anywhere).  Both go through a shared-memory
`Mailbox`; the socket carries only a token per control step.

    backend = make_backend("lava-sim", tier="stock" | "fused" | "fused-k", recycle_every=25)
    counts = backend.rollout(backend.compile(lower(spec, masks, "fixed")), loop, v0)   # (P, N) spikes
"""
from __future__ import annotations

import atexit
import importlib.util
import os
import time
import weakref
from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np

from ..compilers.common import Lowered
from ..compilers.lava import LavaPlan, check_tier, host_bias, plan
from ..child import Child
from ..errors import MissingExtra, UserError
from .base import ControlLoop, Trace
from .mailbox import Mailbox

SESSION = "ec_neuro.backends.lava_graph:Session"  # what the worker builds per graph

STOP_TIMEOUT_S = 20.0


@dataclass
class LavaProgram:
    """A lowered population and its Lava plan (block-diagonal weights, LIF constants)."""

    low: Lowered
    plan: LavaPlan


class _Worker(Child):
    """The worker process (its own session, so that killing it takes its Lava processes along)."""

    def __init__(self) -> None:
        # Passive OpenMP waits: spinning numba threads in a Lava process would steal the cores that the
        # runtime's hand-offs need (measured: fused-k closed loop 2-3x slower with the default policy).
        super().__init__("ec_neuro.backends.lava_worker", new_session=True,
                         env={"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")})
        self.graphs = 0


class LavaSimBackend:
    """lava-sim, bit-identical in every tier: 'stock' (Intel's LIF + Sparse models, one substep per Lava
    timestep; maps to Loihi 2), 'fused' (one custom process, one substep per timestep) and 'fused-k' (one
    custom process, a control step per timestep).  recycle_every: graphs per worker process."""

    name: ClassVar[str] = "lava-sim"

    def __init__(self, tier: str = "stock", recycle_every: int = 25) -> None:
        if importlib.util.find_spec("lava") is None:
            raise MissingExtra("backend 'lava-sim'", "lava", "lava")
        self.tier = check_tier(tier)
        if not isinstance(recycle_every, int) or recycle_every < 1:
            raise UserError(f"lava-sim recycle_every must be a positive integer, got {recycle_every!r}")
        self.recycle_every = recycle_every
        self._worker: _Worker | None = None
        self.timing: dict[str, float] = {}  # last rollout: start_s (graph build + Lava compile), steps_s, stop_s
        ref = weakref.ref(self)
        atexit.register(lambda: (b := ref()) is not None and b.close())

    def compile(self, lowered: Lowered) -> LavaProgram:
        return LavaProgram(lowered, plan(lowered))

    def _get_worker(self) -> _Worker:
        if self._worker is not None and self._worker.graphs >= self.recycle_every:
            self._worker.close()
            self._worker = None
        if self._worker is None:
            self._worker = _Worker()
        self._worker.graphs += 1
        return self._worker

    def _v0(self, program: LavaProgram, v0: np.ndarray) -> np.ndarray:
        return np.asarray(program.low.initial_v(v0)).reshape(-1)

    def rollout(self, program: LavaProgram, loop: ControlLoop, v0: np.ndarray) -> np.ndarray:
        """Drive `loop` through the graph; returns spike counts of the active steps, (P, N) int64."""
        low, P, N = program.low, program.plan.population, program.plan.n_neurons
        w = self._get_worker()
        threads = numba.get_num_threads()
        numba.set_num_threads(1)  # the host's encode/decode: parallel threads here only steal Lava's cores
        box = Mailbox.create(P * N + P, P * N)
        try:
            t0 = time.perf_counter()
            self._start(w, box, program, self._v0(program, v0))
            box.unlink()  # both sides have it mapped
            t1 = time.perf_counter()
            bias = loop.start()
            while bias is not None:
                box.inbox[:P * N] = host_bias(low, bias)
                box.inbox[P * N:] = np.asarray(loop.active, dtype=np.float64).reshape(-1)
                w.call("step")
                bias = loop.step(box.outbox.reshape(P, N).copy())
            t2 = time.perf_counter()
            counts = w.call("end")
            self.timing = {"start_s": t1 - t0, "steps_s": t2 - t1, "stop_s": time.perf_counter() - t2}
        except BaseException as e:
            self._abort(interrupted=not isinstance(e, Exception))
            raise
        finally:
            box.close()
            numba.set_num_threads(threads)
        if counts is None:
            return np.zeros((P, N), np.int64)
        return counts.reshape(P, N).astype(np.int64)

    def _start(self, w: _Worker, box: Mailbox, program: LavaProgram, v: np.ndarray) -> None:
        """Build and start the population's graph in the worker, exchanging control steps through `box`."""
        w.call("start", box.spec(), SESSION, (program.plan, v, self.tier, False))

    def open_loop(self, program: LavaProgram, v0: np.ndarray, bias: np.ndarray) -> Trace:
        """Replay bias (T, P, N) in Lava, recording u, v, s every timestep and r every control step."""
        low, pl = program.low, program.plan
        T, P, N = bias.shape
        K = pl.substeps
        flat = np.stack([host_bias(low, b) for b in bias])
        w = self._get_worker()
        try:
            rows = w.call("open_loop", pl, self._v0(program, v0), flat, self.tier)
        except BaseException as e:
            self._abort(interrupted=not isinstance(e, Exception))
            raise
        dtype = np.float64 if low.fixed is None else np.int64
        st = lambda a: a.reshape(T * K, P, N)  # noqa: E731
        u, v = st(rows[:, 2:2 + K]).astype(dtype), st(rows[:, 2 + K:2 + 2 * K]).astype(dtype)
        s = st(rows[:, 2 + 2 * K:2 + 3 * K]).astype(np.int32)
        return Trace(u, v, s, rows[:, 0].reshape(T, P, N).copy())

    def _abort(self, interrupted: bool = False) -> None:
        """After an error: stop the graph if the worker still answers, else end the worker.  After Ctrl-C or
        SIGTERM (`interrupted`): end the worker at once (it frees its shared memory and Lava processes)."""
        w, self._worker = self._worker, None
        if w is None:
            return
        if interrupted:
            w.kill()
            return
        try:
            if w.pending and w.conn.poll(STOP_TIMEOUT_S):
                w.conn.recv()  # the answer the interrupted call was waiting for
            w.call("end", timeout=STOP_TIMEOUT_S)
        except Exception:
            pass
        w.close()

    def close(self) -> None:
        """Stop the worker and its Lava processes."""
        if self._worker is not None:
            w, self._worker = self._worker, None
            w.close()
