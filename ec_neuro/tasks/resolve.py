"""Task names -> TaskRef: ours (registry.TASKS), the user's (`register`), "pkg.module:Class", or any gymnasium id.

A TaskRef holds only strings and plain values (the target to import and its keyword arguments), so a process
that never saw the parent's `register` call (a spawned or remote worker, a resumed run) builds the same task.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .. import registry
from ..errors import UserError
from ..registry import TaskEntry

GYM_TASK = "ec_neuro.tasks.gym:GymTask"
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_REGISTERED: dict[str, TaskEntry] = {}


@dataclass(frozen=True)
class TaskRef:
    """What builds a task anywhere: `load(target)(population=P, **kwargs)`; `defaults` are its run defaults."""

    name: str
    target: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    extra: str = ""
    module: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "kwargs": dict(self.kwargs)}

    def load(self) -> Any:
        mod = self.target.partition(":")[0]
        try:
            cls = registry.load(self.target, f"task {self.name!r}", self.extra, self.module)
        except ModuleNotFoundError as e:
            if e.name and (mod == e.name or mod.startswith(e.name + ".")):
                raise UserError(f"task {self.name!r}: no module named {e.name!r} (is the folder that holds it on "
                                "PYTHONPATH, or the package installed?)") from None
            raise
        if not callable(cls) or isinstance(cls, type(registry)):
            raise UserError(f"task {self.name!r}: {self.target} is a {type(cls).__name__}, not a task class")
        return cls

    def make(self, population: int, **options: Any) -> Any:
        """The task, `population` copies; `options` override its keyword arguments."""
        cls = self.load()
        kwargs = {**self.kwargs, **options}
        check_options(self.name, cls, kwargs, set(options))
        return cls(population=population, **kwargs)


def check_options(name: str, cls: Any, kwargs: Mapping[str, Any], given: set[str]) -> None:
    """Refuse a keyword argument the task's class does not take, naming those it does."""
    import inspect
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    takes = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
             and n != "population"]
    for key in kwargs:
        if key not in takes:
            where = f"task_options.{key}" if key in given else f"task {name!r} keyword {key!r}"
            offered = [n for n in takes if n not in kwargs or n in given]
            close = difflib.get_close_matches(key, offered, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UserError(f"{where}: task {name!r} takes no option {key!r}.{hint} It takes: "
                            f"{', '.join(offered) or 'none'}", where)


def _check_target(target: str, what: str) -> None:
    if not isinstance(target, str) or not _TARGET.match(target):
        raise UserError(f"{what} must look like 'package.module:ClassName', got {target!r}")
    if target.split(":")[0] in ("__main__", "__mp_main__"):
        raise UserError(f"{what} {target!r} lives in the script being run; move the class into an importable module "
                        "(workers and resumed runs import it by name)")


def register(name: str, entry_point: str, kwargs: Mapping[str, Any] | None = None, **defaults: Any) -> None:
    """Make `name` a task of this process: `entry_point` ("pkg.module:Class") built with `kwargs`; `defaults`
    are its run defaults (population, generations, target_return, ...).  Runs record the entry point itself,
    so spawned workers and resumed runs need no registration."""
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"task name must be a non-empty string, got {name!r}")
    _check_target(entry_point, "entry_point")
    _REGISTERED[name] = TaskEntry(entry_point, dict(kwargs or {}), defaults=dict(defaults))


def _gym_ids() -> list[str]:
    import gymnasium as gym
    return sorted(gym.registry)


def _gym_defaults(env_id: str) -> dict[str, Any]:
    import gymnasium as gym
    spec = gym.spec(env_id)
    out: dict[str, Any] = {"population": 64, "generations": 100}
    if spec.reward_threshold is not None:
        out["target_return"] = float(spec.reward_threshold)
    return out


def known_names() -> list[str]:
    """Ours and this process's registered tasks (gymnasium's ids are known too, see `resolve`)."""
    return sorted({*registry.TASKS, *_REGISTERED})


def resolve(name: str, entry: Mapping[str, Any] | None = None) -> TaskRef:
    """The TaskRef of task `name`; `entry` ({"target", "kwargs"}, as a run's config.json records it) wins."""
    if not isinstance(name, str) or not name:
        raise UserError(f"task must be a task name, 'pkg.module:Class' or a gymnasium id, got {name!r}")
    if entry:
        if not isinstance(entry, Mapping):
            raise UserError(f"task_entry must be a table {{target = 'pkg.module:Class', kwargs = {{...}}}}, "
                            f"got {entry!r}", "task_entry")
        if not isinstance(entry.get("kwargs") or {}, Mapping):
            raise UserError(f"task_entry.kwargs must be a table of keyword arguments, got {entry.get('kwargs')!r}",
                            "task_entry.kwargs")
        _check_target(entry.get("target", ""), f"task {name!r} target")
        return TaskRef(name, entry["target"], dict(entry.get("kwargs") or {}), defaults=_class_defaults(entry["target"]))
    found = _REGISTERED.get(name) or registry.TASKS.get(name)
    if found is not None:
        return TaskRef(name, found.target, dict(found.kwargs), found.extra, found.module, dict(found.defaults))
    if ":" in name:
        _check_target(name, "task")
        return TaskRef(name, name, {}, defaults=_class_defaults(name))
    ids = _gym_ids()
    if name in ids:
        return TaskRef(name, GYM_TASK, {"env_id": name}, defaults=_gym_defaults(name))
    ours = known_names()
    close = difflib.get_close_matches(name, ours + [i for i in ids if i not in ours], n=3, cutoff=0.55)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UserError(f"unknown task {name!r}.{hint} Ours: {', '.join(ours)}; any gymnasium id works too "
                    f"(`ecneuro tasks --gym` lists {len(ids)}), or 'pkg.module:Class'.")


def _class_defaults(target: str) -> dict[str, Any]:
    """A task class's own `defaults`, or none when it cannot be imported yet (the error comes when it is built)."""
    try:
        cls = registry.load(target)
    except (ImportError, UserError):
        return {}
    d = getattr(cls, "defaults", {})
    return dict(d) if isinstance(d, Mapping) else {}
