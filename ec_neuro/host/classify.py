"""Classification on the host: a generation's slots on a mini-batch, or a network on a whole split.

Slots follow host/rollout.py (k < population.size: member k; k >= size: the deterministic network). Every member
sees the same mini-batch of generation g, `task.batch(seed, g)` (common random numbers), and its fitness is
`task.score(logits)`: -mean cross-entropy (or the batch accuracy), with the batch accuracy beside it. The
deterministic slots score on a fixed validation sample instead (task.det_rows()): the run's headline, its best.npz
and a target (target_return: a validation accuracy) are then decided on held-out data.

E/I network (ei-rsnn), on any backend through the normal closed loop (`backend.rollout`): copies = slots x B,
copy (k, b) the network of slot k on sample b, state reset per sample (v0 = 0), one control step per time bin:

    bias[k, b, t] = dv * R_in * T_in[k]^T x[b, t]        x = counts * scale * sqrt(D) (unit rms per feature, the
                                                        scale R_in is normalised for), T_in = W_in[:D] - W_in[D:]
    logits[k, b] = logit_gain * R_out * W_out[k]^T mean_t r[k, b, t]     (output "readout", unclipped)
                 = logit_gain * R_out * W_out[k]^T (sign * spike counts) / (T * K * dt)      (output "counts")

The input sum is over integer counts (exact in float64, so the same whatever the summation order), and the
host computes bias and logits for every backend: backends differ only in their substeps.
A network of real weights supplies `spec.classify` ("module:function"), called as
classify(spec, pop, slots, frames (B, T, D) float32) -> (logits (S, B, C) float64, spikes (S,) float64).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .. import memory, registry
from ..compilers.common import Lowered, lower
from ..compilers.quant import quantize_bias
from ..errors import UserError
from . import verify
from .rollout import EvalRequest, EvalResult

CHUNK = 256  # samples per call when a whole split is evaluated


def is_classify(task: Any) -> bool:
    """Whether `task` is a classification task (tasks/events/classify.py's interface)."""
    return getattr(task, "kind", None) == "classify"


class ClassifyLoop:
    """The ControlLoop of a batch: per-bin bias in, readout accumulated into logits; `record` as TaskLoop's."""

    def __init__(self, low: Lowered, bias: np.ndarray, W_out: np.ndarray, B: int,
                 record: np.ndarray | None = None) -> None:
        self.low, self.bias, self.B = low, bias, B     # bias (T, S*B, N)
        self.W_out = W_out.astype(np.float64)          # (S, N, C)
        T, P, _ = bias.shape
        self.T = T
        self.active = np.ones(P, bool)
        self.readout = np.zeros((P, W_out.shape[-1]))  # sum over bins of W_out^T r
        self.t = 0
        self.record = None if record is None or not len(record) else np.asarray(record)
        self._rec: dict[str, list[np.ndarray]] = {"bias": [], "active": [], "r": []}

    def _out(self) -> np.ndarray:
        if self.record is not None:
            self._rec["bias"].append(self.bias[self.t][self.record].copy())
            self._rec["active"].append(self.active[self.record].copy())
        return self.bias[self.t]

    def start(self) -> np.ndarray:
        return self._out()

    def step(self, r: np.ndarray) -> np.ndarray | None:
        if self.record is not None:
            self._rec["r"].append(np.array(r[self.record], dtype=np.float64))
        S, B = self.W_out.shape[0], self.B
        rr = np.asarray(r, np.float64).reshape(S, B, -1)
        for k in range(S):  # one product per slot: the same shapes whatever the worker count
            self.readout[k * B:(k + 1) * B] += rr[k] @ self.W_out[k]
        self.t += 1
        if self.t >= self.T:
            self.active[:] = False
            return None
        return self._out()

    def recorded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The recorded copies' control steps: bias (T, M, N), active (T, M), readout r (T, M, N)."""
        T = len(self._rec["r"])
        return (np.array(self._rec["bias"][:T]), np.array(self._rec["active"][:T], dtype=bool),
                np.array(self._rec["r"]))


def _bias(low: Lowered, W_in: np.ndarray, counts: np.ndarray, x_scale: float) -> tuple[np.ndarray, int]:
    """Bias (T, S*B, N) of slots' input masks W_in (S, 2D, N) on counts (B, T, D); and the saturated count."""
    S, B, (T, D) = W_in.shape[0], counts.shape[0], counts.shape[1:]
    X = counts.reshape(B * T, D).astype(np.float64)
    c = x_scale * low.spec.R_in * low.flt.dv
    out = np.empty((T, S, B, low.spec.n_neurons))
    for k in range(S):
        Tk = W_in[k, :D].astype(np.float64) - W_in[k, D:].astype(np.float64)
        out[:, k] = (X @ Tk).reshape(B, T, -1).transpose(1, 0, 2) * c   # integer sums, exact
    out = out.reshape(T, S * B, -1)
    if low.fixed is None:
        return out, 0
    ints, sat = quantize_bias(low.fixed, out)
    return ints, sat


def ei_logits(spec: Any, pop: Any, slots: np.ndarray, precision: str, backend: Any, task: Any, counts: np.ndarray,
              plan: verify.VerifyPlan | None = None) -> tuple[np.ndarray, np.ndarray, int, list[dict[str, Any]]]:
    """The E/I network of each slot on counts (B, T, D): logits (S, B, C), spike rate (S,) (spikes per neuron
    per substep), saturated biases, verification reports (when `plan` names slots of this request)."""
    slots = np.asarray(slots)
    S, B, T = len(slots), counts.shape[0], counts.shape[1]
    N = spec.n_neurons
    memory.require(memory.PROCESS_BYTES + S * B * (N * N + N * spec.n_act + 8 * T * N) +
                   memory.backend_bytes(getattr(backend, "name", "numpy"), N, S * B, N * N),
                   f"{S} networks x a mini-batch of {B} samples ({S * B} copies of {N} neurons)",
                   "Use a smaller --population, task_options.batch_size or network.n_neurons")
    masks = pop.masks(spec, slots)
    low1 = lower(spec, masks, precision)
    checked = verify.local_slots(plan, slots, backend)
    record = None if checked is None else checked * B  # each checked slot's first sample
    rep = lambda a: np.ascontiguousarray(np.repeat(a, B, axis=0))  # noqa: E731  (slot k's copies side by side)
    # T_in is not used in closed loop (the host encodes); it is repeated only for a verification replay
    low = dataclasses.replace(low1, T_in=rep(low1.T_in) if record is not None else low1.T_in,
                              W_h=rep(low1.W_h), W_out=rep(low1.W_out))
    bias, sat = _bias(low, masks.W_in, counts, task.scale * np.sqrt(task.n_obs))
    program = backend.compile(low)
    loop = ClassifyLoop(low, bias, masks.W_out, B, record)
    v0 = np.zeros((S * B, spec.n_neurons))
    spikes = np.asarray(backend.rollout(program, loop, v0), np.float64)
    verified = verify.run(backend, program, loop, v0, EvalRequestView(slots, plan), record,
                          np.repeat(slots, B)) if record is not None else []
    K = spec.neuron.substeps
    if task.output == "counts":
        sign = np.where(np.arange(spec.n_neurons) < spec.n_exc, 1.0, -1.0)
        sc = (spikes * sign).reshape(S, B, -1)
        out = np.stack([sc[k] @ masks.W_out[k].astype(np.float64) for k in range(S)]) / (T * K * spec.neuron.dt)
    else:
        out = loop.readout.reshape(S, B, -1) / T
    logits = out * (spec.R_out * task.logit_gain)
    rate = spikes.reshape(S, B, -1).sum(axis=(1, 2)) / (B * T * K * spec.n_neurons)
    return logits, rate, sat, verified


@dataclasses.dataclass(frozen=True)
class EvalRequestView:
    """What verify.run reads of a request."""

    slots: np.ndarray
    verify: verify.VerifyPlan | None


def slot_logits(req: EvalRequest, spec: Any, task: Any, backend: Any, counts: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, int, list[dict[str, Any]]]:
    """Logits (S, B, C), spike rate (S,), saturated biases and verification reports of the request's slots."""
    pop, slots = req.population, np.asarray(req.slots)
    fn = getattr(spec, "classify", None)
    if fn:
        frames = (counts * np.float32(task.scale)).astype(np.float32)
        logits, spikes = registry.load(fn, f"network {spec.kind!r} classifier")(spec, pop, slots, frames)
        units = getattr(spec, "hidden", None) or getattr(spec, "n_neurons", 1)  # total spikes -> per unit per bin
        rate = np.asarray(spikes, np.float64) / (frames.shape[0] * frames.shape[1] * units)
        return np.asarray(logits, np.float64), rate, 0, []
    if getattr(spec, "forward", None):
        raise UserError(f"network {spec.kind!r} has no classifier (spec.classify); it cannot run a classification "
                        "task", "network")
    return ei_logits(spec, pop, slots, req.precision, backend, task, counts, req.verify)


def run_classify(req: EvalRequest, spec: Any, task: Any, backend: Any) -> EvalResult:
    """Evaluate the request's slots: members on the generation's mini-batch, deterministic slots on the task's
    fixed validation sample (`task.det_rows()`, so best.npz and a target are chosen on held-out data);
    fitness (S,) and extra["accuracy"] (S,)."""
    pop, slots = req.population, np.asarray(req.slots)
    S, n = len(slots), task.n_obs
    fitness, acc, rate = np.full(S, np.nan), np.zeros(S), np.zeros(S)
    length, sat, verified = np.zeros(S, np.int64), 0, []
    member = slots < pop.size
    if member.any():
        counts, labels = task.batch_counts(pop.seed, pop.generation)
        logits, rate[member], sat, verified = slot_logits(dataclasses.replace(req, slots=slots[member]), spec, task,
                                                          backend, counts)
        fitness[member], acc[member] = task.score(logits, labels)
        length[member] = counts.shape[0] * counts.shape[1]
    if (~member).any():
        counts, labels = task.split_counts("val")
        rows = task.det_rows()
        counts, labels = counts[rows], labels[rows]
        sub = dataclasses.replace(req, slots=slots[~member])
        parts = []
        for i in range(0, len(labels), CHUNK):
            lg, r, s, v = slot_logits(sub if i == 0 else dataclasses.replace(sub, verify=None), spec, task, backend,
                                      counts[i:i + CHUNK])
            parts.append(lg)
            rate[~member] += r * len(lg[0]) / max(len(labels), 1)
            sat, verified = sat + s, verified + v
        if parts:
            fitness[~member], acc[~member] = task.score(np.concatenate(parts, axis=1), labels)
        length[~member] = len(labels) * task.n_bins
    return EvalResult(fitness, length, rate, np.zeros(S), np.zeros((S, n)), np.zeros((S, n)), {"accuracy": acc},
                      sat, verified)


def predict(req: EvalRequest, spec: Any, task: Any, backend: Any, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Logits (S, n, C) of the request's slots on a whole split, in chunks of CHUNK samples; and its labels."""
    counts, labels = task.split_counts(split)
    parts = [slot_logits(dataclasses.replace(req, verify=None), spec, task, backend, counts[i:i + CHUNK])[0]
             for i in range(0, len(labels), CHUNK)]
    if not parts:
        return np.zeros((len(req.slots), 0, task.n_classes)), labels
    return np.concatenate(parts, axis=1), labels


def confusion(pred: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrix (n_classes, n_classes) int64: row = true class, column = predicted."""
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (labels, pred), 1)
    return m
