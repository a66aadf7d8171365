"""The fused Lava tiers' arithmetic without Lava: the readout state of the host bridge and the fused population.

`BridgeState` folds spikes into the signed readout r and the spike counts exactly as the stock tier's
HostBridge does; `FusedCore` is BiasLIF + Sparse + HostBridge in one object, one substep (`substep`) or one
control step (`control_step`) per call, with the numpy backend's kernels.  The Lava process models in
`ec_neuro.lava_procs` only move data through their ports and call these; `warm` loads their kernels.

A live fused graph is reused across rollouts: the parent writes the next population into the graph's
mailbox (`write_load`: the 0/1 mask, v0 and every constant), the worker sends LOAD on host_in, and the fused
model rebuilds its FusedCore from the mailbox (`read_load`) before the next control step.  The worker maps
the mailbox before Lava forks the model process, which finds it in `BOXES` (inherited through the fork).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..compilers.common import lower
from ..compilers.lava import fused_params, plan
from ..groups import running
from ..spec import NetworkSpec
from .mailbox import Mailbox, Region
from .numpy import kernels, substep

# FusedCore's parameters (what compilers.lava.fused_params returns)
PARAMS = ("mask", "w", "n_exc", "v", "du", "dv", "vth", "bias_exp", "w_exp", "fixed", "block", "population",
          "n_neurons", "sign", "substeps", "a_out", "c_out", "record")
LOADED = ("w", "n_exc", "du", "dv", "vth", "bias_exp", "w_exp", "a_out", "c_out")  # constants sent with each load
HALT, LOAD = -1.0, -2.0  # host_in control codes, in the first active flag
BELL_STEP, BELL_LOAD, BELL_HALT = b"S", b"L", b"H"  # a direct graph's doorbell (mailbox.py): host -> Lava process
BELL_DONE, BELL_FAILED = b"D", b"F"  # and its answers
FAILED = -1.0  # host_out: the fused model's answer when it raised (first spike count; counts are never negative)
BOXES: dict[str, Mailbox] = {}  # worker: the mailbox of each live graph, by path (its forks inherit them)


def session_regions(tier: str, reuse: bool, population: int, n_neurons: int) -> tuple[Region, ...]:
    """The extra mailbox regions of a rollout's graph: a live fused graph's next population (mask (P*N*N) uint8,
    v0 (P*N), constants); a direct (fused-k) graph's spike counts (P*N) int64 (its r is the outbox); and the
    fused model's traceback when it fails."""
    n = population * n_neurons
    out: tuple[Region, ...] = ()
    if reuse:
        out += (("mask", "u1", n * n_neurons), ("v0", "f8", n), ("consts", "f8", len(LOADED)))
    if tier == "fused-k":
        out += (("counts", "i8", n), ("pid", "i8", 1))  # pid: the direct graph's Lava process, for `running`
    if tier.startswith("fused"):
        out += (("error", "u1", 8192),)
    return out


def replay_regions(steps: int, substeps: int, n: int) -> tuple:
    """A stock replay's mailbox regions (lava_graph.ReplayGraph): bias (steps, n) in, u, v, z (steps * substeps, n) out."""
    return (("bias", "f8", (steps, n)), ("u", "f8", (steps * substeps, n)), ("v", "f8", (steps * substeps, n)),
            ("z", "f8", (steps * substeps, n)))


def write_load(box: Mailbox, pl, v0: np.ndarray) -> None:
    """Parent: put plan `pl`'s population (mask, constants) and its initial v into a live graph's mailbox."""
    box.mask[:] = pl.W_h.reshape(-1)
    box.v0[:] = np.asarray(v0).reshape(-1)
    box.consts[:] = [float(getattr(pl, k)) for k in LOADED]


def read_load(box: Mailbox, pp) -> dict:
    """Fused model: FusedCore parameters for the population in `box` (copies; the box is rewritten later)."""
    P, N = pp["population"], pp["n_neurons"]
    out = {k: pp[k] for k in PARAMS}
    out.update(mask=box.mask.reshape(P, N, N).copy(), v=box.v0.copy())
    ints = ("n_exc", "bias_exp", "w_exp") + (("w", "du", "dv", "vth") if pp["fixed"] else ())
    for k, val in zip(LOADED, box.consts):
        out[k] = int(val) if k in ints else float(val)
    out["sign"] = np.tile(np.where(np.arange(N) < out["n_exc"], 1.0, -1.0), P)
    return out


def fused_failure(box: Mailbox | None) -> RuntimeError:
    """The error for a fused Lava process that answered FAILED, with its traceback from the mailbox."""
    text = ""
    if box is not None and "error" in box.names:
        text = bytes(box.error).rstrip(b"\0").decode(errors="replace")
    return RuntimeError("the fused Lava process failed" + (f":\n{text}" if text else " (its traceback is on stderr)"))


class LavaProcessDied(RuntimeError):
    """The direct graph's Lava process, or its worker, ended while the host waited for a control step."""


def direct_step(box: Mailbox, alive: Callable[[], bool]) -> None:
    """One control step of a direct graph, from the host: the message is in box.inbox; r and counts come back in
    box.outbox and box.counts.  alive: whether the worker still runs; it and the graph's Lava process (its pid in
    the mailbox) are checked while waiting, so that a death raises LavaProcessDied within a second."""
    box.ring(BELL_STEP)
    pid = int(box.pid[0])
    try:
        code = box.wait(lambda: alive() and (pid == 0 or running(pid)))
    except RuntimeError as e:
        raise LavaProcessDied(f"{e} (the fused-k Lava process {pid} "
                              f"{'is gone' if pid and not running(pid) else 'may still run'})") from None
    if code == BELL_FAILED:
        raise fused_failure(box)


def out_rows(substeps, record):
    """Rows of the host_out message."""
    return 2 + (3 * substeps if record else 0)


class BridgeState:
    """Readout state shared by the bridge and the fused model: r, counts, recordings (numpy only)."""

    def __init__(self, pp):
        self.P, self.N, self.K = pp["population"], pp["n_neurons"], pp["substeps"]
        self.n = self.P * self.N
        self.sign = np.asarray(pp["sign"], dtype=np.float64)
        self.a_out, self.c_out, self.record = pp["a_out"], pp["c_out"], pp["record"]
        self.bias = np.zeros(self.n)
        self.act = np.ones(self.n, dtype=bool)
        self.out = np.zeros((out_rows(self.K, self.record), self.n))
        r0 = pp.get("r0")
        if r0 is not None:
            self.out[0] = r0  # a replay that starts mid-episode
        self.r = self.out[0]
        self.counts = self.out[1]

    def take(self, msg):
        """Unpack one host message."""
        self.bias = msg[:self.n].copy()
        self.act = np.repeat(msg[self.n:] != 0, self.N)

    def observe(self, k, z, u=None, v=None):
        """Fold the spikes z (n,) of substep k into r and counts; record u, v, s when asked."""
        s = z * self.sign
        rr = self.r * self.a_out
        rr = rr + self.c_out * s
        np.copyto(self.r, rr, where=self.act)
        self.counts += np.where(self.act, z, 0)
        if self.record:
            K = self.K
            self.out[2 + k] = u
            self.out[2 + K + k] = v
            self.out[2 + 2 * K + k] = s


class FusedCore:
    """The fused model's state and arithmetic without Lava's ports (pp: FusedPopulation's parameters)."""

    def __init__(self, pp: dict, state: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """state (block K only): the arrays to keep r (P*N,) float64 and counts (P*N,) int64 in (zeroed here),
        e.g. a mailbox's outbox and counts, which the host then reads without any copy."""
        self.st = BridgeState(pp)
        self.fixed = pp["fixed"]
        dt = np.int64 if self.fixed else np.float64
        n, P, N = self.st.n, self.st.P, self.st.N
        mask = np.asarray(pp["mask"])
        if mask.shape != (P, N, N):
            raise ValueError(f"the fused tier's mask must be (P, N, N) = {(P, N, N)}, got {mask.shape}")
        self.mask = np.ascontiguousarray(mask, dtype=np.uint8)  # (P, pre, post) 0/1, C order (the kernels' layout)
        self.sign = np.asarray(pp["sign"][:N], dtype=np.int64)
        w = pp["w"]
        if self.fixed:
            # Intel's first-step weight handling: MIXED clip to [-256, 255], drop the LSB (8 bits), floor.
            self.w = int((min(int(w), 255) >> 1) << 1)
            self.decay_u, self.decay_v = 4096 - (int(pp["du"]) + 1), 4096 - int(pp["dv"])
            self.vth = int(pp["vth"]) << 6
        else:
            self.w = float(w)
            self.decay_u, self.decay_v, self.vth = 1 - pp["du"], 1 - pp["dv"], float(pp["vth"])
        self.w_exp, self.bias_exp = int(pp["w_exp"]), int(pp["bias_exp"])
        self.u = np.zeros(n, dt)
        self.v = np.asarray(pp["v"]).astype(dt)
        self.cnt = np.zeros(n, np.int64)
        self.a_buff = np.zeros(n, dt)
        self.z = np.zeros(n)
        self.bias = np.zeros(n, dt)
        self._lif = substep.lif_fixed if self.fixed else substep.lif_float
        self.block = int(pp["block"])
        self.k = 0  # substep within the control step
        if self.block > 1:
            self.n_exc = int(pp["n_exc"])
            self.U, self.V = self.u.reshape(P, N), self.v.reshape(P, N)
            if state is None:
                state = (np.zeros(n), np.zeros(n, np.int64))
            self.R, self.COUNTS = state[0].reshape(P, N), state[1].reshape(P, N)
            self.R[:], self.COUNTS[:] = 0.0, 0
            self.SPK = np.zeros((P, N), np.int32)
            K = self.st.K
            self.rec = ((np.zeros((K, P, N), dt), np.zeros((K, P, N), dt), np.zeros((K, P, N), np.int32))
                        if self.st.record else (np.zeros((0, 1, 1), dt), np.zeros((0, 1, 1), dt),
                                                np.zeros((0, 1, 1), np.int32)))

    def take(self, msg: np.ndarray) -> None:
        """Unpack one host message [bias (P*N), active (P)]."""
        st = self.st
        st.take(msg)
        if self.fixed:
            self.bias = st.bias.astype(np.int64) << self.bias_exp
        else:
            self.bias = st.bias

    def control_step(self, msg: np.ndarray, rows: bool = True) -> np.ndarray | None:
        """K substeps at once in ec_neuro.kernels (which keep r, counts frozen for inactive members); returns the
        bridge's rows (rows=False: None, r and counts only in their state arrays)."""
        st = self.st
        P, N, K, n = st.P, st.N, st.K, st.n
        active = msg[n:] != 0
        if self.fixed:  # the bias as the LIF adds it: bias_mant << bias_exp (what `take` computes, in one pass)
            bias = np.left_shift(msg[:n].astype(np.int64), self.bias_exp).reshape(P, N)
        else:
            bias = np.ascontiguousarray(msg[:n]).reshape(P, N)
        if self.fixed:
            kernels.run_fixed(self.mask, self.n_exc, active, bias, self.U, self.V, self.R, self.SPK, self.COUNTS,
                              K, self.decay_u, self.decay_v, self.vth, self.w, self.w_exp, st.a_out, st.c_out,
                              *self.rec)
        else:
            kernels.run_float(self.mask, self.n_exc, active, bias, self.U, self.V, self.R, self.SPK, self.COUNTS,
                              K, self.decay_u, self.decay_v, self.vth, self.w, st.a_out, st.c_out, *self.rec)
        if not rows:
            return None
        st.out[0] = self.R.reshape(-1)
        st.out[1] = self.COUNTS.reshape(-1)
        if st.record:
            for i in range(3):
                st.out[2 + i * K:2 + (i + 1) * K] = self.rec[i].reshape(K, -1)
        return st.out

    def substep(self, msg: np.ndarray | None) -> np.ndarray | None:
        """One substep (msg: the host message at substep 0, else None); the bridge rows after the K-th."""
        st = self.st
        k = self.k
        self.k = (k + 1) % st.K
        if k == 0:
            self.take(msg)
        self._lif(self.u, self.v, self.a_buff, self.bias, self.decay_u, self.decay_v, self.vth, self.z)
        substep.count(self.mask, self.sign, self.z, self.cnt)
        if self.fixed:
            e = self.w_exp
            acc = self.cnt * self.w
            self.a_buff = acc << e if e > 0 else acc >> -e
        else:
            self.a_buff = self.w * self.cnt
        st.observe(k, self.z, self.u, self.v)
        return st.out if k == st.K - 1 else None


def warm(spec: NetworkSpec | None = None, population: int = 1, precisions: tuple[str, ...] = ("fixed", "float"),
         tiers: tuple[str, ...] = ("fused", "fused-k")) -> None:
    """Compile (or load from numba's cache) the kernels the fused models of `tiers` call in `precisions`, here.

    Lava forks its model processes from the worker, so code compiled here is inherited: without this each new
    graph's first control step paid ~160 ms loading the kernels (measured, BENCHMARKS.md).  A tiny network
    (`spec`, default 4 neurons, all-zero masks) goes through the real lowering, so the argument types are the
    real ones; nothing else is compiled (a fresh clone's worker compiled 10 kernels in 15 s when it warmed
    every tier and precision and sampled its masks).  Only the serial kernels: a thread pool started here would
    not survive the fork."""
    from ..sample.masks import Masks
    spec = spec or NetworkSpec(n_obs=1, n_act=1, n_neurons=4)
    P, N = population, spec.n_neurons
    zeros = lambda *shape: np.zeros(shape, np.uint8)  # noqa: E731
    masks = Masks(zeros(P, spec.d_in, N), zeros(P, N, N), zeros(P, N, spec.n_act))
    for precision in precisions:
        pl = plan(lower(spec, masks, precision))
        msg = np.concatenate([np.zeros(pl.size), np.ones(P)])
        for tier in tiers:
            core = FusedCore(fused_params(pl, np.zeros(pl.size), tier, False))
            if core.block > 1:
                core.control_step(msg)
            else:
                for k in range(pl.substeps):
                    core.substep(msg if k == 0 else None)


def replay(pl, v0: np.ndarray, bias: np.ndarray, active: np.ndarray, starts: np.ndarray,
           stops: np.ndarray, tier: str = "fused-k") -> dict:
    """A fused tier's arithmetic (FusedCore, what its Lava process runs: `control_step` for fused-k, K calls of
    `substep` for fused) replaying recorded host messages of a population `pl`: bias (T, P*N) as the LIF takes
    it, active (T, P).

    Returns r (T, P, N) after every control step; for each member p its state before control step starts[p]
    (init: u, v, z = 0/1 spikes of the substep before, r; each (P, N)), and what it did over control steps
    [starts[p], stops[p]): u, v, s (one row per substep, lists of ((stop-start)*K, N)) and r ((stop-start, N))."""
    P, N, K = pl.population, pl.n_neurons, pl.substeps
    core = FusedCore(fused_params(pl, v0, tier, True))
    T = bias.shape[0]
    dt = core.u.dtype
    r = np.zeros((T, P, N))
    init = {"u": np.zeros((P, N), dt), "v": np.zeros((P, N), dt), "z": np.zeros((P, N), bool), "r": np.zeros((P, N))}
    rec: dict[str, list[list[np.ndarray]]] = {k: [[] for _ in range(P)] for k in ("u", "v", "s", "r")}
    rec_on = core.rec if core.block > 1 else None
    rec_off = (np.zeros((0, 1, 1), dt), np.zeros((0, 1, 1), dt), np.zeros((0, 1, 1), np.int32))
    for t in range(T):
        recording = bool(((starts <= t) & (t < stops)).any())  # record only inside some member's window
        core.st.record = recording
        if rec_on is not None:
            core.rec = rec_on if recording else rec_off
        for p in np.flatnonzero(starts == t):
            if core.block > 1:
                init["u"][p], init["v"][p], init["z"][p] = core.U[p], core.V[p], core.SPK[p] != 0
                init["r"][p] = core.R[p]
            else:
                sl = slice(p * N, (p + 1) * N)
                init["u"][p], init["v"][p], init["z"][p] = core.u[sl], core.v[sl], core.z[sl] != 0
                init["r"][p] = core.st.r[sl]
        msg = np.concatenate([bias[t], np.asarray(active[t], dtype=np.float64)])
        if core.block > 1:
            out = core.control_step(msg)
        else:
            for k in range(K):
                out = core.substep(msg if k == 0 else None)
        r[t] = out[0].reshape(P, N)
        for p in np.flatnonzero((starts <= t) & (t < stops)):
            for i, name in enumerate(("u", "v", "s")):
                rec[name][p].append(out[2 + i * K:2 + (i + 1) * K].reshape(K, P, N)[:, p].copy())
            rec["r"][p].append(r[t, p].copy())
    out_rec = {name: [np.concatenate(rows) if rows else np.zeros((0, N)) for rows in rec[name]]
               for name in ("u", "v", "s")}
    return {"r": r, "init": init, **out_rec, "r_window": [np.array(rows).reshape(-1, N) for rows in rec["r"]]}
