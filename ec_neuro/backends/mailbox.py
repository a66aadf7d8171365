"""A shared-memory mailbox between the lava-sim backend and its worker process.

Per control step the parent writes the host message (bias (P*N) + active (P), float64) into `inbox`, sends a
one-word token over the socket, and reads the readout r (P*N,) from `outbox` when the token comes back.
Pickling the ~130 kB arrays through the socket each way was slower (fused-k closed loop 0.18x -> 0.21x numpy
with the mailbox, BENCHMARKS.md).
The file lives in /dev/shm where there is one and is unlinked as soon as both sides have mapped it.  Its name
carries the creator's pid (ecneuro-lava-PID-*.box): a worker whose parent died removes its parent's files
(`remove_of`), and `create` removes those of creators that no longer run.
"""
from __future__ import annotations

import glob
import os
import tempfile

import numpy as np


def _folder() -> str:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


class Mailbox:
    """inbox (n_in,) and outbox (n_out,) float64 views of one mapped file."""

    def __init__(self, path: str, n_in: int, n_out: int, create: bool = False) -> None:
        self.path, self.n_in, self.n_out = path, int(n_in), int(n_out)
        mode = "w+" if create else "r+"
        self._map = np.memmap(path, dtype=np.float64, mode=mode, shape=(self.n_in + self.n_out,))
        self.inbox = self._map[:self.n_in]
        self.outbox = self._map[self.n_in:]

    @classmethod
    def create(cls, n_in: int, n_out: int) -> "Mailbox":
        """A new zeroed mailbox file; hand `spec()` to the other side, then `unlink()`."""
        _sweep()
        fd, path = tempfile.mkstemp(prefix=f"ecneuro-lava-{os.getpid()}-", suffix=".box", dir=_folder())
        os.close(fd)
        return cls(path, n_in, n_out, create=True)

    def spec(self) -> tuple[str, int, int]:
        """What the other side passes to Mailbox(*spec) to map the same memory."""
        return self.path, self.n_in, self.n_out

    def unlink(self) -> None:
        """Remove the file name; the mappings stay valid until closed."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        """Unlink and drop the mapping (freed once no view of it is left)."""
        self.unlink()
        self.inbox = self.outbox = self._map = np.zeros(0)


def remove_of(pid: int) -> None:
    """Remove the mailbox files created by process `pid` (it died before unlinking them)."""
    for path in glob.glob(os.path.join(_folder(), f"ecneuro-lava-{int(pid)}-*.box")):
        try:
            os.unlink(path)
        except OSError:
            pass


def _sweep() -> None:
    """Remove the mailbox files of creators that no longer run."""
    for path in glob.glob(os.path.join(_folder(), "ecneuro-lava-*-*.box")):
        pid = os.path.basename(path).split("-")[2]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            try:
                os.unlink(path)
            except OSError:
                pass
