"""Lava process graphs of a population (worker process only: imports Lava): build one, run it, stop it.

    stock:  HostBridge.bias_out -> BiasLIF.bias_in;  BiasLIF.s_out -> Sparse.s_in, HostBridge.s_in;
            Sparse.a_out -> BiasLIF.a_in   (Sparse delivers one timestep later: the model's delay)
    fused / fused-k: FusedPopulation, the same arithmetic and host channels in one process.

A Session given a mailbox with load regions (the fused tiers) is live: `load()` swaps the next population into
the running (fused-k) or paused (fused) graph, so that one graph serves every rollout of a worker.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..compilers.lava import LavaPlan, check_tier, fused_params
from .lava_core import BOXES, HALT, LOAD
from .mailbox import Mailbox

FREE_STEPS = 2**31 - 1  # Lava timesteps of a free-running fused-k session (it is stopped long before)


def build(pl: LavaPlan, v0: np.ndarray, tier: str, record: bool, box: str | None = None) -> tuple[Any, Any, Any]:
    """Instantiate the graph (worker only: imports Lava). Returns (process to run, bridge, run config)."""
    from lava.magma.core.run_configs import Loihi2SimCfg

    from ..lava_procs.bridge import HostBridge

    tag = "fixed_pt" if pl.precision == "fixed" else "floating_pt"
    cfg = Loihi2SimCfg(select_tag=tag)
    n = pl.size
    v_init = np.asarray(v0).reshape(-1)
    common = dict(population=pl.population, n_neurons=pl.n_neurons, sign=pl.sign, substeps=pl.substeps,
                  a_out=pl.a_out, c_out=pl.c_out, record=record)
    if check_tier(tier).startswith("fused"):
        from ..lava_procs.fused import FusedPopulation
        fused = FusedPopulation(**fused_params(pl, v_init, tier, record), box=box)
        return fused, fused, cfg

    from lava.proc.sparse.process import Sparse
    from lava.utils.weightutils import SignMode

    from ..lava_procs.lif import BiasLIF
    lif = BiasLIF(shape=(n,), u=0, v=v_init, du=pl.du, dv=pl.dv, vth=pl.vth, bias_mant=0,
                  bias_exp=pl.bias_exp, record=record)
    if pl.precision == "fixed":
        syn = Sparse(weights=pl.W, num_message_bits=1, weight_exp=pl.w_exp, num_weight_bits=8,
                     sign_mode=SignMode.MIXED)
    else:
        syn = Sparse(weights=pl.W, num_message_bits=1)
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
def _warm_fused() -> None:
    """Once per worker, before the first fused graph: Lava forks its model processes from here, so they
    inherit the compiled kernels instead of loading them on their first control step."""
    from .lava_core import warm
    warm()


class Session:
    """One built graph: the runtime, its bridge's external channels, and K timesteps per control step."""

    def __init__(self, plan: LavaPlan, v0: np.ndarray, tier: str, record: bool = False,
                 box: Mailbox | None = None) -> None:
        if tier.startswith("fused"):
            _warm_fused()
        self.box = box
        self.live = box is not None and "mask" in box.names
        if self.live:
            if not tier.startswith("fused"):
                raise ValueError(f"only the fused tiers can load a new population into a built graph, not {tier!r}")
            BOXES[box.path] = box  # before Lava forks the model process, which finds it there
        self.running = False
        try:
            self._build(plan, v0, tier, record)
        except BaseException:
            try:
                self.stop()
            except Exception:
                pass
            raise

    def _build(self, plan: LavaPlan, v0: np.ndarray, tier: str, record: bool) -> None:
        from lava.magma.core.run_conditions import RunSteps
        self.proc, self.bridge, cfg = build(plan, v0, tier, record, self.box.path if self.live else None)
        # fused-k runs free (one long non-blocking run paced by host_in); the others run K steps per call
        self.free = tier == "fused-k"
        self.steps = RunSteps(num_steps=FREE_STEPS if self.free else plan.substeps, blocking=not self.free)
        self.proc.create_runtime(run_cfg=cfg)
        self.running = True
        self._send = self.bridge.host_in.external_pipe_csp_send_port
        self._recv = self.bridge.host_out.external_pipe_csp_recv_port
        self._halt = np.zeros(self.bridge.host_in.shape)
        self._halt[plan.size] = HALT  # the fused model stops reading host_in and idles
        self._load = np.zeros(self.bridge.host_in.shape)
        self._load[plan.size] = LOAD
        self.last: np.ndarray | None = None
        if self.free:
            self.proc.run(condition=self.steps)

    def step(self, msg: np.ndarray) -> np.ndarray:
        """Send [bias, active], run K timesteps, return the bridge's rows (2 + 3K*record, P*N)."""
        self._send.send(msg)
        if not self.free:
            self.proc.run(condition=self.steps)
        self.last = self._recv.recv()
        return self.last

    def load(self) -> None:
        """The population now in the mailbox replaces the graph's, before the next control step."""
        if not self.live:
            raise RuntimeError("this graph cannot load a new population (not a live fused graph)")
        self.last = None
        self._send.send(self._load)

    def _forget(self) -> None:
        if self.live:
            BOXES.pop(self.box.path, None)

    def stop(self) -> None:
        try:
            if self.running:
                self.running = False
                if self.free:
                    self._send.send(self._halt)
                self.proc.stop()
        finally:
            self._forget()


def open_loop(plan: LavaPlan, v0: np.ndarray, bias: np.ndarray, tier: str) -> np.ndarray:
    """Replay bias (T, P*N) with every member active; rows per control step, stacked."""
    s = Session(plan, v0, tier, record=True)
    try:
        active = np.ones(plan.population)
        return np.stack([s.step(np.concatenate([b, active])) for b in bias])
    finally:
        s.stop()
