"""Every file ec-neuro writes, written atomically, and read back with errors that say what is wrong.

    atomic_write(path, data)        temp file in the same folder, flush, fsync, rename (a kill never leaves half
                                    a file, and no temp file survives a failed write)
    write / read                    self-describing .npz: a JSON header plus arrays (network, bundle, checkpoint)
    append_jsonl / read_jsonl       one JSON object per line; a torn last line (a kill mid-append) is skipped
    rewrite_jsonl                   keep only some rows, atomically
    check_writable / check_output   refuse an output path before any work is done (a real write probe, so a
                                    read-only file system or a root-owned folder is caught too)
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

from . import faults, interrupt
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


def check_writable(path: str | Path, probe: bool = True) -> Path:
    """Refuse, before any work is done, an output path that cannot be written: a directory, a path under a
    regular file, a folder where nothing can be created (`probe`: try it, with a temporary file)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory; give a file name (e.g. {path / 'out'}{path.suffix or ''})")
    parent = path.parent
    for up in [parent, *parent.parents]:
        if up.exists():
            if not up.is_dir():
                raise UserError(f"{path}: cannot write there ({up} is a file, not a folder); give a path in a folder")
            if probe:
                probe_folder(up, path)
            elif not os.access(up, os.W_OK | os.X_OK):
                raise UserError(f"{path}: cannot write there (no permission to write in {up})")
            break
    return path


def probe_folder(folder: Path, path: Path | None = None) -> None:
    """Create and remove a temporary file in `folder`; a UserError naming `path` when that is not possible."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".ecneuro-probe-", dir=folder)
    except OSError as e:
        why = "permission denied" if isinstance(e, PermissionError) or e.errno in (1, 13, 30) else \
            (e.strerror or str(e))
        if e.errno == 30:
            why = "a read-only file system"
        raise UserError(f"{path or folder}: cannot write there ({why} in {folder}); choose a folder you can "
                        "write to") from None
    os.close(fd)
    os.unlink(tmp)


def remove_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files a killed `atomic_write` left in `folder` (call it holding the folder's lock)."""
    out = []
    try:
        names = [p for p in Path(folder).iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    except OSError:
        return out
    for p in names:
        try:
            p.unlink()
            out.append(p)
        except OSError:
            pass
    return out


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
    check_writable(path, probe=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _os_error(path, e, "write") from None
    try:
        os.fchmod(fd, _mode(path))
        with interrupt.deferred():  # Ctrl-C / SIGTERM take effect once the file is whole (or not written)
            faults.point(f"tmp:{path.name}")
            with os.fdopen(fd, "wb") as f:
                if callable(data):
                    data(f)
                else:
                    f.write(data.encode() if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
            faults.point(f"write:{path.name}")
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


def _mode(path: Path) -> int:
    """The mode a new file gets (0666 less the umask), or the mode of the file it replaces."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


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
    if not raw:
        raise UserError(f"{path}: is empty, not {what}")
    if sniffed == "hdf5" and "network" in what:
        raise UserError(f"{path}: this is an HDF5 file (a NIR graph?), not {what} (.npz); convert a NIR graph "
                        f"first with `ecneuro import {path} -o NET.npz`, then use NET.npz")
    if sniffed != "npz":
        raise UserError(f"{path}: this is {DESCRIBE.get(sniffed, sniffed)}, not {what} (an .npz archive "
                        f"written by ec-neuro)")
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


DESCRIBE = {"hdf5": "an HDF5 file (a NIR graph or a netx network?)", "npy": "a single .npy array",
            "json": "a JSON file", "text": "a text file", "unknown": "binary data of an unknown format"}


def sniff(raw: bytes) -> str:
    """What a file's first bytes say it is: "npz", "hdf5", "npy", "json", "text" or "unknown"."""
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"PK\x05\x06"):
        return "npz"
    if raw.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if raw.startswith(b"\x93NUMPY"):
        return "npy"
    head = raw[:512].lstrip()
    if head[:1] in (b"{", b"["):
        return "json"
    try:
        head.decode("utf-8")
        return "text" if head and b"\x00" not in head else "unknown"
    except UnicodeDecodeError:
        return "unknown"


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    """Append one row and fsync (a kill leaves at most a torn last line, which readers skip)."""
    faults.point(f"append:{path.name}")
    data = (json.dumps(row) + "\n").encode()
    try:
        with interrupt.deferred(), open(path, "ab") as f:
            if faults.armed(f"torn:{path.name}"):  # kill tests: half a row on disk, then the kill
                f.write(data[:len(data) // 2])
                f.flush()
                os.fsync(f.fileno())
                faults.point(f"torn:{path.name}")
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise _os_error(path, e, "append to") from None


def _row(line: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(line.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return row if isinstance(row, dict) else None


def _glued(line: bytes) -> dict[str, Any] | None:
    """A complete row written after a torn one on the same line (`{"generation": 3, "be{"generation": 3, ...}`)."""
    start = line.rfind(b"{")
    while start > 0:
        row = _row(line[start:])
        if row is not None and "generation" in row:
            return row
        start = line.rfind(b"{", 0, start)
    return None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete row.  A torn last line (a kill mid-append) is skipped; a complete row glued after a torn
    one is kept; any other damage is a UserError naming the line (never rows silently dropped)."""
    path = Path(path)
    if not path.exists():
        return []
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a JSON-lines file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise _os_error(path, e, "read") from None
    lines = raw.split(b"\n")
    rows = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        row = _row(line)
        if row is None:
            row = _glued(line)
        if row is not None:
            rows.append(row)
            continue
        last = i == len(lines) - 1  # no newline after it: an append cut short
        if last and line.lstrip().startswith(b"{"):
            continue
        what = "is not a JSON object" if sniff(line) in ("json", "text") else "is not text (binary data)"
        raise UserError(f"{path}: line {i + 1} {what}; the file is damaged: restore it, delete that line "
                        "(its generation is then missing from the history), or start a new run")
    return rows


def torn(path: Path) -> bool:
    """Whether the file ends in a partial line (a kill during an append)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False


def rewrite_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Replace the file by `rows`, atomically (a kill leaves the old file or the new one, never an empty one)."""
    atomic_write(path, "".join(json.dumps(r) + "\n" for r in rows))
