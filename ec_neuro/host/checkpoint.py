"""Atomic checkpoints of the whole training state: the strategy's state, the normaliser and the counters.

A strategy state is a frozen dataclass of arrays, numbers and nested dataclasses (e.g. ECState with its
OptState); it is stored field by field (arrays under dotted names, numbers in the header) with the name of
its class, so any strategy resumes without code here knowing its fields.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import files, registry
from ..errors import UserError
from .normalizer import RunningNorm

FORMAT = "ec-neuro/checkpoint"
VERSION = 2


@dataclass
class Checkpoint:
    """Strategy state, normaliser, and the counters the metrics continue from."""

    state: Any
    norm: RunningNorm
    counters: dict[str, Any]  # wall_time, env_steps, best_det, ...
    config: dict[str, Any]


def _flatten(obj: Any, prefix: str, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> None:
    for f in dataclasses.fields(obj):
        val, key = getattr(obj, f.name), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(val):
            scalars[key] = {"__class__": f"{type(val).__module__}:{type(val).__qualname__}"}
            _flatten(val, key + ".", arrays, scalars)
        elif isinstance(val, np.ndarray):
            arrays["state." + key] = val
        else:
            scalars[key] = val.item() if isinstance(val, np.generic) else val


def _rebuild(target: str, prefix: str, arrays: dict[str, np.ndarray], scalars: dict[str, Any]) -> Any:
    if not target.startswith("ec_neuro.strategies."):
        raise ValueError(f"state class {target!r} is not a strategy state")
    cls = registry.load(target)
    kwargs = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        if "state." + key in arrays:
            kwargs[f.name] = arrays["state." + key]
        elif isinstance(scalars.get(key), dict) and "__class__" in scalars[key]:
            kwargs[f.name] = _rebuild(scalars[key]["__class__"], key + ".", arrays, scalars)
        else:
            kwargs[f.name] = scalars[key]
    return cls(**kwargs)


def save(path: Path, ck: Checkpoint) -> None:
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    _flatten(ck.state, "", arrays, scalars)
    header = {"format": FORMAT, "version": VERSION, "generation": ck.state.generation,
              "state_class": f"{type(ck.state).__module__}:{type(ck.state).__qualname__}", "state": scalars,
              "counters": ck.counters, "config": ck.config}
    files.write(path, header, {**arrays, **ck.norm.state()}, compress=False)


def load(path: Path) -> Checkpoint:
    """Read a checkpoint; a missing, foreign or corrupt file is a UserError saying which."""
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint yet (the run stopped before its first generation finished); "
                        f"start it again with `ecneuro train --resume {path.parent}`")
    header, data = files.read(path, "an ec-neuro checkpoint", FORMAT)
    try:
        if header.get("version") == 1:  # before strategies other than EC: ECState without a seed
            from ..strategies.ec import ECState
            from ..strategies.optim import OptState
            opt = OptState(data["opt_m"], data["opt_v"], int(header["opt_t"]))
            state = ECState(data["rho"], opt, int(header["generation"]), int(header["config"].get("seed", 0)))
        else:
            state = _rebuild(header["state_class"], "", data, header["state"])
        return Checkpoint(state, RunningNorm.from_state(data), header["counters"], header["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path}: checkpoint lacks {e}; it is corrupt or from another version") from None
