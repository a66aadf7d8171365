"""Child processes that serve one connection and die with their parent, whatever kills the parent.

The parent starts `python -m MODULE SOCKET` (never multiprocessing's spawn, which re-runs an unguarded user
script) in a session of its own (so a terminal's Ctrl-C reaches the parent only), hands it an authentication
key on its stdin and accepts its connection.  The child's stdin stays open as a lifeline: a watchdog thread in
the child (`connect`) reads it, and end of file -- the parent died, however, or closed it to stop the child --
ends the child at once, whatever its main thread is doing.  As fallbacks the child asks the kernel for SIGTERM
when its parent dies (PR_SET_PDEATHSIG) and ends when the connection closes.  On the way out a child that leads
its session frees the shared memory its process group has mapped (Lava's channels, our mailboxes in /dev/shm)
and kills the group (e.g. the Lava processes it forked).
"""
from __future__ import annotations

import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Client, Connection, Listener
from typing import Any, Callable

from . import groups


PR_SET_PDEATHSIG = 1
PARENT_ENV = "ECNEURO_PARENT_PID"  # the parent's pid, so that a child notices a parent that died before it started
PATH_ENV = "ECNEURO_SYS_PATH"      # the parent's sys.path, so that a child imports what the parent can (a user's task)
KILL_WAIT_S = 3.0                  # a child told to die that has not within this is killed with SIGKILL


class ChildError(RuntimeError):
    """The child answered with an error (its traceback text is the message)."""


class Child:
    """Handle on one child process: request/response over an authenticated Unix socket."""

    def __init__(self, module: str, new_session: bool = True, env: dict[str, str] | None = None) -> None:
        key = secrets.token_bytes(16)
        folder = tempfile.mkdtemp(prefix="ecneuro-")
        address = os.path.join(folder, "sock")
        try:
            with Listener(address, family="AF_UNIX", authkey=key) as listener:
                env = {**os.environ, **(env or {}), PARENT_ENV: str(os.getpid()),
                       PATH_ENV: json.dumps([os.path.abspath(p) if p else os.getcwd() for p in sys.path])}
                self.proc = subprocess.Popen([sys.executable, "-m", module, address], stdin=subprocess.PIPE,
                                             start_new_session=new_session, env=env)
                assert self.proc.stdin is not None
                self.proc.stdin.write(key.hex().encode() + b"\n")
                self.proc.stdin.flush()  # stdin stays open: it is the child's lifeline (see `connect`)
                self.conn: Connection = self._accept(listener)
        except BaseException:
            if getattr(self, "proc", None) is not None:
                self.new_session = new_session
                self._end()
            raise
        finally:
            if os.path.exists(address):
                os.unlink(address)
            os.rmdir(folder)
        self.new_session = new_session
        self.pending = False

    def _accept(self, listener: Listener) -> Connection:
        """Wait for the child to connect back; fail (not hang) if it dies first."""
        sock = getattr(getattr(listener, "_listener", None), "_socket", None)
        if sock is not None:
            sock.settimeout(1.0)
        while True:
            try:
                return listener.accept()
            except socket.timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"worker process exited with status {self.proc.returncode} "
                                       "before connecting (see its output above)") from None

    def send(self, *req: Any) -> None:
        self.conn.send(req)
        self.pending = True

    def answer(self, timeout: float | None = None) -> Any:
        """The answer to the last request; the child's error becomes ChildError (or the UserError it raised)."""
        if timeout is not None and not self.conn.poll(timeout):
            raise TimeoutError("worker process did not answer")
        try:
            status, out = self.conn.recv()
        except (EOFError, OSError):
            self.pending = False
            code = self.proc.poll()
            raise ChildError(f"worker process {self.proc.pid} ended without answering"
                             f"{f' (exit status {code})' if code is not None else ''}") from None
        self.pending = False
        if status == "user_error":
            raise out
        if status != "ok":
            raise ChildError(out)
        return out

    def call(self, *req: Any, timeout: float | None = None) -> Any:
        self.send(*req)
        return self.answer(timeout)

    def close(self, timeout: float = 20.0) -> None:
        """Ask the child to quit; kill it (and its process group) if it does not within `timeout`."""
        try:
            if self.pending:
                self.kill()
                return
            self.conn.send(("quit",))
            self.proc.wait(timeout=timeout)
        except Exception:
            self.kill()
        except BaseException:  # Ctrl-C while waiting: do not wait any longer
            self.kill()
            raise
        finally:
            self._close_lifeline()
            self.conn.close()

    def kill(self) -> None:
        """End the child now: its lifeline is cut (it frees its shared memory and kills its group), and what is
        left after KILL_WAIT_S is killed with SIGKILL."""
        self._end()
        try:
            self.conn.close()
        except OSError:
            pass

    def _end(self) -> None:
        self._close_lifeline()
        try:
            self.proc.wait(timeout=KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            pass
        try:
            if self.new_session:
                os.killpg(self.proc.pid, signal.SIGKILL)
            elif self.proc.poll() is None:
                self.proc.kill()
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def _close_lifeline(self) -> None:
        try:
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except OSError:
            pass


_ON_DEATH: list[Callable[[], None]] = []


def _die(on_death: Callable[[], None] | None = None) -> None:
    """End this child now: run the cleanup, free the group's shared memory, kill the group, exit."""
    for fn in ([on_death] if on_death else []) + _ON_DEATH:
        try:
            fn()
        except Exception:
            pass
    if os.getpgrp() == os.getpid():  # a session leader takes its group (forked simulator processes) along
        groups.silence()  # what this process (or a process its main thread forks now) prints while dying is noise
        groups.freeze(os.getpid())  # nothing else in the group makes new shared memory while it is collected
        groups.release(os.getpid())
        # This process's main thread may still be building a Lava graph, making segments (multiprocessing's
        # SharedMemoryManager: the client creates one, then asks the server to track it).  Kill the rest of the
        # group, the server among them, so that any segment made from now on is unlinked by its maker when the
        # server does not answer, and collect what the main thread made since the first pass (measured: 2 of 28
        # SIGTERMs during a stock graph build left 2-3 such segments behind before this second pass).
        groups.kill_others(os.getpid())
        groups.release(os.getpid())
        groups.remove_multiprocessing_tempdir()
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(143)


def die_with_parent(on_death: Callable[[], None] | None = None) -> None:
    """In a child: SIGTERM when the parent dies (Linux), handled by `on_death` then exit; SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if on_death is not None:
        _ON_DEATH.append(on_death)
    leader = os.getpid()

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != leader:  # a process forked from the child (Lava's) only exits
            os._exit(143)
        _die()

    signal.signal(signal.SIGTERM, handler)
    if os.getpgrp() == leader:
        # multiprocessing's pymp-* folder made now, so that every process forked from here (Lava's shared-memory
        # manager) keeps its sockets in this one, which `_die` removes
        from multiprocessing import util
        util.get_temp_dir()
    parent = int(os.environ.get(PARENT_ENV) or os.getppid())
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the lifeline and the closed connection still end the child
    if os.getppid() != parent:
        _die()


def _watch_lifeline() -> None:
    """Block on stdin until the parent's end closes (its death, or `Child.kill`), then end this child."""
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    _die()


def connect(address: str) -> Connection:
    """In a child: take the parent's sys.path, connect back with the key it wrote on stdin, and watch stdin (the
    lifeline) from a thread."""
    if os.environ.get(PATH_ENV):
        sys.path[:] = json.loads(os.environ[PATH_ENV])
    line = b""
    while not line.endswith(b"\n"):  # unbuffered: nothing after the key may be consumed here
        ch = os.read(0, 1)
        if not ch:
            _die()
        line += ch
    key = bytes.fromhex(line.decode().strip())
    threading.Thread(target=_watch_lifeline, name="ecneuro-lifeline", daemon=True).start()
    return Client(address, family="AF_UNIX", authkey=key)


def serve(conn: Connection, handle: Callable[[tuple], Any]) -> None:
    """Answer requests with handle(req) until ("quit",) or the parent goes away; UserErrors travel as themselves."""
    from .errors import UserError
    import traceback
    try:
        while True:
            req = conn.recv()
            if req[0] == "quit":
                break
            try:
                reply: tuple = ("ok", handle(req))
            except UserError as e:
                reply = ("user_error", e)
            except Exception:
                reply = ("error", traceback.format_exc())
            conn.send(reply)
    except (EOFError, OSError):
        pass  # the parent died or closed the socket
