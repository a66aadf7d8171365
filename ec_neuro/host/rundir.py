"""A run directory: its files, a lock held for the run's life, and the history a resume keeps.

    config.json  versions.json  metrics.jsonl  fitness.jsonl  checkpoint.npz  best.npz  .lock

The lock is an advisory `flock` on `.lock` (released by the kernel when the holder dies, so a lock left by a
killed run is detected as stale, never honoured); `.lock` names the holder's pid and command for the message,
and a stale one is named when it is taken over.  Under the lock, temporary files a killed write left are removed.

A resume continues from the checkpoint and keeps the history rows of the generations before it
(`keep_history`, atomically); a run killed before its first checkpoint starts again from generation 0.
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
        self.stale: str | None = None

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
                    raise UserError(f"{p}: cannot create a run directory there ({up} is a file, not a folder); "
                                    "give another --run-dir")
                files.probe_folder(up, p)
                break
        if p.is_dir():
            holder = self.holder() if self._fd is None else None
            if holder:
                raise UserError(f"{p} is in use by {holder}; wait for it to finish, stop it, or give another "
                                "--run-dir")
            if (p / "checkpoint.npz").exists():
                raise UserError(f"{p} already holds a run; resume it with `ecneuro train --resume {p}` "
                                "or give another --run-dir")
            if self.history_beyond_first():
                raise UserError(f"{p} holds a run whose checkpoint.npz is missing; it cannot be resumed, and "
                                "starting over would replace its files: restore checkpoint.npz or give another "
                                "--run-dir")
            if (p / "config.json").exists() and any((p / n).exists() for n in ("metrics.jsonl", "best.npz")):
                raise UserError(f"{p} holds a run that stopped before its first checkpoint; start it again with "
                                f"`ecneuro train --resume {p}` (it continues as configured) or give another --run-dir")
            if not os.access(p, os.W_OK | os.X_OK):
                files.probe_folder(p, p)

    def history_beyond_first(self) -> bool:
        """Whether the history records a generation after the first (so it came from checkpoints)."""
        for name in HISTORY:
            path = self.path / name
            try:
                rows = files.read_jsonl(path)
            except UserError:
                return True  # damaged: never treat it as empty
            if any(not isinstance(r.get("generation"), int) or r["generation"] > 0 for r in rows):
                return True
        return (self.path / "best.npz").exists() and _best_generation(self.path / "best.npz") != 0

    def holder(self) -> str | None:
        """Who holds the lock now ("pid 123 (...)"), or None."""
        path = self.path / ".lock"
        if not path.is_file():
            return None
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return os.read(fd, 4096).decode(errors="replace").strip() or "another process"
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def lock(self) -> None:
        """Hold the run's lock until `unlock` (or this process's death); a second holder is refused in one line.
        A lock file left by a process that died is named (`stale`) and taken over."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UserError(f"{self.path}: cannot use as a run directory ({e.strerror}); give another "
                            "--run-dir") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise UserError(f"{self.path} is in use by {holder}; wait for it to finish or stop it first") from None
        old = os.read(fd, 4096).decode(errors="replace").strip()
        self.stale = old or None
        if old:
            sys.stderr.write(f"note: {self.path / '.lock'} was left by {old}, which is no longer running; "
                             "taking the run over\n")
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, _holder_text().encode())
        os.fsync(fd)
        self._fd = fd
        files.remove_temporaries(self.path)

    def unlock(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)  # a clean exit leaves no holder to name
            except OSError:
                pass
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
        atomically; returns the metrics rows kept.  Nothing is rewritten when nothing changes."""
        kept: dict[str, list[dict[str, Any]]] = {}
        for name in HISTORY:
            path = self.path / name
            rows = files.read_jsonl(path)
            keep = [r for r in rows if isinstance(r.get("generation"), int) and r["generation"] < before_generation]
            if len(keep) != len(rows) or files.torn(path):
                files.rewrite_jsonl(path, keep)
            kept[name] = keep
        return kept["metrics.jsonl"]


def _holder_text() -> str:
    args = " ".join(sys.argv[1:])
    if len(args) > 100:
        args = args[:97] + "..."
    cmd = f"ecneuro {args}" if sys.argv and sys.argv[0].endswith(("ecneuro", "__main__.py")) else \
        f"{os.path.basename(sys.argv[0]) if sys.argv else 'python'} {args}".strip()
    return f"pid {os.getpid()} (`{cmd}`, since {time.strftime('%Y-%m-%d %H:%M:%S')})"


def _best_generation(path: Path) -> int | None:
    try:
        header, _ = files.read(path, "an ec-neuro network file", "ec-neuro/deployed-network")
        return int(header.get("meta", {}).get("generation"))
    except (UserError, TypeError, ValueError):
        return None
