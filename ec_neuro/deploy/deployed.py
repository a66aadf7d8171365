"""The deployed network (theta = rho > 0.5) as one self-describing .npz: masks, spec, observation normaliser."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import files as npzio
from ..sample.masks import Masks
from ..errors import UserError
from ..spec import NetworkSpec

FORMAT = "ec-neuro/deployed-network"
VERSION = 2  # 2: the spec names its input gain; files of version 1 ran the doubled one


@dataclass(frozen=True)
class Deployed:
    """One thresholded network; masks hold a population of 1. obs_mean/obs_std: (n_obs,) normaliser."""

    spec: NetworkSpec
    masks: Masks
    obs_mean: np.ndarray
    obs_std: np.ndarray
    task: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.spec.n_obs
        for name in ("obs_mean", "obs_std"):
            arr = np.asarray(getattr(self, name))
            if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.number):
                raise UserError(f"network normaliser {name} must be {n} numbers (one per observation), got shape "
                                f"{arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise UserError(f"network normaliser {name} holds NaN or infinite values ({arr.tolist()}); "
                                "a usable network needs finite ones (re-export it from its run)")
        if np.any(np.asarray(self.obs_std) <= 0):
            raise UserError(f"network normaliser obs_std must be positive, got {np.asarray(self.obs_std).tolist()}")



def save(path: str | Path, net: Deployed) -> Path:
    """Write atomically (temporary file + rename)."""
    header = {"format": FORMAT, "version": VERSION, "spec": net.spec.to_dict(), "task": net.task, "meta": net.meta}
    return npzio.write(path, header, {"W_in": net.masks.W_in[0].astype(bool), "W_h": net.masks.W_h[0].astype(bool),
                                      "W_out": net.masks.W_out[0].astype(bool), "obs_mean": net.obs_mean,
                                      "obs_std": net.obs_std})


def load(path: str | Path) -> Deployed:
    """Read a file written by `save` (or a network of real weights, deploy/weights.py); anything else is a
    UserError naming the file and the problem."""
    from . import weights
    if weights.is_file(path):
        return weights.load(path)  # type: ignore[return-value]
    header, data = npzio.read(path, "an ec-neuro network file", FORMAT)
    try:
        spec_d = dict(header["spec"])
        if header.get("version", 1) < 2:
            spec_d.setdefault("in_gain", "doubled")
        spec = NetworkSpec.from_dict(spec_d)
        masks = Masks(data["W_in"][None].astype(np.uint8), data["W_h"][None].astype(np.uint8),
                      data["W_out"][None].astype(np.uint8))
        net = Deployed(spec, masks, data["obs_mean"], data["obs_std"], header.get("task"), header.get("meta", {}))
    except UserError as e:
        raise UserError(f"{path}: {e}") from None
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: not an ec-neuro network file (missing or bad {e})") from None
    for name, arr in masks.groups().items():
        if arr.shape[1:] != spec.group_shapes[name]:
            raise UserError(f"{path}: mask {name} has shape {arr.shape[1:]}, the spec says {spec.group_shapes[name]}")
    return net


def load_run(run_dir: str | Path) -> Deployed:
    """The best deterministic network of a run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    path = run_dir / "best.npz"
    if not path.is_file():
        raise UserError(f"{run_dir}: no best.npz yet (is this an ec-neuro run directory that finished a generation?)")
    return load(path)


def as_network(source: Any) -> Deployed:
    """A Deployed network from itself, a Run (its best network), a run directory or a network .npz file."""
    from .weights import WeightsNetwork
    if isinstance(source, (Deployed, WeightsNetwork)):
        return source  # type: ignore[return-value]
    if hasattr(source, "network") and hasattr(source, "path"):
        return source.network
    path = Path(source)
    if path.is_dir():
        return load_run(path)
    if path.is_file():
        return load(path)
    raise UserError(f"{path}: no such run directory or network file")
