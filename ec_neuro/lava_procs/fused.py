"""FusedPopulation: BiasLIF + Sparse + HostBridge of the stock tier in one Lava process.

Same arithmetic as Intel's PySparseModelBitAcc + PyLifModelBitAcc (fixed) or their float models, but one
process instead of three (Lava's cost is per process per timestep), and the synaptic sum is event driven:
only the rows of the neurons that spiked in the previous timestep are visited, one contiguous row of the
member's (N pre, N post) 0/1 block of the block-diagonal W (n, n) [post, pre] each.  Every weight of W is
sign(pre) * w (the compiler emits nothing else; checked here), so the synaptic sum is w * (signed count):
exact in both precisions (integers; float w is dyadic).
The one-timestep synaptic delay of Sparse is the `a_buff` carried between timesteps.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from numba import njit

from ec_neuro import kernels
from ec_neuro.compilers.common import lower
from ec_neuro.compilers.lava import fused_params, host_bias, plan
from ec_neuro.connectivity import random_masks
from ec_neuro.lava_procs.bridge import BridgeState, out_rows
from ec_neuro.spec import NetworkSpec


class FusedPopulation(AbstractProcess):
    """The whole population in one process; host_in/host_out as HostBridge's.

    block: substeps per Lava timestep, 1 (Loihi timing, as the stock tier; this module's own numba code) or K
    (a whole control step per timestep, so Lava's per-timestep synchronisation is paid once per control step;
    the K substeps run in ec_neuro.kernels, the numpy backend's parallel numba kernels).
    """

    def __init__(self, *, W, v, du, dv, vth, bias_exp, w_exp, fixed, population, n_neurons, substeps,
                 block=1, record=False, **kwargs):
        n = population * n_neurons
        if block not in (1, substeps):
            raise ValueError(f"block must be 1 or substeps={substeps}, got {block}")
        super().__init__(W=W, v=v, du=du, dv=dv, vth=vth, bias_exp=bias_exp, w_exp=w_exp, fixed=fixed,
                         population=population, n_neurons=n_neurons, substeps=substeps, block=block,
                         record=record, **kwargs)
        self.host_in = InPort(shape=(n + population,))
        self.host_in.flag_external_pipe(buffer_size=2)
        self.host_out = OutPort(shape=(out_rows(substeps, record), n))
        self.host_out.flag_external_pipe(buffer_size=2)


@njit(cache=True, nogil=True)
def _count(mask, sign, z, cnt):
    """cnt[p*N + post] = sum over spiking pre of sign[pre] * mask[p, pre, post] (rows of spiking neurons only)."""
    P, N, _ = mask.shape
    local = np.zeros(N, np.int64)
    for p in range(P):
        off = p * N
        local[:] = 0
        for pre in range(N):
            if z[off + pre] != 0.0:
                s = sign[pre]
                row = mask[p, pre]
                for post in range(N):
                    local[post] += s * row[post]
        cnt[off:off + N] = local


@njit(inline="always")
def _fire(j, uu, vv, vth, u, v, z):
    """Store neuron j's new u and v; spike if v > vth, then reset v to 0."""
    u[j] = uu
    spike = vv > vth
    z[j] = 1.0 if spike else 0.0
    v[j] = 0 if spike else vv


@njit(cache=True, nogil=True)
def _lif_fixed(u, v, a_in, bias, decay_u, decay_v, vth, z):
    """PyLifModelBitAcc: trunc0 decays, a_in << 6, 24-bit wrap of u, clip of v, spike v > vth << 6, reset."""
    umax = 1 << 23
    for j in range(u.shape[0]):
        du = u[j] * decay_u
        du = du >> 12 if du >= 0 else -((-du) >> 12)
        uu = du + (a_in[j] << 6)
        if uu > umax:
            uu -= 2 * umax
        elif uu <= -umax:
            uu += 2 * umax
        dv = v[j] * decay_v
        dv = dv >> 12 if dv >= 0 else -((-dv) >> 12)
        vv = min(max(dv + uu + bias[j], -umax + 1), umax - 1)
        _fire(j, uu, vv, vth, u, v, z)


@njit(cache=True, nogil=True)
def _lif_float(u, v, a_in, bias, decay_u, decay_v, vth, z):
    """PyLifModelFloat: u = u*(1-du) + a_in; v = v*(1-dv) + u + bias; spike v > vth; reset."""
    for j in range(u.shape[0]):
        uu = u[j] * decay_u
        uu = uu + a_in[j]
        vv = v[j] * decay_v + uu + bias[j]
        _fire(j, uu, vv, vth, u, v, z)


class FusedCore:
    """The fused model's state and arithmetic without Lava's ports (pp: FusedPopulation's parameters)."""

    def __init__(self, pp: dict) -> None:
        self.st = BridgeState(pp)
        W = pp["W"]
        self.fixed = pp["fixed"]
        dt = np.int64 if self.fixed else np.float64
        n, P, N = self.st.n, self.st.P, self.st.N
        mags = np.unique(np.abs(W.data))
        if len(mags) > 1:
            raise ValueError(f"the fused tier needs all weights to be +-w; got magnitudes {mags[:5]}")
        self.mask = np.stack([W[p * N:(p + 1) * N, p * N:(p + 1) * N].toarray().T != 0 for p in range(P)])
        self.mask = np.ascontiguousarray(self.mask, dtype=np.uint8)  # (P, pre, post); np.stack of .T is not C
        self.sign = np.asarray(pp["sign"][:N], dtype=np.int64)
        w = mags[0] if len(mags) else 0
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
        self._lif = _lif_fixed if self.fixed else _lif_float
        self.block = int(pp["block"])
        self.k = 0  # substep within the control step
        if self.block > 1:
            self.n_exc = int(np.count_nonzero(self.sign > 0))
            self.U, self.V = self.u.reshape(P, N), self.v.reshape(P, N)
            self.R = np.zeros((P, N))
            self.SPK = np.zeros((P, N), np.int32)
            self.COUNTS = np.zeros((P, N), np.int64)
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

    def control_step(self, msg: np.ndarray) -> np.ndarray:
        """K substeps at once in ec_neuro.kernels (which keep r, counts frozen for inactive members)."""
        st = self.st
        self.take(msg)
        P, N, K = st.P, st.N, st.K
        active = np.ascontiguousarray(msg[st.n:] != 0)
        bias = np.ascontiguousarray(self.bias.reshape(P, N))
        if self.fixed:
            kernels.run_fixed(self.mask, self.n_exc, active, bias, self.U, self.V, self.R, self.SPK, self.COUNTS,
                              K, self.decay_u, self.decay_v, self.vth, self.w, self.w_exp, st.a_out, st.c_out,
                              *self.rec)
        else:
            kernels.run_float(self.mask, self.n_exc, active, bias, self.U, self.V, self.R, self.SPK, self.COUNTS,
                              K, self.decay_u, self.decay_v, self.vth, self.w, st.a_out, st.c_out, *self.rec)
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
        _count(self.mask, self.sign, self.z, self.cnt)
        if self.fixed:
            e = self.w_exp
            acc = self.cnt * self.w
            self.a_buff = acc << e if e > 0 else acc >> -e
        else:
            self.a_buff = self.w * self.cnt
        st.observe(k, self.z, self.u, self.v)
        return st.out if k == st.K - 1 else None


def warm(spec: NetworkSpec | None = None, population: int = 1) -> None:
    """Compile (or load from numba's cache) every kernel the fused models call, in this process.

    Lava forks its model processes from the worker, so code compiled here is inherited: without this each new
    graph's first control step paid ~160 ms loading the kernels (measured, BENCHMARKS.md).  A tiny network
    (`spec`, default 4 neurons) goes through the real lowering, so the argument types are the real ones.  Only the serial kernels: a
    thread pool started here would not survive the fork."""
    spec = spec or NetworkSpec(n_obs=1, n_act=1, n_neurons=4)
    P = population
    for precision in ("fixed", "float"):
        low = lower(spec, random_masks(spec, P, 0), precision)
        pl = plan(low)
        msg = np.concatenate([host_bias(low, low.encode(np.ones((P, spec.n_obs)))), np.ones(P)])
        for tier in ("fused", "fused-k"):
            core = FusedCore(fused_params(pl, np.zeros(pl.size), tier, False))
            if core.block > 1:
                core.control_step(msg)
            else:
                for k in range(pl.substeps):
                    core.substep(msg if k == 0 else None)


@implements(proc=FusedPopulation, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "floating_pt")
class PyFusedPopulation(PyLoihiProcessModel):
    """Per Lava timestep: one substep (block 1) or one control step (block K) of FusedCore; host I/O every
    control step.  A free-running session ends with a HALT message (first active flag -1): from then on the
    model idles, so that the runtime can stop it between timesteps."""

    host_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    host_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.core = FusedCore(proc_params)
        self.halted = False

    def run_spk(self):
        core = self.core
        if core.block > 1:
            if self.halted:
                return
            msg = self.host_in.recv()
            if msg[core.st.n] < 0:
                self.halted = True
                return
            self.host_out.send(core.control_step(msg))
            return
        out = core.substep(self.host_in.recv() if core.k == 0 else None)
        if out is not None:
            self.host_out.send(out)
