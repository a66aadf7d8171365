"""ReplayLIF + ReplaySparse: Intel's stock LIF and Sparse models as a reusable replay graph (the verification
of the fast tiers, ec_neuro/host/verify.py; built by ec_neuro.backends.lava_graph.ReplayGraph).

Both models subclass Intel's (`PyLifModelBitAcc` / `PyLifModelFloat`, `PySparseModelBitAcc` /
`PySparseModelFloat`) and run the inherited `run_spk` unchanged every timestep.  What they add happens only
around it, through the shared-memory mailbox `box` that the worker mapped before Lava forked these processes
(`ec_neuro.backends.lava_core.BOXES`):
- when the mailbox's sequence number changes (a new replay), each loads its state and parameters from it:
  the LIF its u, v, du, dv, vth, bias_exp (and lets Intel's code rescale vth), Sparse its weights (rebuilt
  from the 0/1 mask, sign and w, then clipped and truncated by Intel's own first-step code, which it re-arms)
  and its one-timestep buffer a_buff (the synaptic input of the spikes in flight);
- every timestep the LIF takes the bias of control step t // K from the schedule before Intel's step and
  writes u, v and its spikes of timestep t after it.
So one graph, built once per worker, replays every generation's window without a rebuild, a host process or
a per-timestep host message.
"""
import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import PyLifModelBitAcc, PyLifModelFloat
from lava.proc.lif.process import LIF
from lava.proc.sparse.models import PySparseModelBitAcc, PySparseModelFloat
from lava.proc.sparse.process import Sparse

from ec_neuro.backends.lava_core import BOXES
from ec_neuro.compilers.lava import block_weights

CONSTS = ("du", "dv", "vth", "bias_exp", "n_exc", "w")  # the mailbox's `consts` row


class ReplayLIF(LIF):
    """LIF replaying `box`'s bias schedule (one row per control step of `substeps` timesteps), recording u, v
    and its spikes into `box` (one row per timestep of the replay)."""

    def __init__(self, *, shape, box, substeps, **kwargs):
        super().__init__(shape=shape, box=box, substeps=substeps, **kwargs)


class ReplaySparse(Sparse):
    """Sparse whose weights and buffer are reloaded from `box` at the start of each replay."""

    def __init__(self, *, weights, box, population, n_neurons, precision, **kwargs):
        super().__init__(weights=weights, box=box, population=population, n_neurons=n_neurons,
                         precision=precision, **kwargs)


class _ReplayLifMixin:
    fixed = True

    def run_spk(self):
        box = BOXES[self.proc_params["box"]]
        if box.seq[0] != getattr(self, "_seq", -1):  # a new replay: state and constants from the mailbox
            self._seq, self._t0 = int(box.seq[0]), self.time_step
            c = dict(zip(CONSTS, box.consts))
            self.u[:] = box.u0
            self.v[:] = box.v0
            num = int if self.fixed else float
            self.du, self.dv, self.vth = num(c["du"]), num(c["dv"]), num(c["vth"])
            if self.fixed:
                self.bias_exp[:] = int(c["bias_exp"])
                self.isthrscaled = False  # Intel's code shifts the new vth on this step
        t = self.time_step - self._t0
        self.bias_mant[:] = box.bias[t // self.proc_params["substeps"]]
        super().run_spk()
        box.u[t] = self.u
        box.v[t] = self.v
        box.z[t] = self.s_out_buff


@implements(proc=ReplayLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyReplayLifFixed(_ReplayLifMixin, PyLifModelBitAcc):
    """Bit-accurate Loihi-2 LIF (Intel's PyLifModelBitAcc) replaying a bias schedule."""

    implements_process = None  # re-targeted by @implements (Lava refuses to override otherwise)
    tags = []


@implements(proc=ReplayLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyReplayLifFloat(_ReplayLifMixin, PyLifModelFloat):
    """Float LIF (Intel's PyLifModelFloat) replaying a bias schedule."""

    implements_process = None
    tags = []
    fixed = False


class _ReplaySparseMixin:
    def run_spk(self):
        box = BOXES[self.proc_params["box"]]
        if box.seq[0] != getattr(self, "_seq", -1):
            self._seq = int(box.seq[0])
            c = dict(zip(CONSTS, box.consts))
            P, N = self.proc_params["population"], self.proc_params["n_neurons"]
            self.weights = block_weights(box.mask.reshape(P, N, N), int(c["n_exc"]), c["w"],
                                         self.proc_params["precision"])
            self.weights_set = False  # fixed: Intel's run_spk clips and truncates them on this step
            self.a_buff = box.a_seed.astype(np.int32 if self.proc_params["precision"] == "fixed" else float)
        super().run_spk()


@implements(proc=ReplaySparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyReplaySparseFixed(_ReplaySparseMixin, PySparseModelBitAcc):
    """Intel's bit-accurate Sparse, its weights and buffer reloaded per replay."""

    implements_process = None
    tags = []


@implements(proc=ReplaySparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyReplaySparseFloat(_ReplaySparseMixin, PySparseModelFloat):
    """Intel's float Sparse, its weights and buffer reloaded per replay."""

    implements_process = None
    tags = []
