"""BiasLIF: Lava's stock LIF whose bias arrives on a port every timestep, with optional u/v probe ports.
ReplayLIF: Lava's stock LIF replaying a recorded bias schedule and recording u, v and its spikes.

The arithmetic is Intel's own (the models subclass `PyLifModelBitAcc` / `PyLifModelFloat` and only copy
the received bias into `bias_mant` before the inherited `run_spk`); so a closed loop can change the input
current of every neuron each control step without `Var.set()`.  Shapes: all ports (n,).

ReplayLIF (the verification of the fast tiers, host/verify.py) takes the bias of control step t // K from, and
writes u, v and the spikes of timestep t into, the shared-memory mailbox `box` that the worker mapped before
Lava forked this process (`ec_neuro.backends.lava_core.BOXES`).  So a replay graph is Intel's two processes
(this LIF and Sparse) in one blocking run, with no host process and no per-timestep host message.
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

from ec_neuro.backends.lava_core import BOXES


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


class ReplayLIF(LIF):
    """LIF whose bias comes from `box`'s schedule (one row per control step of `substeps` timesteps) and whose
    u, v and spikes go to `box` (one row per timestep)."""

    def __init__(self, *, shape, box, substeps, **kwargs):
        super().__init__(shape=shape, box=box, substeps=substeps, **kwargs)


class _ReplayMixin:
    """Shared run_spk: the scheduled bias, Intel's step, then the record."""

    def run_spk(self):
        box = BOXES[self.proc_params["box"]]
        t = self.time_step - 1
        self.bias_mant[:] = box.bias[t // self.proc_params["substeps"]]
        super().run_spk()
        box.u[t] = self.u
        box.v[t] = self.v
        box.z[t] = self.s_out_buff


@implements(proc=ReplayLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyReplayLifFixed(_ReplayMixin, PyLifModelBitAcc):
    """Bit-accurate Loihi-2 LIF (Intel's PyLifModelBitAcc) replaying a bias schedule."""

    implements_process = None
    tags = []


@implements(proc=ReplayLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyReplayLifFloat(_ReplayMixin, PyLifModelFloat):
    """Float LIF (Intel's PyLifModelFloat) replaying a bias schedule."""

    implements_process = None
    tags = []
