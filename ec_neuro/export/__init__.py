"""Export a deployed (thresholded) network to chips and other tools, and import NIR graphs back.

    export(net, "nir" | "loihi" | "npz", path) -> path      (formats: FORMATS)
    import_nir(path, dt=None, substeps=None) -> Deployed

Each format lives in its own module: `nir` (+ `nir_import`), `loihi` (+ `loihi_lava`, the Lava loader),
`npz`; `resources` estimates what a network costs on Loihi 2.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from ..deployed import Deployed
from ..errors import did_you_mean

FORMATS: dict[str, str] = {
    "nir": "ec_neuro.export.nir:write",
    "loihi": "ec_neuro.export.loihi:write",
    "npz": "ec_neuro.export.npz:write",
}


def export(net: Deployed, fmt: str, path: str | Path) -> Path:
    """Write `net` in format `fmt` to `path`; an unknown format is a UserError with the closest name."""
    if fmt not in FORMATS:
        raise did_you_mean("export format", fmt, FORMATS)
    mod, attr = FORMATS[fmt].split(":")
    return getattr(importlib.import_module(mod), attr)(net, path)


def import_nir(path: str | Path, dt: float | None = None, substeps: int | None = None) -> Deployed:
    """Read a NIR file (ours or a foreign recurrent CubaLIF/LIF graph) into a Deployed network."""
    from .nir_import import read
    return read(path, dt=dt, substeps=substeps)
