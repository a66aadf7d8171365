"""Lava process graphs of a population (worker process only: imports Lava): build one, run it, stop it.

    stock:  HostBridge.bias_out -> BiasLIF.bias_in;  BiasLIF.s_out -> Sparse.s_in, HostBridge.s_in;
            Sparse.a_out -> BiasLIF.a_in   (Sparse delivers one timestep later: the model's delay)
    fused / fused-k: FusedPopulation, the same arithmetic and host channels in one process.

A Session given a mailbox with load regions (the fused tiers) is live: `load()` swaps the next population into
the running (fused-k) or paused (fused) graph, so that one graph serves every rollout of a worker.  A fused-k
Session given a mailbox with a doorbell is direct: the host steps it through the mailbox without this worker
(`lava_core.direct_step`).

`ReplayGraph` is the verification's reference (host/verify.py): Intel's LIF + Sparse alone, reused across
generations, replaying a bias schedule from a mid-episode state in one blocking run, u, v and spikes
recorded into shared memory.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .. import faults
from ..compilers.lava import LavaPlan, check_tier, fused_params
from .lava_core import BELL_HALT, BELL_LOAD, BOXES, FAILED, HALT, LOAD, direct_step, fused_failure, replay_regions
from .mailbox import Mailbox

FREE_STEPS = 2**31 - 1  # Lava timesteps of a free-running fused-k session (it is stopped long before)


def synaptic_seed(pl: LavaPlan, z: np.ndarray) -> np.ndarray:
    """What Intel's Sparse sends on its first timestep when the 0/1 spikes `z` (P*N,) came one timestep
    earlier: its buffered a_out, computed as PySparseModelBitAcc / PySparseModelFloat compute it (weights
    clipped and truncated by Lava's own weightutils, the dot product, the weight_exp shift)."""
    from lava.utils.weightutils import SignMode, clip_weights, truncate_weights
    if pl.precision != "fixed":
        return pl.W.dot(np.asarray(z, dtype=np.float64))
    W = truncate_weights(clip_weights(pl.W, SignMode.MIXED, num_bits=8), SignMode.MIXED, 8)
    acc = W.dot(np.asarray(z, dtype=bool))
    return np.left_shift(acc, pl.w_exp) if pl.w_exp > 0 else np.right_shift(acc, -pl.w_exp)


def build(pl: LavaPlan, v0: np.ndarray, tier: str, record: bool, box: str | None = None,
          init: dict[str, np.ndarray] | None = None, direct: bool = False) -> tuple[Any, Any, Any]:
    """Instantiate the graph (worker only: imports Lava). Returns (process to run, bridge, run config).

    init (stock only): start mid-episode from the state {u, v, z (0/1 spikes of the last substep), r}, each
    (P*N,): the LIF's u and v, Sparse's one-timestep buffer holding z's synaptic input, the bridge's r."""
    from lava.magma.core.run_configs import Loihi2SimCfg

    from ..lava_procs.bridge import HostBridge

    tag = "fixed_pt" if pl.precision == "fixed" else "floating_pt"
    cfg = Loihi2SimCfg(select_tag=tag)
    n = pl.size
    v_init = np.asarray(v0).reshape(-1)
    common = dict(population=pl.population, n_neurons=pl.n_neurons, sign=pl.sign, substeps=pl.substeps,
                  a_out=pl.a_out, c_out=pl.c_out, record=record)
    if init is not None:
        if tier != "stock":
            raise ValueError("only the stock graph starts from a given mid-episode state")
        common["r0"] = np.asarray(init["r"], dtype=np.float64).reshape(-1)
        v_init = np.asarray(init["v"]).reshape(-1)
    if check_tier(tier).startswith("fused"):
        from ..lava_procs.fused import FusedPopulation
        fused = FusedPopulation(**fused_params(pl, v_init, tier, record), box=box, direct=direct)
        return fused, fused, cfg

    from lava.proc.sparse.process import Sparse
    from lava.utils.weightutils import SignMode

    from ..lava_procs.lif import BiasLIF
    u_init = 0 if init is None else np.asarray(init["u"]).reshape(-1)
    lif = BiasLIF(shape=(n,), u=u_init, v=v_init, du=pl.du, dv=pl.dv, vth=pl.vth, bias_mant=0,
                  bias_exp=pl.bias_exp, record=record)
    if pl.precision == "fixed":
        syn = Sparse(weights=pl.W, num_message_bits=1, weight_exp=pl.w_exp, num_weight_bits=8,
                     sign_mode=SignMode.MIXED)
    else:
        syn = Sparse(weights=pl.W, num_message_bits=1)
    if init is not None:
        syn.a_buff.init = synaptic_seed(pl, init["z"])
    bridge = HostBridge(**common)
    bridge.bias_out.connect(lif.bias_in)
    lif.s_out.connect(syn.s_in)
    syn.a_out.connect(lif.a_in)
    lif.s_out.connect(bridge.s_in)
    if record:
        lif.u_out.connect(bridge.u_in)
        lif.v_out.connect(bridge.v_in)
    return lif, bridge, cfg


@functools.cache
def _warm_fused(precision: str, tier: str) -> None:
    """Once per worker, precision and tier, before the first such graph: Lava forks its model processes from
    here, so they inherit the compiled kernels instead of loading them on their first control step."""
    from .lava_core import warm
    warm(precisions=(precision,), tiers=(tier,))


class Session:
    """One built graph: the runtime, its bridge's external channels, and K timesteps per control step."""

    def __init__(self, plan: LavaPlan, v0: np.ndarray, tier: str, record: bool = False,
                 box: Mailbox | None = None, init: dict[str, np.ndarray] | None = None) -> None:
        if tier.startswith("fused"):
            _warm_fused(plan.precision, tier)
        self.box = box
        self.live = box is not None and "mask" in box.names
        # direct: the host rings the fused-k process itself through the mailbox's doorbell (lava_procs/fused.py)
        self.direct = box is not None and box.bell and tier == "fused-k" and not record
        if self.live and not tier.startswith("fused"):
            raise ValueError(f"only the fused tiers can load a new population into a built graph, not {tier!r}")
        if self.live or self.direct:
            BOXES[box.path] = box  # before Lava forks the model process, which finds it there
        self.running = False
        try:
            self._build(plan, v0, tier, record, init)
        except BaseException:
            try:
                self.stop()
            except Exception:
                pass
            raise

    def _build(self, plan: LavaPlan, v0: np.ndarray, tier: str, record: bool, init: Any) -> None:
        from lava.magma.core.run_conditions import RunSteps
        self.proc, self.bridge, cfg = build(plan, v0, tier, record, self.box.path if self.live or self.direct else None,
                                            init, self.direct)
        # fused-k runs free (one long non-blocking run paced by host_in); the others run K steps per call
        self.free = tier == "fused-k"
        self.fused = tier.startswith("fused")
        self.steps = RunSteps(num_steps=FREE_STEPS if self.free else plan.substeps, blocking=not self.free)
        self.proc.create_runtime(run_cfg=cfg)
        self.running = True
        faults.point("lava.runtime")  # kill tests: the model processes exist, the build has not answered yet
        self._send = self.bridge.host_in.external_pipe_csp_send_port
        self._recv = self.bridge.host_out.external_pipe_csp_recv_port
        self._halt = np.zeros(self.bridge.host_in.shape)
        self._load = np.zeros(self.bridge.host_in.shape)
        if not self.direct:  # (a direct graph's codes go through its doorbell)
            self._halt[plan.size] = HALT  # the fused model stops reading host_in and idles
            self._load[plan.size] = LOAD
        self.last: np.ndarray | None = None
        if self.free:
            self.proc.run(condition=self.steps)

    def step(self, msg: np.ndarray) -> np.ndarray | None:
        """Send [bias, active], run K timesteps, return the bridge's rows (2 + 3K*record, P*N).  A direct graph
        takes msg from the mailbox's inbox (the host writes it there and rings, `direct_step`), leaves r and
        counts in the mailbox and returns None."""
        if self.direct:
            direct_step(self.box, lambda: True)
            return None
        self._send.send(msg)
        if not self.free:
            self.proc.run(condition=self.steps)
        self.last = self._recv.recv()
        if self.fused and self.last[1, 0] == FAILED:
            self.last = None
            raise fused_failure(self.box)
        return self.last

    def counts(self) -> np.ndarray | None:
        """The spike counts (P*N,) float64 of the rollout so far (None before its first control step; a direct
        graph's are 0 then)."""
        if self.direct:
            return self.box.counts.astype(np.float64)
        return None if self.last is None else self.last[1].copy()

    def load(self) -> None:
        """The population now in the mailbox replaces the graph's, before the next control step."""
        if not self.live:
            raise RuntimeError("this graph cannot load a new population (not a live fused graph)")
        self.last = None
        if self.direct:
            self.box.ring(BELL_LOAD)
        else:
            self._send.send(self._load)

    def _forget(self) -> None:
        if self.live or self.direct:
            BOXES.pop(self.box.path, None)
        if self.direct:
            self.box.close()  # this side's mapping and doorbell descriptors (the graph that used them is gone)

    def stop(self) -> None:
        try:
            if self.running:
                self.running = False
                if self.direct:
                    self.box.ring(BELL_HALT)
                elif self.free:
                    self._send.send(self._halt)
                self.proc.stop()
        finally:
            self._forget()


def open_loop(plan: LavaPlan, v0: np.ndarray, bias: np.ndarray, tier: str,
              init: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Replay bias (T, P*N) with every member active; rows per control step, stacked.  init: start from a
    mid-episode state instead of (u = 0, v0, no spikes, r = 0), stock only (see `build`)."""
    s = Session(plan, v0, tier, record=True, init=init)
    try:
        active = np.ones(plan.population)
        return np.stack([s.step(np.concatenate([b, active])) for b in bias])
    finally:
        s.stop()


class ReplayGraph:
    """The verification's reference (host/verify.py): Intel's LIF and Sparse models (lava_procs/replay.py),
    built once and reused for every replay of a population shape: each `run` loads a population and a
    mid-episode state into the paused graph, replays a bias schedule in one blocking run and returns u, v and
    the 0/1 spikes z of every timestep.  `steps`: the most control steps one replay may have."""

    def __init__(self, pl: LavaPlan, steps: int) -> None:
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.utils.weightutils import SignMode

        from ..lava_procs.replay import CONSTS, ReplayLIF, ReplaySparse
        self.key, self.steps = replay_key(pl), int(steps)
        P, N, K, n = pl.population, pl.n_neurons, pl.substeps, pl.size
        self.box = Mailbox.create(0, 0, replay_regions(self.steps, K, n) + (
            ("mask", "u1", (P, N, N)), ("consts", "f8", len(CONSTS)), ("a_seed", "f8", n), ("u0", "f8", n),
            ("v0", "f8", n), ("seq", "i8", 1)))
        self.box.unlink()  # this worker's mapping is all it takes: Lava's forks of it inherit the mapping
        BOXES[self.box.path] = self.box
        self.running = False
        try:
            self.lif = ReplayLIF(shape=(n,), u=0, v=0, du=pl.du, dv=pl.dv, vth=pl.vth, bias_mant=0,
                                 bias_exp=pl.bias_exp, box=self.box.path, substeps=K)
            extra: dict[str, Any] = dict(weight_exp=pl.w_exp, num_weight_bits=8, sign_mode=SignMode.MIXED) \
                if pl.precision == "fixed" else {}
            syn = ReplaySparse(weights=pl.W, num_message_bits=1, box=self.box.path, population=P, n_neurons=N,
                               precision=pl.precision, **extra)
            self.lif.s_out.connect(syn.s_in)
            syn.a_out.connect(self.lif.a_in)
            tag = "fixed_pt" if pl.precision == "fixed" else "floating_pt"
            self.lif.create_runtime(run_cfg=Loihi2SimCfg(select_tag=tag))
            self.running = True
        except BaseException:
            self.stop()
            raise

    def run(self, pl: LavaPlan, init: dict[str, np.ndarray], bias: np.ndarray) -> tuple[np.ndarray, ...]:
        """Replay bias (T, P*N) for population `pl` from state `init` (see `build`): u, v, z (T*K, P*N)."""
        from lava.magma.core.run_conditions import RunSteps

        from ..lava_procs.replay import CONSTS
        if replay_key(pl) != self.key or len(bias) > self.steps:
            raise ValueError("this replay graph was built for another population shape or fewer steps")
        box, T, K = self.box, len(bias), pl.substeps
        box.bias[:T] = bias
        box.u0[:] = np.asarray(init["u"]).reshape(-1)
        box.v0[:] = np.asarray(init["v"]).reshape(-1)
        box.a_seed[:] = synaptic_seed(pl, init["z"])
        box.mask[:] = pl.W_h
        box.consts[:] = [float(getattr(pl, k)) for k in CONSTS]
        box.seq[0] += 1  # the models reload on their next timestep
        self.lif.run(condition=RunSteps(num_steps=T * K, blocking=True))
        return box.u[:T * K].copy(), box.v[:T * K].copy(), box.z[:T * K].copy()

    def stop(self) -> None:
        try:
            if self.running:
                self.running = False
                self.lif.stop()
        finally:
            BOXES.pop(self.box.path, None)
            self.box.close()


def replay_key(pl: LavaPlan) -> tuple:
    """What a ReplayGraph is built for: the population's shape and the Sparse parameters fixed at build."""
    return (pl.precision, pl.population, pl.n_neurons, pl.substeps, pl.w_exp)
