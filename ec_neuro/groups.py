"""A session leader's process group on its way out: list its processes, freeze them, free the shared memory they
hold (/dev/shm: Python's psm_* (Lava's channels), our ecneuro-*) and multiprocessing's pymp-* folders, kill them.
`child._die` calls these; nothing here imports the rest of ec_neuro."""
from __future__ import annotations

import os
import shutil
import signal
import sys
import time

SHM_PREFIXES = ("psm_", "ecneuro-")  # shared-memory names a child's group may leave: Python's (Lava), ours


def pids(pgid: int) -> list[int]:
    """The processes of group `pgid` (from /proc)."""
    out = []
    try:
        listed = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return out
    for pid in listed:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                if int(f.read().rsplit(b")", 1)[1].split()[2]) == pgid:
                    out.append(pid)
        except (OSError, ValueError, IndexError):
            continue
    return out


def release(pgid: int) -> list[str]:
    """Remove what processes of group `pgid` would have removed on a clean exit: the shared-memory files
    (/dev/shm: Python's psm_*, our ecneuro-*) they have mapped or open, and multiprocessing's pymp-* folders
    holding their sockets (Lava's shared-memory manager).  Returns the paths removed.  Called by a dying session
    leader before it kills its group."""
    shm: set[str] = set()
    sockets: set[str] = set()
    for pid in pids(pgid):
        try:
            with open(f"/proc/{pid}/maps", "rb") as f:
                for line in f:
                    i = line.find(b"/dev/shm/")
                    if i >= 0:
                        shm.add(line[i:].strip().decode(errors="replace").removesuffix(" (deleted)"))
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("/dev/shm/"):
                    shm.add(target.removesuffix(" (deleted)"))
                elif target.startswith("socket:["):
                    sockets.add(target[8:-1])
        except OSError:
            continue
    removed = []
    for path in sorted(shm):
        if os.path.basename(path).startswith(SHM_PREFIXES):
            try:
                os.unlink(path)
                removed.append(path)
            except OSError:
                pass
    folders = set()
    try:
        with open("/proc/net/unix") as f:
            next(f, None)
            for line in f:
                parts = line.split()
                if len(parts) >= 8 and parts[6] in sockets:
                    folder = os.path.dirname(parts[7])
                    if os.path.basename(folder).startswith("pymp-"):
                        folders.add(folder)
    except OSError:
        pass
    for folder in sorted(folders):
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def silence() -> None:
    """Point this process's stderr at /dev/null."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 2)
        os.close(fd)
    except OSError:
        pass


def kill_others(pgid: int) -> None:
    """SIGKILL every process of the group but this one, and give them a moment to go (up to 0.2 s)."""
    others = [pid for pid in pids(pgid) if pid != os.getpid()]
    for pid in others:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline and any(running(pid) for pid in others):
        time.sleep(0.005)


def running(pid: int) -> bool:
    """Process `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def freeze(pgid: int) -> None:
    """SIGSTOP every other process of the group (twice over, for one forked meanwhile); SIGKILL ends them."""
    stopped: set[int] = {os.getpid()}
    for _ in range(2):
        for pid in pids(pgid):
            if pid not in stopped:
                try:
                    os.kill(pid, signal.SIGSTOP)
                except OSError:
                    pass
                stopped.add(pid)


def remove_multiprocessing_tempdir() -> None:
    """multiprocessing's pymp-* folder (the sockets of Lava's shared-memory manager), which its exit handler
    would have removed."""
    mp = sys.modules.get("multiprocessing.process")
    if mp is None:
        return
    folder = mp.current_process()._config.get("tempdir")  # type: ignore[attr-defined]
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
