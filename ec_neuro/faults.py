"""Fault injection for the kill tests: a named moment in this process where a signal is sent to itself.

    ECNEURO_FAULT="write:checkpoint.npz#3"        SIGKILL at the 3rd time that point is reached
    ECNEURO_FAULT="lava.build@0.5:TERM>parent"    SIGTERM to the parent 0.5 s into a Lava graph build

Syntax: POINT[#N][@DELAY][:SIGNAL][>parent] (N defaults to 1, SIGNAL to KILL; INT, TERM, KILL, or LOG: no
signal, only the log line, for a test that signals from outside; `>parent`: the signal goes to the process that
started this one).  The points are named where they are called (`point(...)`):
write:NAME (a temporary file written, before it replaces NAME), tmp:NAME (a temporary file created, nothing in
it yet), append:NAME (before a row is appended), torn:NAME (half a row written), both in the training process;
lava.build / lava.runtime / lava.built (the Lava worker starts building a population's graph / has its runtime
and model processes up / has finished).
Several faults may be given, separated by commas.  Unset, a point costs one lookup.
With ECNEURO_FAULT_LOG set, each fault fired appends "TIME PID POINT SIGNAL TARGET" to that file.
"""
from __future__ import annotations

import os
import signal
import threading
import time

ENV = "ECNEURO_FAULT"
LOG_ENV = "ECNEURO_FAULT_LOG"  # a file: one line per fault fired (time, pid, point, signal, target)
_hits: dict[str, int] = {}


def _parse(spec: str) -> tuple[str, int, float | None, int, bool]:
    """(point, N, delay, signal (0: none), to the parent)."""
    parent = spec.endswith(">parent")
    spec = spec.removesuffix(">parent")
    sig = signal.SIGKILL
    if ":" in spec and spec.rsplit(":", 1)[1] in ("INT", "TERM", "KILL", "LOG"):
        spec, name = spec.rsplit(":", 1)
        sig = 0 if name == "LOG" else getattr(signal, "SIG" + name)
    delay = None
    if "@" in spec:
        spec, d = spec.rsplit("@", 1)
        delay = float(d)
    count = 1
    if "#" in spec:
        spec, n = spec.rsplit("#", 1)
        count = int(n)
    return spec, count, delay, sig, parent


def armed(name: str) -> bool:
    """Whether a fault is set for point `name` (so a caller can prepare it, e.g. write half a row)."""
    spec = os.environ.get(ENV)
    return bool(spec) and any(_parse(one)[0] == name for one in spec.split(","))


def point(name: str) -> None:
    """A moment a kill test can choose; fires the faults set in ECNEURO_FAULT (comma-separated) that name it."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    hit = False
    for one in spec.split(","):
        target, count, delay, sig, parent = _parse(one)
        if target != name:
            continue
        if not hit:
            _hits[name] = _hits.get(name, 0) + 1
            hit = True
        if _hits[name] != count:
            continue
        pid = int(os.environ.get("ECNEURO_PARENT_PID") or os.getppid()) if parent else os.getpid()
        if delay:
            threading.Timer(delay, _fire, (name, pid, sig)).start()
        else:
            _fire(name, pid, sig)


def _fire(name: str, pid: int, sig: int) -> None:
    log = os.environ.get(LOG_ENV)
    if log:  # the test reads when (and that) its fault fired
        with open(log, "a") as f:
            f.write(f"{time.time():.6f} {os.getpid()} {name} {int(sig)} {pid}\n")
    if sig:
        os.kill(pid, sig)
