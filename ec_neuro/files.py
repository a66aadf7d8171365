"""Every file ec-neuro writes, written atomically, and read back with errors that say what is wrong.

    atomic_write(path, data)        temp file in the same folder, flush, fsync, rename (a kill never leaves half
                                    a file, and no temp file survives a failed write)
    write / read                    self-describing .npz: a JSON header plus arrays (network, bundle, checkpoint)
    append_jsonl / read_jsonl       one JSON object per line; a torn last line (a kill mid-append) is skipped
    rewrite_jsonl                   keep only some rows, atomically
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .errors import UserError

RUN_FILES = ("config.json", "versions.json", "metrics.jsonl", "fitness.jsonl", "checkpoint.npz", "best.npz")


def _os_error(path: Path, e: OSError, doing: str) -> UserError:
    why = e.strerror or str(e)
    if isinstance(e, (IsADirectoryError,)):
        why = "it is a directory"
    elif isinstance(e, NotADirectoryError):
        why = "a part of the path is a file, not a folder"
    elif isinstance(e, FileNotFoundError):
        why = "its folder does not exist"
    elif isinstance(e, PermissionError):
        why = "permission denied"
    return UserError(f"{path}: cannot {doing} ({why})")


def check_writable(path: str | Path) -> Path:
    """Refuse, before any work is done, an output path that cannot be written: a directory, a path under a
    regular file, a missing or read-only folder."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory; give a file name")
    parent = path.parent
    for up in [parent, *parent.parents]:
        if up.exists():
            if not up.is_dir():
                raise UserError(f"{path}: cannot write there ({up} is a file, not a folder)")
            if not os.access(up, os.W_OK | os.X_OK):
                raise UserError(f"{path}: cannot write there (no permission to write in {up})")
            break
    return path


def check_output(path: str | Path) -> Path:
    """`check_writable`, and refuse to replace a file that belongs to a run directory (its checkpoint, network,
    metrics): write exports and imports elsewhere."""
    path = check_writable(path)
    if path.name in RUN_FILES and (path.parent / "config.json").is_file() and path.name != "config.json" or \
            path.name in ("config.json", "versions.json") and (path.parent / "checkpoint.npz").is_file():
        raise UserError(f"{path}: belongs to the run in {path.parent}; writing it would replace the run's "
                        f"{path.name}. Choose another output file")
    return path


def atomic_write(path: str | Path, data: bytes | str | Callable[[Any], None]) -> Path:
    """Write `data` (bytes, text, or a function writing into a binary file) to `path` atomically."""
    path = Path(path)
    check_writable(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _os_error(path, e, "write") from None
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise _os_error(path, e, "write") from None
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


def write(path: str | Path, header: dict[str, Any], arrays: dict[str, np.ndarray], compress: bool = True) -> Path:
    """A self-describing .npz (header + arrays), atomically."""
    save = np.savez_compressed if compress else np.savez
    return atomic_write(path, lambda f: save(f, header=np.array(json.dumps(header)), **arrays))


def read(path: str | Path, what: str, fmt: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(header, arrays) of a file whose header says format `fmt`; else a UserError. `what`: "a Loihi bundle"."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not {what}")
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise _os_error(path, e, "read") from None
    sniffed = sniff(raw)
    if sniffed not in ("npz", "unknown"):
        raise UserError(f"{path}: this is {sniffed}, not {what}")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"{path}: corrupt or truncated, not {what} ({e.__class__.__name__}: {e})") from None
    except AttributeError:  # np.load of a non-npz file returns an array without `.files`
        raise UserError(f"{path}: not {what} (a single numpy array, not an .npz archive)") from None
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


def sniff(raw: bytes) -> str:
    """What a file's first bytes say it is: "npz", "a NIR (HDF5) file", "a JSON/text file", ... or "unknown"."""
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"PK\x05\x06"):
        return "npz"
    if raw.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 file (a NIR graph or a netx network?)"
    if raw.startswith(b"\x93NUMPY"):
        return "a single .npy array"
    if raw[:1] in (b"{", b"["):
        return "a JSON file"
    return "unknown"


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    """Append one row and fsync (a kill leaves at most a torn last line, which readers skip)."""
    try:
        with open(path, "ab") as f:
            f.write((json.dumps(row) + "\n").encode())
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise _os_error(path, e, "append to") from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete row; a torn or garbled last line is skipped, a garbled line before it is an error."""
    if not path.exists():
        return []
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as e:
        raise _os_error(path, e, "read") from None
    rows, bad = [], None
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))
            if not isinstance(row, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            bad = i
            continue
        if bad is not None:
            raise UserError(f"{path}: line {bad + 1} is not a JSON object, but complete rows follow it; "
                            "the file is damaged (restore it or start a new run)")
        rows.append(row)
    return rows


def rewrite_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Replace the file by `rows`, atomically (a kill leaves the old file or the new one, never an empty one)."""
    atomic_write(path, "".join(json.dumps(r) + "\n" for r in rows))
