"""A run directory: its files, a lock held for the run's life, and the history a resume keeps.

    config.json  versions.json  metrics.jsonl  fitness.jsonl  checkpoint.npz  best.npz  .lock

The lock is an advisory `flock` on `.lock` (released by the kernel when the holder dies, so a lock left by a
killed run is detected as stale, never honoured); `.lock` names the holder's pid and command for the message.
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .. import files
from ..errors import UserError

HISTORY = ("metrics.jsonl", "fitness.jsonl")


class RunDir:
    """One run directory; `lock()` before writing anything into it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def check_new(self) -> None:
        """Refuse to start a run where one already is, or where the path cannot hold a directory."""
        p = self.path
        if p.exists() and not p.is_dir():
            raise UserError(f"{p}: is a file, not a run directory; give another --run-dir")
        for up in p.parents:
            if up.exists():
                if not up.is_dir():
                    raise UserError(f"{p}: cannot create a run directory there ({up} is a file)")
                if not os.access(up, os.W_OK | os.X_OK):
                    raise UserError(f"{p}: cannot create a run directory there (no permission to write in {up})")
                break
        if p.is_dir():
            if (p / "checkpoint.npz").exists():
                raise UserError(f"{p} already holds a run; resume it with `ecneuro train --resume {p}` "
                                "or give another --run-dir")
            if any((p / name).exists() for name in ("metrics.jsonl", "best.npz")):
                raise UserError(f"{p} holds a run whose checkpoint is missing; it cannot be resumed, and starting "
                                "over would replace its files: give another --run-dir")

    def lock(self) -> None:
        """Hold the run's lock until `unlock` (or this process's death); a second holder is refused in one line."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UserError(f"{self.path}: cannot use as a run directory ({e.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise UserError(f"{self.path} is in use by {holder}; wait for it to finish or stop it first") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} ({' '.join(sys.argv[:3])}, since {time.strftime('%H:%M:%S')})".encode())
        self._fd = fd

    def unlock(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def write_json(self, name: str, data: Any) -> None:
        files.atomic_write(self.path / name, json.dumps(data, indent=2) + "\n")

    def read_json(self, name: str, what: str) -> Any:
        path = self.path / name
        if not path.is_file():
            raise UserError(f"{self.path}: not an ec-neuro run directory (no {name})")
        try:
            return json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise UserError(f"{path}: corrupt, not {what} ({type(e).__name__}: {str(e)[:120]})") from None

    def keep_history(self, before_generation: int) -> list[dict[str, Any]]:
        """Drop rows of generations >= before_generation (written after the checkpoint a resume continues from),
        atomically; returns the metrics rows kept."""
        kept: dict[str, list[dict[str, Any]]] = {}
        for name in HISTORY:
            rows = files.read_jsonl(self.path / name)
            keep = [r for r in rows if isinstance(r.get("generation"), int) and r["generation"] < before_generation]
            if len(keep) != len(rows) or (self.path / name).exists() and _torn(self.path / name):
                files.rewrite_jsonl(self.path / name, keep)
            kept[name] = keep
        return kept["metrics.jsonl"]


def _torn(path: Path) -> bool:
    """Whether the file ends in a partial line (a kill during an append)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"
