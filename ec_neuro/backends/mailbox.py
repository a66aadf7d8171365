"""A shared-memory mailbox between the lava-sim backend, its worker process and the worker's Lava processes.

Per control step the parent writes the host message (bias (P*N) + active (P), float64) into `inbox`, sends a
one-word token over the socket, and reads the readout r (P*N,) from `outbox` when the token comes back.
Pickling the ~130 kB arrays through the socket each way was slower (fused-k closed loop 0.18x -> 0.21x numpy
with the mailbox, BENCHMARKS.md).
A live fused graph's mailbox has extra named regions (`extra`: the next population's mask, v0 and constants,
written by the parent and read by the fused Lava process on a LOAD message, `lava_core.write_load`).
A mailbox with a doorbell (`bell=True`: a direct fused-k graph) also has two FIFOs beside the file: the host
rings one byte (STEP, LOAD or HALT) to the Lava process, which answers one byte (DONE or FAILED) on the other,
so that a control step is one hop each way between the host and the Lava process (not host -> worker -> Lava
channel and back: measured 0.56x -> 0.66x numpy fixed per control step, BENCHMARKS.md).
The file lives in /dev/shm where there is one and is unlinked as soon as both sides have mapped it; the Lava
processes forked from the worker inherit the worker's mapping (and its FIFO descriptors, opened read-write so
that no open blocks).  Names carry the creator's pid (ecneuro-lava-PID-*.box, .box.ring, .box.answer): a worker
whose parent died removes its parent's files (`remove_of`), and `create` removes those of creators that no
longer run.
"""
from __future__ import annotations

import glob
import os
import select
import tempfile
from typing import Callable, Sequence, Union

import numpy as np

Region = tuple[str, str, Union[int, tuple[int, ...]]]  # (name, numpy dtype string, element count or shape)
BELLS = (".ring", ".answer")  # the doorbell's FIFOs: host -> Lava process, Lava process -> host


def _files(path: str, bell: bool) -> tuple[str, ...]:
    """A mailbox's file names: the mapped file and, with a doorbell, its two FIFOs."""
    return (path,) + (tuple(path + end for end in BELLS) if bell else ())


def _folder() -> str:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


def _layout(n_in: int, n_out: int, extra: Sequence[Region]) -> tuple[list[tuple[str, np.dtype, tuple, int]], int]:
    """(name, dtype, shape, byte offset) of every region, each 64-byte aligned; and the file size."""
    out, off = [], 0
    for name, dtype, shape in (("inbox", "f8", n_in), ("outbox", "f8", n_out), *extra):
        dt = np.dtype(dtype)
        shape = (int(shape),) if np.isscalar(shape) else tuple(int(d) for d in shape)
        out.append((name, dt, shape, off))
        off += -(-int(np.prod(shape)) * dt.itemsize // 64) * 64
    return out, max(off, 64)


class Mailbox:
    """inbox (n_in,) and outbox (n_out,) float64 views of one mapped file, plus the named `extra` regions."""

    def __init__(self, path: str, n_in: int, n_out: int, create: bool = False,
                 extra: Sequence[Region] = (), bell: bool = False) -> None:
        self.path, self.n_in, self.n_out, self.bell = path, int(n_in), int(n_out), bool(bell)
        self._fds: list[int] = []
        if self.bell:
            for end in BELLS:
                if create:
                    os.mkfifo(path + end, 0o600)
                self._fds.append(os.open(path + end, os.O_RDWR))
        self.extra = tuple((str(n), str(d), int(c) if np.isscalar(c) else tuple(int(x) for x in c))
                           for n, d, c in extra)
        regions, size = _layout(self.n_in, self.n_out, self.extra)
        mode = "w+" if create else "r+"
        self._map = np.memmap(path, dtype=np.uint8, mode=mode, shape=(size,))
        self.names = [name for name, *_ in regions]
        for name, dt, shape, off in regions:
            # plain ndarray views (np.asarray drops the memmap subclass, which numba would not type)
            nbytes = int(np.prod(shape)) * dt.itemsize
            setattr(self, name, np.asarray(self._map[off:off + nbytes]).view(dt).reshape(shape))

    @classmethod
    def create(cls, n_in: int, n_out: int, extra: Sequence[Region] = (), bell: bool = False) -> "Mailbox":
        """A new zeroed mailbox file (and its doorbell FIFOs); hand `spec()` to the other side, then `unlink()`."""
        _sweep()
        fd, path = tempfile.mkstemp(prefix=f"ecneuro-lava-{os.getpid()}-", suffix=".box", dir=_folder())
        os.close(fd)
        try:
            return cls(path, n_in, n_out, create=True, extra=extra, bell=bell)
        except BaseException:
            for p in _files(path, bell):
                if os.path.exists(p):
                    os.unlink(p)
            raise

    def spec(self) -> tuple[str, int, int, bool, tuple[Region, ...], bool]:
        """What the other side passes to Mailbox(*spec) to map the same memory."""
        return self.path, self.n_in, self.n_out, False, self.extra, self.bell

    def ring(self, code: bytes) -> None:
        """Host (or the worker, to halt): one byte to the Lava process."""
        os.write(self._fds[0], code)

    def wait(self, alive: Callable[[], bool], poll_s: float = 1.0) -> bytes:
        """Host: the Lava process's one-byte answer; raises if `alive()` turns false while waiting."""
        fd = self._fds[1]
        while not select.select([fd], [], [], poll_s)[0]:
            if not alive():
                raise RuntimeError("the lava-sim worker or its Lava process ended while an answer was owed")
        return os.read(fd, 1)

    def take(self) -> bytes:
        """Lava process: the next byte the host rang (blocks)."""
        return os.read(self._fds[0], 1)

    def answer(self, code: bytes) -> None:
        """Lava process: one byte back to the host."""
        os.write(self._fds[1], code)

    def unlink(self) -> None:
        """Remove the file names; the mappings (and open FIFOs) stay valid until closed."""
        for p in _files(self.path, self.bell):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        """Unlink, close the doorbell and drop the mapping (freed once no view of it is left)."""
        self.unlink()
        while self._fds:
            os.close(self._fds.pop())
        for name in self.names:
            setattr(self, name, np.zeros(0))
        self._map = np.zeros(0, np.uint8)


def remove_of(pid: int) -> None:
    """Remove the mailbox files created by process `pid` (it died before unlinking them)."""
    for path in glob.glob(os.path.join(_folder(), f"ecneuro-lava-{int(pid)}-*.box*")):
        try:
            os.unlink(path)
        except OSError:
            pass


def _sweep() -> None:
    """Remove the mailbox files of creators that no longer run."""
    for path in glob.glob(os.path.join(_folder(), "ecneuro-lava-*-*.box*")):
        pid = os.path.basename(path).split("-")[2]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            try:
                os.unlink(path)
            except OSError:
                pass
