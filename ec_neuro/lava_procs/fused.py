"""FusedPopulation: BiasLIF + Sparse + HostBridge of the stock tier in one Lava process.

Same arithmetic as Intel's PySparseModelBitAcc + PyLifModelBitAcc (fixed) or their float models, but one
process instead of three (Lava's cost is per process per timestep), and the synaptic sum is event driven:
only the columns of the neurons that spiked in the previous timestep are visited (CSC, W (n, n) [post, pre]).
The one-timestep synaptic delay of Sparse is the `a_buff` carried between timesteps.
"""
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

from ec_neuro.lava_procs.bridge import BridgeState, out_rows


class FusedPopulation(AbstractProcess):
    """The whole population in one process; host_in/host_out as HostBridge's."""

    def __init__(self, *, W, v, du, dv, vth, bias_exp, w_exp, fixed, population, n_neurons, substeps,
                 record=False, **kwargs):
        n = population * n_neurons
        super().__init__(W=W.tocsc(), v=v, du=du, dv=dv, vth=vth, bias_exp=bias_exp, w_exp=w_exp, fixed=fixed,
                         population=population, n_neurons=n_neurons, substeps=substeps, record=record, **kwargs)
        self.host_in = InPort(shape=(n + population,))
        self.host_in.flag_external_pipe(buffer_size=2)
        self.host_out = OutPort(shape=(out_rows(substeps, record), n))
        self.host_out.flag_external_pipe(buffer_size=2)


@njit(cache=True, nogil=True)
def _accumulate(indptr, indices, data, z, acc):
    """acc[post] = sum over spiking pre of W[post, pre] (CSC columns of the spiking neurons only)."""
    acc[:] = 0
    for pre in np.flatnonzero(z):
        for k in range(indptr[pre], indptr[pre + 1]):
            acc[indices[k]] += data[k]


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
        u[j] = uu
        if vv > vth:
            z[j] = 1.0
            vv = 0
        else:
            z[j] = 0.0
        v[j] = vv


@njit(cache=True, nogil=True)
def _lif_float(u, v, a_in, bias, decay_u, decay_v, vth, z):
    """PyLifModelFloat: u = u*(1-du) + a_in; v = v*(1-dv) + u + bias; spike v > vth; reset."""
    for j in range(u.shape[0]):
        uu = u[j] * decay_u
        uu = uu + a_in[j]
        vv = v[j] * decay_v + uu + bias[j]
        u[j] = uu
        if vv > vth:
            z[j] = 1.0
            vv = 0.0
        else:
            z[j] = 0.0
        v[j] = vv


@implements(proc=FusedPopulation, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "floating_pt")
class PyFusedPopulation(PyLoihiProcessModel):
    """Per timestep: a_in from last step's spikes, LIF update, readout; host I/O every K steps."""

    host_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    host_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        pp = proc_params
        self.st = BridgeState(pp)
        W = pp["W"]
        self.fixed = pp["fixed"]
        dt = np.int64 if self.fixed else np.float64
        self.indptr, self.indices = W.indptr.astype(np.int64), W.indices.astype(np.int64)
        n = self.st.n
        if self.fixed:
            # Intel's first-step weight handling: MIXED clip to [-256, 255], drop the LSB (8 bits), floor.
            self.data = (np.clip(W.data.astype(np.int64), -256, 255) >> 1) << 1
            self.decay_u, self.decay_v = 4096 - (int(pp["du"]) + 1), 4096 - int(pp["dv"])
            self.vth = int(pp["vth"]) << 6
        else:
            self.data = W.data.astype(np.float64)
            self.decay_u, self.decay_v, self.vth = 1 - pp["du"], 1 - pp["dv"], float(pp["vth"])
        self.w_exp, self.bias_exp = int(pp["w_exp"]), int(pp["bias_exp"])
        self.u = np.zeros(n, dt)
        self.v = np.asarray(pp["v"]).astype(dt)
        self.acc = np.zeros(n, dt)
        self.a_buff = np.zeros(n, dt)
        self.z = np.zeros(n)
        self.bias = np.zeros(n, dt)
        self._lif = _lif_fixed if self.fixed else _lif_float

    def _take(self, msg):
        st = self.st
        st.take(msg)
        if self.fixed:
            self.bias = st.bias.astype(np.int64) << self.bias_exp
        else:
            self.bias = st.bias

    def run_spk(self):
        st = self.st
        k = (self.time_step - 1) % st.K
        if k == 0:
            self._take(self.host_in.recv())
        a_in = self.a_buff
        self._lif(self.u, self.v, a_in, self.bias, self.decay_u, self.decay_v, self.vth, self.z)
        _accumulate(self.indptr, self.indices, self.data, self.z, self.acc)
        if self.fixed:
            e = self.w_exp
            self.a_buff = self.acc << e if e > 0 else self.acc >> -e
        else:
            self.a_buff = self.acc.copy()
        st.observe(k, self.z, self.u, self.v)
        if k == st.K - 1:
            self.host_out.send(st.out)
