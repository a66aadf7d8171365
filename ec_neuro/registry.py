"""Names -> "module:attr" strings, imported only when used; typos get "did you mean", missing extras the pip command."""
from __future__ import annotations

import importlib
import inspect
from typing import Any

from .errors import MissingExtra, UserError, did_you_mean

# backend name -> (target, extra that installs it, module whose absence means the extra is missing)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "numpy": ("ec_neuro.backends.numpy:NumpyBackend", "", ""),
    "lava-sim": ("ec_neuro.backends.lava_sim:LavaSimBackend", "lava", "lava"),
    "brian2": ("ec_neuro.backends.brian2:Brian2Backend", "brian2", "brian2"),
}

# precision a backend runs when none is asked for: lava-sim means Loihi 2's bit-accurate fixed point
DEFAULT_PRECISION: dict[str, str] = {"numpy": "float", "lava-sim": "fixed", "brian2": "float"}

# task name -> (target, keyword arguments, extra, module)
TASKS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "CartPole-v1": ("ec_neuro.tasks.gym:GymTask", {"env_id": "CartPole-v1"}, "", ""),
    "Pendulum-v1": ("ec_neuro.tasks.gym:GymTask", {"env_id": "Pendulum-v1"}, "", ""),
    **{f"{name}-v5": ("ec_neuro.tasks.gym:GymTask", {"env_id": f"{name}-v5", "locomotion": True}, "mujoco", "mujoco")
       for name in ("Hopper", "Walker2d", "HalfCheetah", "Ant", "Humanoid")},
}


def load(target: str, what: str = "", extra: str = "", module: str = "") -> Any:
    """Import "pkg.module:attr"; an ImportError of `module` becomes the exact install command for `extra`."""
    mod_name, attr = target.split(":")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if extra and e.name and e.name.split(".")[0] == module:
            raise MissingExtra(what or target, module, extra) from None
        raise
    return getattr(mod, attr)


def backend_class(name: str) -> Any:
    if name not in BACKENDS:
        raise did_you_mean("backend", name, BACKENDS)
    target, extra, module = BACKENDS[name]
    return load(target, f"backend {name!r}", extra, module)


def make_backend(name: str, **options: Any) -> Any:
    """An instance of backend `name`; an option it does not take is a UserError naming the ones it does."""
    cls = backend_class(name)
    params = list(inspect.signature(cls).parameters.values())
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        known = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        for key in options:
            if not known:
                raise UserError(f"backend {name!r} takes no options (backend_options), got {key!r}")
            if key not in known:
                raise did_you_mean(f"option of backend {name!r} (backend_options)", key, known)
    return cls(**options)


def check_task(name: str) -> None:
    if name not in TASKS:
        raise did_you_mean("task", name, TASKS)


def make_task(name: str, population: int, **options: Any) -> Any:
    check_task(name)
    target, kwargs, extra, module = TASKS[name]
    cls = load(target, f"task {name!r}", extra, module)
    return cls(population=population, **kwargs, **options)

