"""Atomic checkpoints of the whole training state, and the run directory's files."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from .. import npzio
from ..errors import UserError
from ..strategies.ec import ECState
from ..strategies.optim import OptState
from .normalizer import RunningNorm

FORMAT = "ec-neuro/checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """Strategy state, normaliser, and the counters the metrics continue from."""

    state: ECState
    norm: RunningNorm
    counters: dict[str, Any]  # wall_time, env_steps, best_det
    config: dict[str, Any]


def save(path: Path, ck: Checkpoint) -> None:
    header = {"format": FORMAT, "version": VERSION, "generation": ck.state.generation, "opt_t": ck.state.opt.t,
              "counters": ck.counters, "config": ck.config}
    arrays = {"rho": ck.state.rho, "opt_m": ck.state.opt.m, "opt_v": ck.state.opt.v, **ck.norm.state()}
    npzio.write(path, header, arrays, compress=False)


def load(path: Path) -> Checkpoint:
    """Read a checkpoint; a missing, foreign or corrupt file is a UserError saying which."""
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint here (was the run started with this --run-dir?)")
    header, data = npzio.read(path, "an ec-neuro checkpoint", FORMAT)
    try:
        opt = OptState(data["opt_m"], data["opt_v"], int(header["opt_t"]))
        state = ECState(data["rho"], opt, int(header["generation"]))
        return Checkpoint(state, RunningNorm.from_state(data), header["counters"], header["config"])
    except KeyError as e:
        raise UserError(f"{path}: checkpoint lacks {e}; it is corrupt or from another version") from None


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def truncate_jsonl(path: Path, before_generation: int) -> None:
    """Drop rows of generations >= before_generation (written after the last checkpoint of a killed run)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["generation"] < before_generation:
                keep.append(line)
        except (json.JSONDecodeError, KeyError):
            break  # a torn last line from a kill
    path.write_text("".join(line + "\n" for line in keep))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
