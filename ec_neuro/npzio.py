"""Self-describing .npz files (a JSON header plus arrays), written atomically and read with clear errors.

Used by the deployed network, the Loihi-2 bundle and the training checkpoint.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError


def write(path: str | Path, header: dict[str, Any], arrays: dict[str, np.ndarray], compress: bool = True) -> Path:
    """Write into a temporary file, fsync, then rename over `path`: a kill never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save = np.savez_compressed if compress else np.savez
    with open(tmp, "wb") as f:
        save(f, header=np.array(json.dumps(header)), **arrays)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return path


def read(path: str | Path, what: str, fmt: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(header, arrays) of a file whose header says format `fmt`; else a UserError. `what`: "a Loihi bundle"."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"{path}: corrupt or truncated, not {what} ({e.__class__.__name__}: {e})") from None
    if "header" not in arrays:
        raise UserError(f"{path}: not {what} (no header; arrays {sorted(arrays)})")
    try:
        header = json.loads(str(arrays.pop("header")))
    except ValueError as e:
        raise UserError(f"{path}: corrupt or truncated, not {what} (bad header: {e})") from None
    if not isinstance(header, dict) or header.get("format") != fmt:
        found = header.get("format") if isinstance(header, dict) else None
        raise UserError(f"{path}: not {what} (format {found!r}, expected {fmt!r})")
    return header, arrays
