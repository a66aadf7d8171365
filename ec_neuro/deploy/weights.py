"""The deployed network of a run on real weights (ES, EGGROLL): one self-describing .npz with the spec, the
center parameters (the deterministic member) and the observation normaliser; `ecneuro eval` replays it.

E/I networks deploy as ec_neuro/deploy/deployed.py's 1-bit masks; `deployed.load` reads either kind.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import files, registry
from ..errors import UserError

FORMAT = "ec-neuro/deployed-weights"
VERSION = 1


@dataclass(frozen=True)
class WeightsNetwork:
    """One network of real weights: spec (a WeightSpec), params (D,) float64, obs_mean/obs_std (n_obs,)."""

    spec: Any
    params: np.ndarray
    obs_mean: np.ndarray
    obs_std: np.ndarray
    task: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def save(path: str | Path, net: WeightsNetwork) -> Path:
    header = {"format": FORMAT, "version": VERSION, "spec": net.spec.to_dict(), "task": net.task, "meta": net.meta}
    return files.write(path, header, {"params": np.asarray(net.params, np.float64), "obs_mean": net.obs_mean,
                                      "obs_std": net.obs_std})


def is_file(path: str | Path) -> bool:
    """Whether `path` is a file written by `save` (False for anything else, never raising)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return "header" in z.files and json.loads(str(z["header"])).get("format") == FORMAT
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, AttributeError, TypeError):
        return False


def load(path: str | Path) -> WeightsNetwork:
    header, data = files.read(path, "an ec-neuro network file", FORMAT)
    try:
        spec = registry.network_spec(header["spec"])
        net = WeightsNetwork(spec, data["params"], data["obs_mean"], data["obs_std"], header.get("task"),
                             header.get("meta", {}))
    except (KeyError, ValueError, TypeError) as e:
        raise UserError(f"{path}: not an ec-neuro network file (missing or bad {e})") from None
    if net.params.shape != (spec.n_params,):
        raise UserError(f"{path}: {net.params.shape[0]} parameters, the {spec.kind} spec has {spec.n_params}")
    return net


def require_ei(net: Any, what: str) -> Any:
    """`net`, unless it is a network of real weights: those have no 1-bit masks to export, cross-check or draw."""
    if isinstance(net, WeightsNetwork):
        method = net.meta.get("method") or "es/eggroll"
        raise UserError(f"{what} takes an E/I network (ei-rsnn, trained by ec); this is a {net.spec.kind} network of "
                        f"real weights (trained by {method}), which `ecneuro eval` and `ecneuro plot` take")
    return net
