"""One generation's evaluation work: slots -> members -> lowered program -> closed-loop episodes -> fitness.

A slot k < population.size is member k, regenerated from the Population handle (key (seed, generation, k));
a slot k >= size is a copy of the deterministic network on its own evaluation episode.  Each slot plays
`episodes` episodes at once (one network copy each; a classification task's mini-batch) and its fitness is
their mean.  Population members share their episode seeds (common random numbers); deterministic slots get
their own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import registry
from ..compilers.common import Lowered, lower
from ..sample.masks import initial_v
from ..strategies.base import Population
from ..tasks.resolve import TaskRef
from . import verify
from .normalizer import normalise, observe


def env_seed(seed: int, generation: int, det_slot: int = -1, episode: int = 0) -> int:
    """Seed of a slot's episode: shared by the population (det_slot = -1), distinct per deterministic slot and
    per episode of a slot."""
    key = [seed, generation, 7919, det_slot + 1] + ([episode] if episode else [])
    return int(np.random.SeedSequence(key).generate_state(1)[0] & 0x7FFFFFFF)


@dataclass(frozen=True)
class EvalRequest:
    """Everything a worker needs, small enough to send every generation (the population's center is the only
    long vector); `task` is built anywhere from its target and keyword arguments."""

    population: Population
    spec: dict[str, Any]
    task: TaskRef
    backend: str
    backend_options: dict[str, Any]
    precision: str
    obs_mean: np.ndarray
    obs_std: np.ndarray
    slots: np.ndarray  # slot indices this request covers
    episodes: int = 1  # episodes per slot, played at once
    verify: verify.VerifyPlan | None = None  # slots to check against the backend's reference tier (host/verify.py)


@dataclass
class EvalResult:
    """Per slot: fitness, episode length, spike rate (spikes per neuron per substep), obs sums; task extras."""

    fitness: np.ndarray
    length: np.ndarray
    spike_rate: np.ndarray
    obs_count: np.ndarray
    obs_sum: np.ndarray
    obs_sumsq: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    bias_saturated: int = 0
    verified: list[dict[str, Any]] = field(default_factory=list)  # one report per verified slot (host/verify.py)

    @staticmethod
    def concat(parts: list["EvalResult"]) -> "EvalResult":
        keys = parts[0].extra.keys()
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        return EvalResult(cat("fitness"), cat("length"), cat("spike_rate"), cat("obs_count"), cat("obs_sum"),
                          cat("obs_sumsq"), {k: np.concatenate([p.extra[k] for p in parts]) for k in keys},
                          sum(p.bias_saturated for p in parts), [v for p in parts for v in p.verified])


class TaskLoop:
    """The ControlLoop of a task: normalise obs -> encode bias; decode readout -> step the environments.

    record: indices of members whose every control step is kept (bias in, active, readout out) for the
    verification (host/verify.py): `recorded()` -> bias (T, M, N), active (T, M), r (T, M, N)."""

    def __init__(self, low: Lowered, task: Any, obs_mean: np.ndarray, obs_std: np.ndarray, seeds: np.ndarray,
                 record: np.ndarray | None = None) -> None:
        self.low, self.task, self.seeds = low, task, seeds
        self.mean, self.std = (np.ascontiguousarray(a, np.float64) for a in (obs_mean, obs_std))
        P, n = len(seeds), task.n_obs
        self.active = np.ones(P, bool)
        self.obs_count = np.zeros(P)
        self.obs_sum = np.zeros((P, n))
        self.obs_sumsq = np.zeros((P, n))
        # observations of this shape go through the one-pass kernel (a normaliser of another length: numpy's error)
        self._fast = (P, n) if self.mean.shape == self.std.shape == (n,) else None
        self.record = None if record is None or not len(record) else np.asarray(record)
        self._rec: dict[str, list[np.ndarray]] = {"bias": [], "active": [], "r": []}

    def _see(self, obs: np.ndarray, who: np.ndarray) -> np.ndarray:
        """Accumulate the statistics of every observation seen (terminal ones included); the normalised x."""
        obs = np.asarray(obs)
        if obs.dtype in (np.float32, np.float64) and obs.shape == self._fast:  # one pass, bit for bit the numpy below
            x = np.empty(obs.shape)
            observe(obs, np.ascontiguousarray(who, np.bool_), self.mean, self.std, self.obs_count, self.obs_sum,
                    self.obs_sumsq, x)
            return x
        self.obs_count[who] += 1
        self.obs_sum[who] += obs[who]
        self.obs_sumsq[who] += obs[who] ** 2
        return normalise(obs, self.mean, self.std)

    def _encode(self, x: np.ndarray) -> np.ndarray:
        bias = self.low.encode(x, self.active)  # finished members' rows: 0
        if self.record is not None:
            self._rec["bias"].append(bias[self.record].copy())
            self._rec["active"].append(self.active[self.record].copy())
        return bias

    def start(self) -> np.ndarray:
        return self._encode(self._see(self.task.reset(self.seeds), self.active))

    def step(self, r: np.ndarray) -> np.ndarray | None:
        if self.record is not None:
            self._rec["r"].append(np.array(r[self.record], dtype=np.float64))
        actions = self.low.decode(r, self.active)
        stepped = self.active.copy()
        obs, done = self.task.step(actions, stepped)
        x = self._see(obs, stepped)
        self.active = ~done
        return self._encode(x) if self.active.any() else None

    def recorded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The recorded members' control steps: bias (T, M, N), active (T, M) bool, readout r (T, M, N)."""
        T = len(self._rec["r"])
        return (np.array(self._rec["bias"][:T]), np.array(self._rec["active"][:T], dtype=bool),
                np.array(self._rec["r"]))


def run_request(req: EvalRequest, backend: Any, task: Any) -> EvalResult:
    """Evaluate the request's slots on `backend` with `task`; a diverged member gives NaN fitness, not a crash."""
    spec = registry.network_spec(req.spec)
    if getattr(task, "kind", None) == "classify":  # a mini-batch of samples per slot (host/classify.py)
        return registry.load("ec_neuro.host.classify:run_classify")(req, spec, task, backend)
    if getattr(spec, "forward", None):  # a network of real weights: its own population forward (host/weights.py)
        return registry.load("ec_neuro.host.weights:run_weights")(req, spec, task)
    pop, E = req.population, req.episodes
    copies = np.repeat(np.asarray(req.slots), E)  # slot k's episodes side by side
    low = lower(spec, pop.masks(spec, copies), req.precision)
    program = backend.compile(low)
    seeds = np.array([env_seed(pop.seed, pop.generation, -1 if k < pop.size else int(k - pop.size), e)
                      for k in req.slots for e in range(E)])
    checked = verify.local_slots(req.verify, req.slots, backend)  # indices into req.slots
    record = None if checked is None else checked * E              # their first episode's copy
    loop = TaskLoop(low, task, req.obs_mean, req.obs_std, seeds, record=record)
    v0 = initial_v(spec.n_neurons, pop.seed, pop.generation, copies)
    counts = backend.rollout(program, loop, v0)
    verified = verify.run(backend, program, loop, v0, req, record, copies) if record is not None else []
    steps = np.maximum(task.lengths, 1) * spec.neuron.substeps
    fitness = task.returns.astype(np.float64)
    fitness[~np.isfinite(fitness)] = np.nan
    rate = counts.sum(axis=1) / (steps * spec.n_neurons)
    per = lambda a: a.reshape(len(req.slots), E, *a.shape[1:])  # noqa: E731  (slot, episode, ...)
    return EvalResult(per(fitness).mean(axis=1), per(task.lengths).sum(axis=1), per(rate).mean(axis=1),
                      per(loop.obs_count).sum(axis=1), per(loop.obs_sum).sum(axis=1), per(loop.obs_sumsq).sum(axis=1),
                      {k: per(v).mean(axis=1) for k, v in task.metrics().items()}, low.bias_saturated,
                      verified)
