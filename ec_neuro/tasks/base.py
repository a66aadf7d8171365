"""Stage 5, fitness: what a task must provide, and `check_task`, which says in one line per fault what is wrong.

A task is P copies of an environment stepped together, one per population member (or evaluation episode),
built as `Task(population=P, **kwargs)`:

    n_obs: int, n_act: int          observation and action widths
    max_steps: int                  an episode ends after at most this many control steps
    control_period: float | None    seconds of task time per control step, when the task has a clock
    reset(seeds (P,) int) -> obs (P, n_obs) float64        seeds every copy; returns and lengths restart at 0
    step(actions (P, n_act) float64 in [-1, 1], active (P,) bool) -> (obs (P, n_obs), done (P,) bool)
                                    steps only the active copies; done is True for every finished copy
    returns (P,) float64, lengths (P,) int64               accumulated since the last reset
    metrics() -> {name: (P,) float64}                      episode figures beside the return (may be empty)
    close() -> None

and, as class attributes, optional run defaults (`defaults = {"population": ..., "generations": ...,
"target_return": ...}`) and a solved criterion (`solved_threshold`, `solved_episodes`: the mean return over
that many fresh episodes that counts as solved).  The same seeds must give the same episodes.
"""
from __future__ import annotations

from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Task(Protocol):
    n_obs: int
    n_act: int
    max_steps: int
    returns: np.ndarray
    lengths: np.ndarray
    defaults: ClassVar[Mapping[str, Any]]

    def reset(self, seeds: np.ndarray) -> np.ndarray: ...

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def metrics(self) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


def _shape(name: str, arr: Any, shape: tuple[int, ...], kinds: str) -> list[str]:
    """Problems with `arr` being an array of `shape` whose dtype kind is in `kinds`."""
    if not isinstance(arr, np.ndarray):
        return [f"{name} must be a numpy array of shape {shape}, got {type(arr).__name__}"]
    out = []
    if arr.shape != shape:
        out.append(f"{name} has shape {arr.shape}, expected {shape}")
    if arr.dtype.kind not in kinds:
        out.append(f"{name} has dtype {arr.dtype}, expected {'bool' if kinds == 'b' else 'a number type'}")
    elif kinds != "b" and arr.size and not np.isfinite(arr.astype(np.float64)).all():
        out.append(f"{name} contains NaN or inf")
    return out


def _int_attr(task: Any, name: str) -> list[str]:
    val = getattr(task, name, None)
    if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < 1:
        return [f"{name} must be a positive integer, got {val!r}"]
    return []


def check_task(cls: Any, kwargs: Mapping[str, Any] | None = None, population: int = 3, steps: int = 4) -> list[str]:
    """Build `cls(population=..., **kwargs)`, run two short episodes, and return every violation of the task
    interface, one line each (an empty list: the task is fine)."""
    try:
        task = cls(population=population, **dict(kwargs or {}))
    except Exception as e:
        return [f"cannot be built as {getattr(cls, '__name__', cls)}(population={population}, ...): "
                f"{type(e).__name__}: {e}"]
    problems: list[str] = []
    try:
        for name in ("n_obs", "n_act", "max_steps"):
            problems += _int_attr(task, name)
        for name in ("reset", "step", "metrics", "close"):
            if not callable(getattr(task, name, None)):
                problems.append(f"has no method {name}()")
        if problems:
            return problems
        P, n_obs, n_act = population, int(task.n_obs), int(task.n_act)
        seeds = np.arange(P) + 11
        try:
            obs = task.reset(seeds)
        except Exception as e:
            return problems + [f"reset(seeds) raised {type(e).__name__}: {e}"]
        problems += _shape("reset(seeds)", obs, (P, n_obs), "fiu")
        for name, kinds in (("returns", "fiu"), ("lengths", "iu")):
            problems += _shape(f"{name} after reset", getattr(task, name, None), (P,), kinds)
        if problems:
            return problems
        if np.any(task.lengths != 0) or np.any(task.returns != 0):
            problems.append("returns and lengths must be 0 after reset")
        active = np.ones(P, bool)
        active[-1] = False  # the last copy is inactive: it must not be stepped
        rng = np.random.default_rng(0)
        for t in range(steps):
            actions = rng.uniform(-1, 1, (P, n_act))
            try:
                res = task.step(actions, active.copy())
            except Exception as e:
                return problems + [f"step(actions, active) raised {type(e).__name__}: {e}"]
            if not (isinstance(res, tuple) and len(res) == 2):
                return problems + [f"step must return (obs, done), got {type(res).__name__}"]
            obs, done = res
            problems += _shape("step(...)[0] (obs)", obs, (P, n_obs), "fiu")
            problems += _shape("step(...)[1] (done)", done, (P,), "b")
            if problems:
                return problems
            if not done[-1]:
                problems.append("done must be True for a copy that is not active")
                break
            active &= ~done
        if task.lengths[-1] != 0:
            problems.append("step advanced a copy that was not active (its length grew)")
        if np.any(task.lengths[:-1] < 1):
            problems.append("step did not count the steps of active copies in lengths")
        metrics = task.metrics()
        if not isinstance(metrics, dict):
            problems.append(f"metrics() must return a dict, got {type(metrics).__name__}")
        else:
            for key, val in metrics.items():
                problems += _shape(f"metrics()[{key!r}]", val, (P,), "fiu")
        again = task.reset(seeds)
        if isinstance(again, np.ndarray) and again.shape == (P, n_obs) and not np.array_equal(again, task.reset(seeds)):
            problems.append("reset with the same seeds gave different observations (episodes must be reproducible)")
        defaults = getattr(type(task), "defaults", {})
        if not isinstance(defaults, Mapping):
            problems.append(f"defaults must be a dict of run settings, got {type(defaults).__name__}")
    finally:
        try:
            task.close()
        except Exception as e:
            problems.append(f"close() raised {type(e).__name__}: {e}")
    return problems
