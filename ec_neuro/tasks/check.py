"""The task checker and the task list as a user calls them: by name, "pkg.module:Class", a gymnasium id or a class."""
from __future__ import annotations

from typing import Any, Mapping

from .. import registry
from .base import check_task
from .resolve import TaskRef, known_names, resolve


def _ref(task: Any, kwargs: Mapping[str, Any] | None) -> tuple[Any, dict[str, Any]]:
    if isinstance(task, str):
        ref = resolve(task)
        return ref.load(), {**ref.kwargs, **(kwargs or {})}
    return task, dict(kwargs or {})


def check(task: Any, kwargs: Mapping[str, Any] | None = None, population: int = 3) -> list[str]:
    """Every violation of the task interface (ec_neuro.tasks.base), one line each; [] when the task is fine."""
    cls, kw = _ref(task, kwargs)
    return check_task(cls, kw, population)


def describe(name: str) -> dict[str, Any]:
    """Sizes, control period, episode limit, solved threshold and run defaults of task `name`."""
    ref: TaskRef = resolve(name)
    task = ref.make(1)
    try:
        return {"name": name, "target": ref.target, "kwargs": dict(ref.kwargs), "n_obs": int(task.n_obs),
                "n_act": int(task.n_act), "max_steps": int(task.max_steps),
                "control_period": getattr(task, "control_period", None),
                "solved_threshold": getattr(task, "solved_threshold", None),
                "defaults": dict(ref.defaults)}
    finally:
        task.close()


def describe_all(include_missing: bool = True) -> list[dict[str, Any]]:
    """`describe` of every task of ours and every registered one; a task whose extra is missing says so."""
    out = []
    for name in known_names():
        entry = registry.TASKS.get(name)
        try:
            out.append(describe(name))
        except Exception as e:  # a missing extra (MuJoCo) or a broken user task: listed with the reason
            if include_missing:
                out.append({"name": name, "target": entry.target if entry else "", "error": str(e)})
    return out
