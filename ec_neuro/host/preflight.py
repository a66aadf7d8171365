"""Checks made before a run writes anything: memory, the run directory, the backend, and what a resume may change.

    check_train(cfg, rd)                      a new run: fits in memory, the directory can hold it, backend starts
    plan = check_resume(rd, generations, workers)
        plan.config     the config the resume runs (generations / workers changed, validated)
        plan.checkpoint the checkpoint it continues from (None: the run stopped before its first one)
        plan.done       generations already done
        plan.finished   None, or why there is nothing to do (a finished run), in one line

Both raise a UserError, and write nothing, for anything they refuse.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import files, memory, registry, validate
from ..errors import UserError
from . import checkpoint as ckpt
from .config import TrainConfig
from .rundir import RunDir

CHANGEABLE_ON_RESUME = ("generations", "workers", "ray_address", "ray_local")


@dataclass
class ResumePlan:
    config: TrainConfig
    checkpoint: ckpt.Checkpoint | None
    done: int
    changed: bool
    finished: str | None = None


def check_backend(cfg: TrainConfig) -> None:
    """The backend can be built with the config's options (a missing extra or a bad option is refused here)."""
    registry.make_backend(cfg.backend, **cfg.backend_options).close()


def check_ray(cfg: TrainConfig) -> None:
    """A run on Ray: the ray extra is installed and a HOST:PORT head answers."""
    if cfg.ray_address is not None or cfg.ray_local is not None:
        from .ray_workers import preflight as ray_preflight
        ray_preflight(cfg.ray_address)


def check_train(cfg: TrainConfig, rd: RunDir) -> None:
    """Everything a new run needs, checked before its directory is made."""
    memory.check_train(cfg)
    rd.check_new()
    check_backend(cfg)
    check_ray(cfg)


def load_config(rd: RunDir) -> TrainConfig:
    if not rd.path.is_dir():
        if rd.path.exists():
            raise UserError(f"{rd.path}: is a file, not a run directory; give the folder a run was trained into")
        raise UserError(f"{rd.path}: no such run directory")
    if not (rd / "config.json").exists() and (rd / ".lock").exists():
        raise UserError(f"{rd.path}: the run was stopped before it wrote its config, so there is nothing to "
                        f"resume; start it again with `ecneuro train --run-dir {rd.path} ...` (same settings)")
    d = rd.read_json("config.json", "a run's config")
    if isinstance(d, dict) and isinstance(d.get("network"), dict) and "kind" not in d["network"]:
        d["network"].setdefault("in_gain", "doubled")  # a run of ec-neuro before network kinds: the old input gain
    return TrainConfig.from_dict(d, str(rd / "config.json"))


def _reached(cfg: TrainConfig, row: dict[str, Any]) -> bool:
    """Whether the run stopped at `row` on its target (as host.train's loop decides: reached, and confirmed on
    fresh episodes when the run confirms)."""
    det = row.get("det_return")
    if cfg.target_return is None or not isinstance(det, (int, float)) or det < cfg.target_return:
        return False
    confirmed = row.get("confirmed")
    return not cfg.confirm_episodes or bool(isinstance(confirmed, dict) and confirmed.get("solved"))


def check_resume(rd: RunDir, generations: Any = None, workers: Any = None, ray_address: Any = None,
                 ray_local: Any = None, time_budget: Any = None) -> ResumePlan:
    """What `resume` will do, validated; nothing is written.  generations / time_budget extend the run; workers,
    ray_address, ray_local given replace its placement (results do not depend on it)."""
    cfg = load_config(rd)
    holder = rd.holder() if rd._fd is None else None
    if holder:
        raise UserError(f"{rd.path} is in use by {holder}; wait for it to finish or stop it first")
    path = rd / "checkpoint.npz"
    if path.exists():
        ck: ckpt.Checkpoint | None = ckpt.load(path)
        done = ck.state.generation
    else:
        if rd.history_beyond_first():
            raise UserError(f"{rd.path}: checkpoint.npz is missing, but the run's history goes past its first "
                            "generation; it cannot continue without it: restore checkpoint.npz, or start a new run "
                            "with another --run-dir")
        ck, done = None, 0
    rows = [r for r in files.read_jsonl(rd / "metrics.jsonl")
            if isinstance(r.get("generation"), int) and r["generation"] < done]
    last = rows[-1] if rows else {}
    changes: dict[str, Any] = {}
    if generations is not None:
        validate.integer("generations", generations, 1, 10**9)
        if _reached(cfg, last):
            raise UserError(f"generations: this run stopped at generation {last['generation']} because det_return "
                            f"{last['det_return']:g} reached target_return {cfg.target_return:g}"
                            f"{' (confirmed)' if cfg.confirm_episodes else ''}; a resume would stop again at once. "
                            "Start a new run with a higher target (or --set target_return=null)", "generations")
        if generations <= done:
            raise UserError(f"generations must be more than the {done} generations this run has done to extend it "
                            f"(e.g. {done + max(done // 2, 1)}), got {generations}", "generations")
        changes["generations"] = generations
    if workers is not None or ray_address is not None or ray_local is not None:
        if workers is not None:
            validate.integer("workers", workers, 1, 1024)
        changes.update(workers=1 if workers is None else workers, ray_address=ray_address, ray_local=ray_local)
    if time_budget is not None:
        changes["time_budget"] = validate.number("time_budget", time_budget, positive=True, unit="of seconds")
    new = TrainConfig.from_dict({**cfg.to_dict(), **changes}) if changes else cfg
    memory.check_train(new)
    check_backend(new)
    check_ray(new)
    used = (ck.counters.get("wall_time") or 0.0) if ck is not None else 0.0
    finished = None
    if _reached(new, last):
        finished = (f"{rd.path}: this run is finished: it stopped at generation {last['generation']} when det_return "
                    f"{last['det_return']:g} reached target_return {new.target_return:g}; nothing to resume")
    elif new.time_budget is not None and used >= new.time_budget:
        finished = (f"{rd.path}: this run is finished: it used its time budget ({used:.0f} of {new.time_budget:g} s "
                    f"of wall time, {done} generations); nothing to resume. To train further, give a larger "
                    "time_budget (ecn.resume(..., time_budget=...))")
    elif done >= new.generations:
        det = last.get("det_return")
        finished = (f"{rd.path}: this run is finished ({done} of {new.generations} generations"
                    f"{f', last det_return {det:g}' if isinstance(det, (int, float)) else ''}); nothing to resume. "
                    f"To train further, give --generations N with N > {done}")
    return ResumePlan(new, ck, done, bool(changes), finished)
