"""Training configuration: the task's defaults < a TOML file < settings < `key=value` overrides; validated once.

`resolve` returns a fully resolved TrainConfig: the task's target and keyword arguments (so any process can
build it), every network, strategy and backend option with its default filled in.  That is what a run
directory's config.json records and what `ecneuro train --print-config` prints.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from .. import registry
from ..compilers.common import PRECISIONS
from ..errors import UserError, did_you_mean
from ..tasks.resolve import TaskRef, resolve as resolve_task
from .verify import parse_every

MAX_POPULATION = 1 << 20


@dataclass(frozen=True)
class TrainConfig:
    task: str = "CartPole-v1"
    method: str = "ec"
    backend: str = "numpy"
    precision: str = "float"
    population: int = 64
    generations: int = 60
    seed: int = 0
    workers: int = 1
    episodes: int = 1                   # episodes each member plays per generation (its fitness: their mean)
    det_episodes: int = 2               # deterministic-network episodes per generation (the headline return)
    target_return: float | None = None  # once the deterministic return reaches it, confirm; stop when confirmed
    confirm_episodes: int | None = None  # fresh episodes whose mean must reach target_return (0: stop without);
    #                                      default: the task's definition of solved (gymnasium: 100), else 0
    verify: str | int = "every"         # check the fast tier against the reference models: every | off | N (host/verify.py)
    verify_members: int = 2             # sampled members verified besides the deterministic network
    verify_window: int = 20             # control steps per verified slot replayed on the reference models
    time_budget: float | None = None    # stop once the run's wall_time reaches this many seconds (null: none)
    strategy: dict[str, Any] = field(default_factory=dict)        # the method's parameters (EC: lr, eps, ...)
    network: dict[str, Any] = field(default_factory=dict)         # NetworkSpec fields (n_neurons, neuron: {...})
    backend_options: dict[str, Any] = field(default_factory=dict)  # e.g. tier for lava-sim
    task_options: dict[str, Any] = field(default_factory=dict)    # keyword arguments of the task, e.g. max_steps
    task_entry: dict[str, Any] = field(default_factory=dict)      # {"target", "kwargs"}: how any process builds it
    ray_address: str | None = None   # "auto" or HOST:PORT: evaluate on that Ray cluster (workers > 1: that many actors)
    ray_local: int | None = None     # start a private Ray on 127.0.0.1 with this many actors
    ray_timeout: float | None = None  # seconds after which a Ray chunk counts as hung (default: adaptive, >= 600)
    ray_replay: bool = True          # Ray actors replay tell (only fitness crosses); false: rho sent to every node

    def __post_init__(self) -> None:
        registry.lookup(registry.METHODS, "method", self.method)
        if self.backend not in registry.BACKENDS:
            raise did_you_mean("backend", str(self.backend), registry.BACKENDS, key="backend")
        if self.precision not in PRECISIONS:
            raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}", "precision")
        for name, low, high in (("population", 2, MAX_POPULATION), ("generations", 1, 10**9), ("workers", 1, 1024),
                                ("episodes", 1, 10**6), ("det_episodes", 1, 10**6), ("seed", 0, 2**63 - 1),
                                ("verify_members", 0, 1024), ("verify_window", 1, 10**6)):
            val = getattr(self, name)
            if not isinstance(val, int) or isinstance(val, bool) or not low <= val <= high:
                raise UserError(f"{name} must be an integer from {low} to {high}, got {val!r}", name)
        c = self.confirm_episodes
        if c is not None and (not isinstance(c, int) or isinstance(c, bool) or not 0 <= c <= 100_000):
            raise UserError(f"confirm_episodes must be an integer from 0 to 100000, got {c!r}", "confirm_episodes")
        parse_every(self.verify)
        t = self.target_return
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t)):
            raise UserError(f"target_return must be a finite number (or null for none), got {t!r}", "target_return")
        b = self.time_budget
        if b is not None and (isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) or b <= 0):
            raise UserError(f"time_budget must be a positive number of seconds (or null for none), got {b!r}",
                            "time_budget")
        for name in ("strategy", "network", "backend_options", "task_options", "task_entry"):
            if not isinstance(getattr(self, name), dict):
                raise UserError(f"{name} must be a table of settings, got {getattr(self, name)!r}", name)
        if not isinstance(self.task, str):
            raise UserError(f"task must be a task name, got {self.task!r}", "task")
        _check_ray(self)

    @property
    def network_kind(self) -> str:
        """network.kind, by default the method's first network (ec: ei-rsnn, es and eggroll: dense-rsnn)."""
        kind = self.network.get("kind", registry.METHODS[self.method].networks[0])
        registry.lookup(registry.NETWORKS, "network", kind)
        return kind

    @property
    def task_ref(self) -> TaskRef:
        ref = resolve_task(self.task, self.task_entry or None)
        return TaskRef(ref.name, ref.target, {**ref.kwargs, **self.task_options}, ref.extra, ref.module, ref.defaults)

    def strategy_params(self) -> Any:
        """The method's parameter object (e.g. ECParams), validated; unset fields take the network's defaults for
        this method (its spec's `strategy_defaults`: the reference's sigma and lr per network), then the class's."""
        cls = registry.method_class(self.method)
        spec_cls = registry.load(registry.NETWORKS[self.network_kind].spec)
        defaults = dict(getattr(spec_cls, "strategy_defaults", {}).get(self.method, {}))
        return _build(cls.Params, {**defaults, **self.strategy}, "strategy")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "config") -> "TrainConfig":
        if not isinstance(d, Mapping):
            raise UserError(f"{where}: must be a table of settings, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise did_you_mean(f"{where} key", str(bad[0]), known, key=str(bad[0]))
        return _build(cls, d, where)


def _check_ray(cfg: TrainConfig) -> None:
    """ray_address ("auto" or HOST:PORT), ray_local (1..1024 actors), ray_timeout (seconds), ray_replay; not both
    places."""
    a = cfg.ray_address
    if a is not None:
        host, sep, port = a.rpartition(":") if isinstance(a, str) else ("", "", "")
        if not isinstance(a, str) or (a != "auto" and not (sep and host.strip("[]") and port.isdigit()
                                                           and 0 < int(port) < 65536)):
            raise UserError(f"ray_address must be 'auto' or HOST:PORT (e.g. 10.0.0.1:6379), got {a!r}", "ray_address")
    n = cfg.ray_local
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 1024):
        raise UserError(f"ray_local must be an integer from 1 to 1024 (actors on a private Ray), got {n!r}",
                        "ray_local")
    t = cfg.ray_timeout
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0):
        raise UserError(f"ray_timeout must be a positive number of seconds (or null: adaptive), got {t!r}",
                        "ray_timeout")
    if not isinstance(cfg.ray_replay, bool):
        raise UserError(f"ray_replay must be true or false, got {cfg.ray_replay!r}", "ray_replay")
    if a is not None and n is not None:
        raise UserError(f"ray_local ({n}) starts a private Ray; ray_address ({a!r}) joins one: give one of them",
                        "ray_local")
    if n is not None and cfg.workers > 1:
        raise UserError(f"workers ({cfg.workers}) and ray_local ({n}) both set the worker count: give one of them",
                        "workers")


def _build(cls: Any, d: Mapping[str, Any], where: str) -> Any:
    """cls(**d), an unknown or missing field a UserError naming it."""
    if not isinstance(d, Mapping):
        raise UserError(f"{where} must be a table of settings, got {d!r}", where)
    names = {f.name for f in fields(cls)}
    bad = sorted(set(d) - names)
    if bad:
        raise did_you_mean(f"{where} field", str(bad[0]), names, key=f"{where}.{bad[0]}")
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
    if not isinstance(item, str) or "=" not in item:
        raise UserError(f"override {item!r} must look like key=value, e.g. strategy.lr=0.1")
    key, value = item.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise UserError(f"override {item!r}: empty key")
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
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a config file (a TOML file, see examples/config.toml)")
    if not path.is_file():
        raise UserError(f"{path}: no such config file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raw = path.read_bytes()
        kind = "UTF-16 text" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "binary data"
        raise UserError(f"{path}: is {kind}, not UTF-8 text; a config file is TOML text in UTF-8 "
                        "(see examples/config.toml)") from None
    except OSError as e:
        why = "permission denied" if isinstance(e, PermissionError) else e.strerror
        raise UserError(f"{path}: cannot read the config file ({why})") from None
    if "\x00" in text:
        raise UserError(f"{path}: holds NUL bytes (binary data), not TOML text (see examples/config.toml)")
    try:
        return tomli.loads(text)
    except tomli.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML ({e}); see examples/config.toml for the format") from None


def resolve(settings: Mapping[str, Any] | None = None, *, file: str | Path | None = None,
            overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """The task's defaults < `file` (TOML) < `settings` < `overrides` ("key=value"), fully resolved."""
    d: dict[str, Any] = load_file(file) if file else {}
    d.update({k: v for k, v in (settings or {}).items() if v is not None})
    for item in overrides:
        apply_override(d, item)
    task = d.get("task", TrainConfig.task)
    ref = resolve_task(task, d.get("task_entry") or None) if isinstance(task, str) else None
    merged = _with_defaults(dict(ref.defaults) if ref else {}, d)
    backend = merged.get("backend", TrainConfig.backend)
    if isinstance(backend, str) and backend in registry.BACKENDS:
        merged.setdefault("precision", registry.BACKENDS[backend].default_precision)
    cfg = TrainConfig.from_dict(merged)
    return complete(cfg)


def _with_defaults(defaults: dict[str, Any], d: dict[str, Any]) -> dict[str, Any]:
    """Task defaults < settings, tables (network, strategy, ...) merged key by key; a task's `per_method`
    defaults ({"ec": {...}}) apply to that method only."""
    per = defaults.pop("per_method", {}) or {}
    method = d.get("method", defaults.get("method", TrainConfig.method))
    for extra in [per.get(method, {})] if isinstance(method, str) else []:
        for k, v in extra.items():
            defaults[k] = {**defaults.get(k, {}), **v} if isinstance(v, dict) else v
    out = {**defaults, **d}
    for k, v in defaults.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            out[k] = {**v, **d[k]}
    return out


def config(file: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (), **settings: Any) -> TrainConfig:
    """A resolved TrainConfig from keyword settings: config(task="Hopper-v5", population=256,
    strategy={"lr": 0.1}, overrides=["network.n_neurons=128"], file="run.toml")."""
    return resolve(settings, file=file, overrides=overrides)


def complete(cfg: TrainConfig) -> TrainConfig:
    """Fill in every default (task target and kwargs, network, strategy, backend options) and validate them."""
    ref = resolve_task(cfg.task, cfg.task_entry or None)
    task = ref.make(1, **cfg.task_options)
    try:
        n_obs, n_act = int(task.n_obs), int(task.n_act)
        solved_episodes = int(getattr(task, "solved_episodes", 0) or 0)
        has_solved = getattr(task, "solved_threshold", None) is not None
        classification = callable(getattr(task, "batch", None)) and callable(getattr(task, "split", None))
    finally:
        task.close()
    net = {"kind": cfg.network_kind, **cfg.network}
    for name, val in (("n_obs", n_obs), ("n_act", n_act)):
        if net.get(name, val) != val:
            raise UserError(f"network.{name}={net[name]} does not match task {cfg.task}, which has {val}",
                            f"network.{name}")
        net[name] = val
    registry.check_combination(cfg.method, net["kind"], cfg.backend, cfg.precision)
    spec = registry.network_spec(net)
    if getattr(spec, "classify", None) and not classification:  # e.g. lif-classifier on CartPole
        raise UserError(f"network {net['kind']!r} is a classifier of event frames: it trains on a classification "
                        f"task (one with mini-batches, e.g. digits-events), not on {cfg.task}", "network")
    params = cfg.strategy_params()
    registry.method_class(cfg.method).for_network(spec, cfg.population, params)  # e.g. an odd population for ES
    options = registry.backend_options(cfg.backend, cfg.backend_options)
    registry.make_backend(cfg.backend, **options).close()  # its options' values are checked where they are used
    precisions = registry.BACKENDS[cfg.backend].precisions
    if cfg.precision not in precisions:
        raise UserError(f"precision {cfg.precision!r} is not offered by backend {cfg.backend!r} "
                        f"({', '.join(precisions)})", "precision")
    d = cfg.to_dict()
    every = parse_every(cfg.verify)
    d.update(verify="every" if every == 1 else "off" if every is None else every)
    d.update(network=spec.to_dict(), strategy=asdict(params), backend_options=options,
             task_entry={"target": ref.target, "kwargs": dict(ref.kwargs)})
    if d["confirm_episodes"] is None:
        d["confirm_episodes"] = solved_episodes if has_solved and cfg.target_return is not None else 0
    return TrainConfig(**d)


def to_toml(d: Mapping[str, Any], table: str = "") -> str:
    """A resolved config as TOML that `--config` reads back (a null value becomes a comment)."""
    lines, tables = [], []
    for k, v in d.items():
        if isinstance(v, Mapping):
            tables.append((k, v))
        elif v is None:
            lines.append(f"# {k} = (none)")
        else:
            lines.append(f"{k} = {json.dumps(v)}")
    out = ([f"[{table}]"] if table and (lines or not tables) else []) + lines
    text = "\n".join(out)
    for k, v in tables:
        sub = to_toml(v, f"{table}.{k}" if table else k)
        text += ("\n\n" if text else "") + sub
    return text
