"""HostBridge: the only place where the host meets the running graph, once per control step.
(r0: the readout to start from, for a replay that starts mid-episode; zeros by default.)

Every K timesteps it takes one message from the host through an external channel,
    host_in  (P*N + P,) float64 = [bias (P*N) as the LIF takes it, active (P) as 0/1],
drives `bias_out` (P*N,) with that bias for the next K steps, turns the LIF spikes z into the signed
readout of the active members,
    r <- r * a_out;  r <- r + c_out * s,   s = +z (excitatory) / -z (inhibitory),
counts their spikes, and after the K-th step answers through another external channel with
    host_out (2 + 3K*record, P*N) float64 = [r, counts, u (K rows), v (K rows), s (K rows)].
"""
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from ec_neuro.backends.lava_core import BridgeState, out_rows


class HostBridge(AbstractProcess):
    """Streams bias in and readout out; sign: (P*N,) +1/-1 presynaptic sign of every neuron."""

    def __init__(self, *, population, n_neurons, sign, substeps, a_out, c_out, record=False, r0=None, **kwargs):
        n = population * n_neurons
        super().__init__(population=population, n_neurons=n_neurons, sign=sign, substeps=substeps,
                         a_out=a_out, c_out=c_out, record=record, r0=r0, **kwargs)
        self.host_in = InPort(shape=(n + population,))
        self.host_in.flag_external_pipe(buffer_size=2)
        self.host_out = OutPort(shape=(out_rows(substeps, record), n))
        self.host_out.flag_external_pipe(buffer_size=2)
        self.bias_out = OutPort(shape=(n,))
        self.s_in = InPort(shape=(n,))
        self.u_in = InPort(shape=(n,))
        self.v_in = InPort(shape=(n,))


@implements(proc=HostBridge, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "floating_pt")
class PyHostBridge(PyLoihiProcessModel):
    """One model for both precisions: the host sends the bias already in the LIF's units."""

    host_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    host_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    bias_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    u_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    v_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.st = BridgeState(proc_params)

    def run_spk(self):
        st = self.st
        k = (self.time_step - 1) % st.K
        if k == 0:
            st.take(self.host_in.recv())
        self.bias_out.send(st.bias)
        z = self.s_in.recv()
        if st.record:
            st.observe(k, z, self.u_in.recv(), self.v_in.recv())
        else:
            st.observe(k, z)
        if k == st.K - 1:
            self.host_out.send(st.out)
