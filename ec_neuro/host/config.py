"""Training configuration: defaults per task, a TOML file, then `key=value` overrides; validated once."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .. import registry
from ..compilers.common import PRECISIONS
from ..errors import UserError
from ..strategies.ec import ECParams

# Per-task defaults a researcher would pick on a 2-core machine (overridable by file or flag).
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"population": 64, "generations": 60, "target_return": 500.0},
    "Pendulum-v1": {"population": 128, "generations": 200},
    "Hopper-v5": {"population": 256, "generations": 1000},
}


@dataclass(frozen=True)
class TrainConfig:
    task: str = "CartPole-v1"
    backend: str = "numpy"
    precision: str = "float"
    population: int = 64
    generations: int = 60
    seed: int = 0
    workers: int = 1
    det_episodes: int = 2           # deterministic-network episodes per generation (the headline return)
    target_return: float | None = None  # stop once the deterministic return reaches it
    strategy: dict[str, Any] = field(default_factory=dict)        # ECParams fields: lr, eps, optimizer, init
    network: dict[str, Any] = field(default_factory=dict)         # NetworkSpec fields (n_neurons, neuron: {...})
    backend_options: dict[str, Any] = field(default_factory=dict)
    task_options: dict[str, Any] = field(default_factory=dict)    # e.g. max_steps

    def __post_init__(self) -> None:
        registry.check_task(self.task)
        if self.backend not in registry.BACKENDS:
            raise registry.did_you_mean("backend", self.backend, registry.BACKENDS)
        if self.precision not in PRECISIONS:
            raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        for name, low in (("population", 2), ("generations", 1), ("workers", 1), ("det_episodes", 1)):
            val = getattr(self, name)
            if not isinstance(val, int) or isinstance(val, bool) or val < low:
                raise UserError(f"{name} must be an integer >= {low}, got {val!r}")
        ECParams(**self.strategy)

    def ec_params(self) -> ECParams:
        return ECParams(**self.strategy)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "config") -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise registry.did_you_mean(f"{where} key", bad[0], known)
        try:
            return cls(**d)
        except TypeError as e:
            raise UserError(f"{where}: {e}") from None


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_override(d: dict[str, Any], item: str) -> None:
    """'a.b=c' sets d['a']['b'] = c (c parsed as JSON when possible, else a string)."""
    if "=" not in item:
        raise UserError(f"override {item!r} must look like key=value, e.g. strategy.lr=0.1")
    key, value = item.split("=", 1)
    parts = key.strip().split(".")
    cur = d
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
        if not isinstance(cur, dict):
            raise UserError(f"override {item!r}: {p} is not a table")
    cur[parts[-1]] = _parse_value(value.strip())


def load_file(path: str | Path) -> dict[str, Any]:
    """A TOML config file (same keys as TrainConfig, tables for strategy/network/...)."""
    import tomli
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such config file")
    try:
        return tomli.loads(path.read_text())
    except tomli.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML ({e})") from None


def resolve(file: str | Path | None, cli: dict[str, Any], overrides: list[str]) -> TrainConfig:
    """Task defaults < config file < command-line flags < key=value overrides."""
    d: dict[str, Any] = load_file(file) if file else {}
    d.update({k: v for k, v in cli.items() if v is not None})
    for item in overrides:
        apply_override(d, item)
    task = d.get("task", TrainConfig.task)
    registry.check_task(task)
    merged = {**TASK_DEFAULTS.get(task, {}), **d}
    backend = merged.get("backend", TrainConfig.backend)
    merged.setdefault("precision", registry.DEFAULT_PRECISION.get(backend, TrainConfig.precision))
    return TrainConfig.from_dict(merged)
