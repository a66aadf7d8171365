"""BiasLIF: Lava's stock LIF whose bias arrives on a port every timestep, with optional u/v probe ports.

The arithmetic is Intel's own (the models subclass `PyLifModelBitAcc` / `PyLifModelFloat` and only copy
the received bias into `bias_mant` before the inherited `run_spk`); so a closed loop can change the input
current of every neuron each control step without `Var.set()`.  Shapes: all ports (n,).
"""
import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import PyLifModelBitAcc, PyLifModelFloat
from lava.proc.lif.process import LIF


class BiasLIF(LIF):
    """LIF + bias_in (bias mantissa per neuron, read every step) + u_out/v_out (state after the step)."""

    def __init__(self, *, shape, record=False, **kwargs):
        super().__init__(shape=shape, record=record, **kwargs)
        self.bias_in = InPort(shape=shape)
        self.u_out = OutPort(shape=shape)
        self.v_out = OutPort(shape=shape)


class _ProbeMixin:
    """Shared run_spk: take the bias, run Intel's step, then publish u and v when recording."""

    def run_spk(self):
        self.bias_mant[:] = self.bias_in.recv()
        super().run_spk()
        if self.proc_params["record"]:
            self.u_out.send(self.u)
            self.v_out.send(self.v)


@implements(proc=BiasLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyBiasLifFixed(_ProbeMixin, PyLifModelBitAcc):
    """Bit-accurate Loihi-2 LIF (Intel's PyLifModelBitAcc) with a streamed 13-bit bias mantissa."""

    implements_process = None  # re-targeted to BiasLIF by @implements (Lava refuses to override otherwise)
    tags = []

    bias_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=13)
    u_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)


@implements(proc=BiasLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyBiasLifFloat(_ProbeMixin, PyLifModelFloat):
    """Float LIF (Intel's PyLifModelFloat) with a streamed float bias."""

    implements_process = None
    tags = []

    bias_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    u_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    v_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

