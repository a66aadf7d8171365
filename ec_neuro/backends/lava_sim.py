"""The lava-sim backend: a population evaluated by Lava's Loihi-2 simulator, bit for bit the numpy backend.

Lava runs in a worker process (`lava_worker`, started with `python -m`, its own session), never here:
importing Lava forces the `fork` start method and every rebuilt graph leaks ~4 MB, so the worker is
recycled every `recycle_every` graphs built.  Per control step the host sends one message (bias (P*N) +
active (P)) and gets the readout r (P, N) back; inside the graph the HostBridge streams the bias into the LIF
for K timesteps and folds the spikes into r (no `Var.get()/set()` anywhere).  Both go through a
shared-memory `Mailbox`; the socket carries only a token per control step.  The fused-k tier's graph is
direct: its Lava process reads the message from the mailbox and answers there, the host ringing it through
the mailbox's doorbell (one byte each way per control step, the worker not in the path).

The fused tiers keep their graph alive across rollouts (`reuse`, the default): the next population's mask,
v0 and constants go into the graph's mailbox and a LOAD message swaps them in, so a rollout pays no graph
build, Lava compile or stop, only that ~4 MB copy.  A graph is rebuilt when the population's shape changes
(P, N, K, precision).  The stock tier (Intel's Sparse cannot change its sparsity pattern) builds per rollout.

    backend = make_backend("lava-sim", tier="fused-k" | "fused" | "stock", recycle_every=25, reuse=True)
    counts = backend.rollout(backend.compile(lower(spec, masks, "fixed")), loop, v0)   # (P, N) spikes
"""
from __future__ import annotations

import atexit
import dataclasses
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
from .lava_core import (BELL_LOAD, BridgeState, LavaProcessDied, direct_step, replay, replay_regions, session_regions,
                        write_load)
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
    """lava-sim, bit-identical in every tier: 'fused-k' (the default: one custom process, a control step per
    Lava timestep), 'fused' (one custom process, one substep per timestep) and 'stock' (Intel's LIF + Sparse
    models, one substep per timestep; maps to Loihi 2).  recycle_every: graphs built per worker process;
    reuse: keep a fused graph alive across rollouts (load the next population into it)."""

    name: ClassVar[str] = "lava-sim"

    def __init__(self, tier: str = "fused-k", recycle_every: int = 25, reuse: bool = True) -> None:
        if importlib.util.find_spec("lava") is None:
            raise MissingExtra("backend 'lava-sim'", "lava", "lava")
        self.tier = check_tier(tier)
        if not isinstance(recycle_every, int) or isinstance(recycle_every, bool) or recycle_every < 1:
            raise UserError(f"lava-sim recycle_every must be a positive integer, got {recycle_every!r}")
        if not isinstance(reuse, bool):
            raise UserError(f"lava-sim reuse must be true or false, got {reuse!r}")
        self.recycle_every = recycle_every
        self.reuse = reuse and self.tier != "stock"
        self.direct = self.tier == "fused-k"  # the host steps the graph's process itself (lava_core.direct_step)
        self._worker: _Worker | None = None
        self._live: tuple[tuple, Mailbox] | None = None  # the worker's live graph: (shape key, its mailbox)
        self.timing: dict[str, float] = {}  # last rollout: start_s (graph build or load), steps_s, stop_s
        self.built = 0  # graphs built by this backend (rollouts that could not load into a live one)
        self._fresh = False  # the last rollout built its graph
        ref = weakref.ref(self)
        atexit.register(lambda: (b := ref()) is not None and b.close())

    def compile(self, lowered: Lowered) -> LavaProgram:
        return LavaProgram(lowered, plan(lowered))

    def _get_worker(self, build: bool = True) -> _Worker:
        """The worker, for a request that builds a graph (recycled after `recycle_every` of them)."""
        if self._worker is not None and self._worker.graphs >= self.recycle_every:
            self._drop_live()
            self._worker.close()
            self._worker = None
        if self._worker is None:
            self._worker = _Worker()
        self._worker.graphs += int(build)
        return self._worker

    def _drop_live(self) -> None:
        if self._live is not None:
            self._live[1].close()
            self._live = None

    def _v0(self, program: LavaProgram, v0: np.ndarray) -> np.ndarray:
        return np.asarray(program.low.initial_v(v0)).reshape(-1)

    def rollout(self, program: LavaProgram, loop: ControlLoop, v0: np.ndarray) -> np.ndarray:
        """Drive `loop` through the graph; returns spike counts of the active steps, (P, N) int64."""
        low, P, N = program.low, program.plan.population, program.plan.n_neurons
        threads = numba.get_num_threads()
        numba.set_num_threads(1)  # the host's encode/decode: parallel threads here only steal Lava's cores
        box = None
        try:
            t0 = time.perf_counter()
            w, box = self._open(program, self._v0(program, v0))
            t1 = time.perf_counter()
            direct = box.bell
            alive = lambda: w.proc.poll() is None  # noqa: E731
            bias = loop.start()
            while bias is not None:
                box.inbox[:P * N] = host_bias(low, bias)
                box.inbox[P * N:] = np.asarray(loop.active, dtype=np.float64).reshape(-1)
                if direct:
                    direct_step(box, alive)
                else:
                    w.call("step")
                bias = loop.step(box.outbox.reshape(P, N).copy())
            t2 = time.perf_counter()
            if direct and self.reuse:
                counts = box.counts.copy()  # (the graph's own int64 counts, no worker call)
            else:
                counts = w.call("finish" if self.reuse else "end")
            self.timing = {"start_s": t1 - t0, "steps_s": t2 - t1, "stop_s": time.perf_counter() - t2,
                           "built": float(self._fresh)}
        except BaseException as e:
            # a dead Lava process leaves a runtime that cannot stop cleanly: end the worker at once
            self._abort(interrupted=not isinstance(e, Exception) or isinstance(e, LavaProcessDied))
            raise
        finally:
            if box is not None and not self.reuse:
                box.close()
            numba.set_num_threads(threads)
        if counts is None:
            return np.zeros((P, N), np.int64)
        return counts.reshape(P, N).astype(np.int64)

    def _open(self, program: LavaProgram, v: np.ndarray) -> tuple[_Worker, Mailbox]:
        """The worker and mailbox of a graph holding `program`: the live graph loaded, or a new one built."""
        pl = program.plan
        P, N = pl.population, pl.n_neurons
        key = (self.tier, pl.precision, P, N, pl.substeps)
        if self.reuse and self._live is not None and self._live[0] == key and self._worker is not None:
            box = self._live[1]
            write_load(box, pl, v)
            if box.bell:
                box.ring(BELL_LOAD)  # the graph's process reads it before the next STEP
            else:
                self._worker.call("load")
            self._fresh = False
            return self._worker, box
        self._drop_live()
        w = self._get_worker()
        box = Mailbox.create(P * N + P, P * N, session_regions(self.tier, self.reuse, P, N), bell=self.direct)
        try:
            self._start(w, box, program, v)
        except BaseException:
            box.close()
            raise
        box.unlink()  # both sides have it mapped (and the Lava processes inherit the worker's mapping)
        self.built += 1
        self._fresh = True
        if self.reuse:
            self._live = (key, box)
        return w, box

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

    REFERENCE = {"fixed": "Intel's stock models (PyLifModelBitAcc + PySparseModelBitAcc)",
                 "float": "Intel's stock float models (PyLifModelFloat + PySparseModelFloat)"}

    @classmethod
    def reference_for(cls, options: dict, precision: str) -> str | None:
        """What `verify_replay` checks a backend built with `options` against; None for the stock tier (it is
        the reference)."""
        return None if options.get("tier", "fused-k") == "stock" else cls.REFERENCE[precision]

    def verify_replay(self, program: LavaProgram, index: np.ndarray, v0: np.ndarray, bias: np.ndarray,
                      active: np.ndarray, starts: np.ndarray, stops: np.ndarray, capacity: int = 0) -> dict:
        """Replays of members `index` of a rollout, for verification (host/verify.py):
        - the fast tier: this tier's arithmetic (FusedCore, as its Lava process runs it) on this program's own
          plan, over every recorded control step: r (T, M, N); its state at each member's window start, and
          u, v, s, r over the window [starts[m], stops[m]);
        - the reference: Intel's stock models in the worker, on a plan lowered again from the population, over
          the same windows, each member seeded with the fast tier's state at its window start.
        bias (T, M, N) and active (T, M): what the ControlLoop gave the rollout for these members; v0 (M, N).
        capacity: the longest window to expect (the worker keeps one stock graph per population shape, built
        for that many control steps, and loads each replay into it)."""
        low, index = program.low, np.asarray(index)
        M, N, K = len(index), program.plan.n_neurons, program.plan.substeps
        hb = np.stack([host_bias(low, b) for b in bias])  # (T, M*N): exactly what the fast tier's graph received
        v = np.asarray(low.initial_v(v0)).reshape(-1)
        fast = replay(program.plan.members(index), v, hb, active, starts, stops, self.tier)
        ref_plan = plan(dataclasses.replace(low, T_in=low.T_in[index], W_h=low.W_h[index], W_out=low.W_out[index]))
        lengths = stops - starts
        T = int(lengths.max())
        box = Mailbox.create(0, 0, replay_regions(T, K, M * N))
        try:
            for m in range(M):
                box.bias[:lengths[m], m * N:(m + 1) * N] = hb[starts[m]:stops[m], m * N:(m + 1) * N]
            init = {k: a.reshape(-1) for k, a in fast["init"].items()}
            w = self._get_worker(build=False)
            try:
                if w.call("replay", box.spec(), ref_plan, init, int(capacity)):
                    w.graphs += 1
            except BaseException as e:
                self._abort(interrupted=not isinstance(e, Exception))
                raise
            u, v, z = (np.array(a).reshape(T * K, M, N) for a in (box.u, box.v, box.z))
        finally:
            box.close()
        sign = ref_plan.sign.reshape(M, N)
        s = z * sign
        # the readout, by the stock tier's HostBridge arithmetic, from the stock spikes
        st = BridgeState(dict(population=M, n_neurons=N, substeps=K, sign=ref_plan.sign, a_out=ref_plan.a_out,
                              c_out=ref_plan.c_out, record=False, r0=init["r"]))
        r = np.zeros((T, M, N))
        for i in range(T * K):
            st.observe(i % K, z[i].reshape(-1))
            if i % K == K - 1:
                r[i // K] = st.r.reshape(M, N)
        dtype = np.float64 if low.fixed is None else np.int64
        stock = {"u": [u[:lengths[m] * K, m].astype(dtype) for m in range(M)],
                 "v": [v[:lengths[m] * K, m].astype(dtype) for m in range(M)],
                 "s": [s[:lengths[m] * K, m] for m in range(M)],
                 "r_window": [r[:lengths[m], m] for m in range(M)]}
        return {"r": fast["r"], "fast": {k: fast[k] for k in ("u", "v", "s", "r_window")}, "stock": stock}

    def _abort(self, interrupted: bool = False) -> None:
        """After an error: stop the graph if the worker still answers, else end the worker.  After Ctrl-C or
        SIGTERM (`interrupted`): end the worker at once (it frees its shared memory and Lava processes)."""
        self._drop_live()
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
        self._drop_live()
        if self._worker is not None:
            w, self._worker = self._worker, None
            w.close()
