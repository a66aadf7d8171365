"""Export a deployed (thresholded) network to chips and other tools, and import NIR graphs back.

    export(net, "nir" | "loihi" | "npz", path) -> path      (formats: registry.FORMATS)
    import_nir(path, dt=None, substeps=None) -> Deployed

Each format lives in its own module: `nir` (+ `nir_import`), `loihi` (+ `loihi_lava`, the Lava loader),
`npz`; `resources` estimates what a network costs on Loihi 2.  `net` may be a Deployed, a Run, a run
directory or a network file.  No output may replace a file of a run directory (its checkpoint, its network).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import files, registry
from .deployed import Deployed, as_network


def export(net: Any, fmt: str, path: str | Path) -> Path:
    """Write `net` in format `fmt` to `path`; an unknown format is a UserError with the closest name."""
    writer = registry.load(registry.lookup(registry.FORMATS, "export format", fmt), f"export format {fmt!r}")
    files.check_output(path)
    from .weights import require_ei
    return writer(require_ei(as_network(net), f"export --format {fmt}"), path)


def import_nir(path: str | Path, dt: float | None = None, substeps: int | None = None) -> Deployed:
    """Read a NIR file (ours or a foreign recurrent CubaLIF/LIF graph) into a Deployed network."""
    from .nir_import import read
    return read(path, dt=dt, substeps=substeps)
