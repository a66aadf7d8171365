"""Several methods on one task, for an equal number of generations or an equal wall-time budget (`ecneuro compare`).

    summary = compare(task="Hopper-v5", methods=("ec", "es/dense-rsnn", "eggroll/dense-rsnn", "es/gru", "es/lstm"),
                      time_budget=900, out="runs/compare-hopper")

One ordinary run directory per method (OUT/<method>-<network>, `ecneuro eval`/`plot`/`train --resume` work on
each), run one after the other so that each has the machine to itself.  Calling it again with the same `out`
resumes the unfinished ones (a budget can be spent across sittings) and redraws the report: curves.png (the
deterministic return against generations, env steps and wall time), summary.md and summary.json (final and best
deterministic returns and forward distances, and a fresh evaluation of each run's best network).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .. import files, registry
from ..errors import UserError
from .config import TrainConfig, resolve
from .progress import Progress

DEFAULT_METHODS = ("ec", "es/dense-rsnn", "eggroll/dense-rsnn", "es/gru", "es/lstm")
UNLIMITED = 10**9  # generations of a budgeted run: the budget is what stops it


def parse_method(text: str) -> tuple[str, str, str]:
    """"es/gru" -> ("es", "gru", "es-gru"); "ec" -> ("ec", "ei-rsnn", "ec-ei-rsnn") (the method's first network)."""
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"a method to compare is METHOD or METHOD/NETWORK, got {text!r}", "methods")
    method, _, network = text.strip().partition("/")
    entry = registry.lookup(registry.METHODS, "method", method)
    network = network or entry.networks[0]
    registry.lookup(registry.NETWORKS, "network", network)
    return method, network, f"{method}-{network}"


def _split_overrides(overrides: Iterable[str], labels: set[str]) -> tuple[list[str], dict[str, list[str]]]:
    """"key=value" for every run; "LABEL:key=value" (e.g. es-gru:strategy.sigma=0.05) for one."""
    common: list[str] = []
    per: dict[str, list[str]] = {}
    for item in overrides:
        head, sep, rest = str(item).partition(":")
        if sep and "=" not in head:
            if head not in labels:
                raise UserError(f"override {item!r}: no method {head!r} in this comparison ({', '.join(sorted(labels))})")
            per.setdefault(head, []).append(rest)
        else:
            common.append(str(item))
    return common, per


def configs(task: str, methods: Iterable[str], generations: int | None, time_budget: float | None,
            settings: Mapping[str, Any] | None = None, overrides: Iterable[str] = ()) -> dict[str, TrainConfig]:
    """label -> the resolved config of each method's run (all resolved before any runs, so a mistake costs
    nothing)."""
    if generations is None and time_budget is None:
        raise UserError("compare needs generations (--generations) or a wall-time budget (--budget), or both",
                        "generations")
    parsed = [parse_method(m) for m in methods]
    labels = [label for _, _, label in parsed]
    if not parsed or len(set(labels)) != len(labels):
        raise UserError(f"compare needs distinct methods, got {', '.join(labels) or 'none'}", "methods")
    common, per = _split_overrides(overrides, set(labels))
    out = {}
    for method, network, label in parsed:
        d = {**(settings or {}), "task": task, "method": method,
             "generations": generations if generations is not None else UNLIMITED, "time_budget": time_budget}
        out[label] = resolve(d, overrides=[f"network.kind={network}", *common, *per.get(label, [])])
    return out


def compare(task: str = "Hopper-v5", methods: Iterable[str] = DEFAULT_METHODS, out: str | Path | None = None,
            generations: int | None = None, time_budget: float | None = None,
            settings: Mapping[str, Any] | None = None, overrides: Iterable[str] = (), eval_episodes: int = 10,
            progress: Progress | str | bool | None = "auto", log: Any = None) -> dict[str, Any]:
    """Run (or resume) every method's run in OUT/<label>, then write and return the report (see `report`).
    settings: TrainConfig fields for every run (population, seed, workers, det_episodes, ...); overrides:
    "key=value" for every run or "LABEL:key=value" for one."""
    from .. import memory, validate
    from .train import resume, train
    validate.integer("eval_episodes", eval_episodes, 0, 100_000)
    cfgs = configs(task, methods, generations, time_budget, settings, overrides)
    for cfg in cfgs.values():  # every run fits, before the first one trains
        memory.check_train(cfg)
    root = Path(out or f"runs/compare-{task.replace(':', '.')}")
    files.check_writable(root / "summary.json")
    for label, cfg in cfgs.items():
        rd = root / label
        if log:
            log(f"== {label}: {cfg.method} on {cfg.network['kind']}, population {cfg.population}"
                + (f", budget {cfg.time_budget:g} s" if cfg.time_budget else "")
                + (f", {cfg.generations} generations" if cfg.generations < UNLIMITED else "") + f" -> {rd}")
        if (rd / "checkpoint.npz").is_file():
            have = json.loads((rd / "config.json").read_text())
            done = len(files.read_jsonl(rd / "metrics.jsonl"))
            gens = cfg.generations if cfg.generations != have.get("generations") else None
            if gens is not None and gens <= done:
                continue  # it already has this many generations
            budget = cfg.time_budget if cfg.time_budget != have.get("time_budget") else None
            resume(rd, generations=gens, progress=progress, workers=cfg.workers, time_budget=budget)
        else:
            train(cfg, rd, progress=progress)
    return report(root, eval_episodes, labels=list(cfgs))


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Final and best deterministic return and forward distance, generations, env steps, wall time."""
    det = np.array([_num(r.get("det_return")) for r in rows])
    fwd = np.array([_num(r.get("det_forward_distance")) for r in rows])
    last = rows[-1]
    best_i = int(np.nanargmax(det)) if np.isfinite(det).any() else len(rows) - 1
    return {"generations": len(rows), "env_steps": last.get("env_steps"), "wall_time": last.get("wall_time"),
            "sec_per_generation": last.get("wall_time", 0.0) / len(rows),
            "final_det_return": last.get("det_return"), "best_det_return": _finite(det[best_i]),
            "best_generation": int(rows[best_i]["generation"]),
            "final_det_forward": last.get("det_forward_distance"), "best_det_forward": _finite(fwd[best_i]),
            "final_mean_return": last.get("mean"), "final_best_member": last.get("best")}


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def report(out: str | Path, eval_episodes: int = 10, labels: list[str] | None = None) -> dict[str, Any]:
    """Read the runs in `out`, evaluate each best network on `eval_episodes` fresh episodes (0: skip), draw
    curves.png and write summary.json and summary.md; returns the summary."""
    from .evaluate import evaluate
    from .train import load_config
    root = Path(out)
    labels = labels or sorted(p.name for p in root.iterdir() if (p / "metrics.jsonl").is_file())
    runs: dict[str, list[dict[str, Any]]] = {}
    summary: dict[str, Any] = {"runs": {}}
    for label in labels:
        rows = files.read_jsonl(root / label / "metrics.jsonl")
        if not rows:
            continue
        cfg = load_config(root / label)
        runs[label] = rows
        s = {"method": cfg.method, "network": cfg.network.get("kind"), "population": cfg.population,
             "workers": cfg.workers, "time_budget": cfg.time_budget, **summarise(rows)}
        if eval_episodes and (root / label / "best.npz").is_file():
            r = evaluate(root / label, episodes=eval_episodes, seed=12345)
            s["eval"] = {"episodes": eval_episodes, "mean": r["mean"], "std": r["std"],
                         "forward_distance": float(np.mean(r["forward_distance"])) if "forward_distance" in r else None,
                         "network_generation": _best_generation(root / label)}
        summary["runs"][label] = s
    if not runs:
        raise UserError(f"{root}: no run of the comparison has finished a generation yet")
    summary["task"] = load_config(root / next(iter(runs))).task
    from ..analysis.plots import method_curves
    method_curves(runs, root / "curves.png", f"{summary['task']}: deterministic return of each method")
    files.atomic_write(root / "summary.json", json.dumps(summary, indent=1) + "\n")
    files.atomic_write(root / "summary.md", table(summary) + "\n")
    return summary


def _best_generation(rd: Path) -> int | None:
    from ..deploy.deployed import load_run
    try:
        return load_run(rd).meta.get("generation")
    except UserError:
        return None


def table(summary: Mapping[str, Any]) -> str:
    """The markdown table of a summary: one row per method."""
    f = lambda v, d=1: "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:,.{d}f}"  # noqa
    head = ("| method | network | generations | env steps | wall time (min) | s/gen | final det. return | "
            "best det. return (gen) | final det. forward (m) | best network, fresh episodes: return | forward (m) |")
    lines = [head, "|" + "---|" * 11]
    for label, s in summary["runs"].items():
        e = s.get("eval") or {}
        lines.append(f"| {s['method']} | {s['network']} | {s['generations']} | {f(s['env_steps'], 0)} | "
                     f"{f(s['wall_time'] / 60 if s['wall_time'] is not None else None, 1)} | "
                     f"{f(s['sec_per_generation'], 2)} | {f(s['final_det_return'])} | {f(s['best_det_return'])} "
                     f"({s['best_generation']}) | {f(s['final_det_forward'], 2)} | "
                     f"{f(e.get('mean'))} ± {f(e.get('std'))} | {f(e.get('forward_distance'), 2)} |")
    return "\n".join(lines)
