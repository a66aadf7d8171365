"""Export a deployed (thresholded) network to chips and other tools, and import NIR graphs back.

    export(net, "nir" | "loihi" | "npz" | "netx", path, **options) -> path   (formats: registry.FORMATS;
        nir options: consumer = "exact" | "snntorch" | "norse", precision = "float" | "fixed")
    import_nir(path, dt=None, substeps=None) -> Deployed

Each format lives in its own module: `nir` (+ `nir_import`, `nir_consumers`: snnTorch/Norse runs), `loihi`
(+ `loihi_lava`, the Lava loader), `netx` (lava-dl's HDF5, + `netx_lava`), `npz`; `resources` estimates what a network costs on Loihi 2.  `net` may be a Deployed, a Run, a run
directory or a network file.  No output may replace a file of a run directory (its checkpoint, its network).
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from .. import files, registry
from ..errors import UserError, did_you_mean
from .deployed import Deployed, as_network


def export(net: Any, fmt: str, path: str | Path, **options: Any) -> Path:
    """Write `net` in format `fmt` to `path`; an unknown format is a UserError with the closest name.

    `options` go to the format's writer (nir: consumer, precision), each checked by name.  A writer that takes
    `precision` gets the run's own when `net` is a run (a fixed-point run exports as fixed point)."""
    writer = registry.load(registry.lookup(registry.FORMATS, "export format", fmt), f"export format {fmt!r}")
    takes = [p for p in inspect.signature(writer).parameters][2:]
    for key in options:
        if key not in takes:
            raise did_you_mean(f"option of export format {fmt!r}", key, takes) if takes else \
                UserError(f"export format {fmt!r} takes no options, got {key!r}")
    if "precision" in takes and options.get("precision") is None:
        options.pop("precision", None)
        run_precision = _run_precision(net)
        if run_precision:
            options["precision"] = run_precision
    files.check_output(path)
    from .weights import require_ei
    return writer(require_ei(as_network(net), f"export --format {fmt}"), path,
                  **{k: v for k, v in options.items() if v is not None})


def _run_precision(source: Any) -> str | None:
    """The precision a run (a Run or a run directory) was trained in; None for a network file."""
    cfg = getattr(source, "config", None)
    if cfg is not None and hasattr(cfg, "precision"):
        return cfg.precision
    if isinstance(source, (str, Path)) and (Path(source) / "config.json").is_file():
        try:
            return json.loads((Path(source) / "config.json").read_text()).get("precision")
        except (OSError, ValueError):
            return None
    return None


def import_nir(path: str | Path, dt: float | None = None, substeps: int | None = None) -> Deployed:
    """Read a NIR file (ours or a foreign recurrent CubaLIF/LIF graph) into a Deployed network."""
    from .nir_import import read
    return read(path, dt=dt, substeps=substeps)
