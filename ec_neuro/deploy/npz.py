"""npz export: the raw boolean masks and parameters, i.e. the deployed-network file itself (`ec_neuro.deployed`).

Layout (numpy .npz, no pickles): `header` (JSON: format, version, spec, task, meta), `W_in` (2*n_obs, N) bool,
`W_h` (N, N) bool [pre, post], `W_out` (N, n_act) bool, `obs_mean`, `obs_std` (n_obs,) float64.  Neurons
0..n_exc-1 are excitatory.  Any backend runs it; `read(write(net))` reproduces every array bit for bit.
"""
from __future__ import annotations

from pathlib import Path

from . import deployed
from .deployed import Deployed


def write(net: Deployed, path: str | Path) -> Path:
    """Write `net` as the deployed-network .npz (atomic)."""
    return deployed.save(path, net)


def read(path: str | Path) -> Deployed:
    """Read a deployed-network .npz; a bad file is a UserError naming the file and the problem."""
    return deployed.load(path)
