"""FusedPopulation: BiasLIF + Sparse + HostBridge of the stock tier in one Lava process.

Same arithmetic as Intel's PySparseModelBitAcc + PyLifModelBitAcc (fixed) or their float models, but one
process instead of three (Lava's cost is per process per timestep), and the synaptic sum is event driven:
only the rows of the neurons that spiked in the previous timestep are visited, one contiguous row of the
member's (N pre, N post) 0/1 mask each.  Every weight is sign(pre) * w (the compiler emits nothing else), so
the synaptic sum is w * (signed count): exact in both precisions (integers; float w is dyadic).
The one-timestep synaptic delay of Sparse is the `a_buff` carried between timesteps.

A live graph (`box`: the path of its mailbox in `lava_core.BOXES`) is reused across rollouts: a LOAD message
on host_in makes the model rebuild its state from the mailbox (mask, v0, constants) before the next control
step, without the graph ever stopping.

A direct graph (fused-k with a mailbox that has a doorbell, `direct=True`: every closed-loop rollout) talks
to the host itself, as Lava's I/O processes talk to a file or a sensor from their run_spk: each Lava timestep
it waits for the host's ring (STEP, LOAD or HALT) on the mailbox's doorbell, reads the host message [bias
(P*N), active (P)] from the mailbox's inbox, keeps its readout r and spike counts in the mailbox (outbox,
counts), where the host reads them, and answers DONE (or FAILED).  Per control step: one hop each way and no
array copied through channels (~390 kB at 64 x 256); its host ports (1,) stay unused.
"""
from __future__ import annotations

import os
import sys
import traceback

import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from ec_neuro.backends.lava_core import (BELL_DONE, BELL_FAILED, BELL_HALT, BELL_LOAD, BELL_STEP, BOXES, FAILED,
                                         HALT, LOAD, FusedCore, out_rows, read_load)


class FusedPopulation(AbstractProcess):
    """The whole population in one process; host_in/host_out as HostBridge's.

    block: substeps per Lava timestep, 1 (Loihi timing, as the stock tier; this module's own numba code) or K
    (a whole control step per timestep, so Lava's per-timestep synchronisation is paid once per control step;
    the K substeps run in ec_neuro.kernels, the numpy backend's parallel numba kernels).
    """

    def __init__(self, *, mask, w, n_exc, v, du, dv, vth, bias_exp, w_exp, fixed, population, n_neurons,
                 substeps, block=1, record=False, box=None, direct=False, **kwargs):
        n = population * n_neurons
        if block not in (1, substeps):
            raise ValueError(f"block must be 1 or substeps={substeps}, got {block}")
        if direct and (box is None or block == 1 or record):
            raise ValueError("a direct graph needs a mailbox, a whole control step per timestep and no recording")
        super().__init__(mask=mask, w=w, n_exc=n_exc, v=v, du=du, dv=dv, vth=vth, bias_exp=bias_exp, w_exp=w_exp,
                         fixed=fixed, population=population, n_neurons=n_neurons, substeps=substeps, block=block,
                         record=record, box=box, direct=direct, **kwargs)
        self.host_in = InPort(shape=(1,) if direct else (n + population,))
        self.host_in.flag_external_pipe(buffer_size=2)
        self.host_out = OutPort(shape=(1,) if direct else (out_rows(substeps, record), n))
        self.host_out.flag_external_pipe(buffer_size=2)


@implements(proc=FusedPopulation, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "floating_pt")
class PyFusedPopulation(PyLoihiProcessModel):
    """Per Lava timestep: one substep (block 1) or one control step (block K) of FusedCore; host I/O every
    control step.  A free-running session ends with a HALT message (first active flag -1): from then on the
    model idles, so that the runtime can stop it between timesteps.  LOAD (-2) swaps in the population
    waiting in the mailbox.  An exception is answered, not raised (a free-running graph would otherwise leave
    the worker waiting for an answer forever): an answer whose first count is FAILED, the traceback in the
    mailbox's `error` region (and on stderr); the model then idles."""

    host_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    host_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        key = proc_params.get("box")
        self.box = BOXES[key] if key else None
        self.direct = bool(proc_params.get("direct", False))
        self.code = proc_params["population"] * proc_params["n_neurons"]  # where host_in carries its code
        self.core = self._core(proc_params)
        self.halted = False
        if self.direct:
            self.box.pid[0] = os.getpid()  # so that the host notices if this process dies (lava_core.direct_step)

    def _core(self, pp):
        """A FusedCore; a direct graph's keeps r and counts in the mailbox."""
        return FusedCore(pp, (self.box.outbox, self.box.counts) if self.direct else None)

    def _ring(self):
        """A direct graph: the host's next ring, after the LOADs that precede it."""
        code = self.box.take()
        while code == BELL_LOAD:
            self.core = self._core(read_load(self.box, self.proc_params))
            code = self.box.take()
        if code not in (BELL_STEP, BELL_HALT):
            raise ValueError(f"unknown doorbell code {code!r} (expected {BELL_STEP!r}, {BELL_LOAD!r} or {BELL_HALT!r})")
        return code

    def _recv(self):
        """The next host message, after the LOADs that precede it."""
        msg = self.host_in.recv()
        while msg[self.code] == LOAD:
            self.core = self._core(read_load(self.box, self.proc_params))
            msg = self.host_in.recv()
        return msg

    def run_spk(self):
        if self.halted:
            return
        try:
            self._step()
        except Exception:
            self.halted = True
            text = traceback.format_exc()
            print(f"ec_neuro fused Lava process failed:\n{text}", file=sys.stderr, flush=True)
            if self.box is not None and "error" in self.box.names:
                raw = text.encode()[-self.box.error.size + 1:]
                self.box.error[:] = 0
                self.box.error[:len(raw)] = np.frombuffer(raw, np.uint8)
            if self.direct:
                self.box.answer(BELL_FAILED)
                return
            out = np.zeros(self.host_out.shape)
            out[1, 0] = FAILED
            self.host_out.send(out)

    def _step(self):
        if self.direct:
            if self._ring() == BELL_HALT:
                self.halted = True
                return
            self.core.control_step(self.box.inbox, rows=False)
            self.box.answer(BELL_DONE)
            return
        if self.core.block > 1:
            msg = self._recv()
            if msg[self.code] == HALT:
                self.halted = True
                return
            self.host_out.send(self.core.control_step(msg))
            return
        msg = self._recv() if self.core.k == 0 else None
        if msg is not None and msg[self.code] == HALT:
            self.halted = True
            return
        out = self.core.substep(msg)
        if out is not None:
            self.host_out.send(out)
