"""Ctrl-C and SIGTERM: the run ends within seconds, with one line, and leaves a directory that resumes.

    install()                       SIGINT and SIGTERM raise `Interrupted` in the main thread
    with deferred(): ...            a generation's bookkeeping (metrics, best network, checkpoint) is never cut
                                    in half by them: the signal takes effect when the block ends

`Interrupted` is a BaseException (not a KeyboardInterrupt, which click would turn into a bare "Aborted!"), so
every `except BaseException` cleanup (workers killed, Lava stopped, temporary files removed) runs on the way out.  SIGKILL cannot be deferred; the atomic writes and the resume
logic (host/rundir.py) cover it.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

NAMES = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


class Interrupted(BaseException):
    """The process was told to stop (Ctrl-C or SIGTERM); `exit_code` is 128 + the signal number."""

    def __init__(self, signum: int = signal.SIGINT, message: str = "") -> None:
        super().__init__(message or f"interrupted by {NAMES.get(signum, f'signal {signum}')}")
        self.signum = signum
        self.exit_code = 128 + int(signum)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "interrupted"


_state: dict[str, Any] = {"depth": 0, "pending": None}


def _handler(signum: int, frame: Any) -> None:
    if _state["depth"] > 0:
        _state["pending"] = signum
        return
    raise Interrupted(signum)


def install() -> None:
    """Make SIGINT and SIGTERM raise Interrupted (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM (installed by `install`) until the block ends, then raise Interrupted."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        if _state["depth"] == 0 and _state["pending"] is not None:
            signum, _state["pending"] = _state["pending"], None
            raise Interrupted(signum)
