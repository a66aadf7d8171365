"""Child processes that serve one connection and die with their parent, whatever kills the parent.

The parent starts `python -m MODULE SOCKET` (never multiprocessing's spawn, which re-runs an unguarded user
script), hands it an authentication key on stdin and accepts its connection.  The child (`connect`) asks the
kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG) and, as a fallback, ends when the connection closes;
with `new_session` it leads its own process group, and its SIGTERM handler ends the whole group (e.g. the Lava
processes it forked).  Ctrl-C goes to the parent only: children ignore SIGINT and are stopped by the parent.
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
from multiprocessing.connection import Client, Connection, Listener
from typing import Any, Callable

PR_SET_PDEATHSIG = 1
PARENT_ENV = "ECNEURO_PARENT_PID"  # the parent's pid, so that a child notices a parent that died before it started
PATH_ENV = "ECNEURO_SYS_PATH"      # the parent's sys.path, so that a child imports what the parent can (a user's task)


class ChildError(RuntimeError):
    """The child answered with an error (its traceback text is the message)."""


class Child:
    """Handle on one child process: request/response over an authenticated Unix socket."""

    def __init__(self, module: str, new_session: bool = False, env: dict[str, str] | None = None) -> None:
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
                self.proc.stdin.close()
                self.conn: Connection = self._accept(listener)
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
        status, out = self.conn.recv()
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
        finally:
            self.conn.close()

    def kill(self) -> None:
        try:
            if self.new_session:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.kill()
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()


def die_with_parent(on_death: Callable[[], None] | None = None) -> None:
    """In a child: SIGTERM when the parent dies (Linux), handled by `on_death` then exit; SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def handler(signum: int, frame: Any) -> None:
        if on_death is not None:
            try:
                on_death()
            except Exception:
                pass
        if os.getpgrp() == os.getpid():  # a session leader takes its group (forked simulator processes) along
            os.killpg(os.getpid(), signal.SIGKILL)
        os._exit(143)

    signal.signal(signal.SIGTERM, handler)
    parent = int(os.environ.get(PARENT_ENV) or os.getppid())
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the closed connection still ends the child
    if os.getppid() != parent:
        handler(signal.SIGTERM, None)


def connect(address: str) -> Connection:
    """In a child: take the parent's sys.path and connect back with the key it wrote on stdin."""
    if os.environ.get(PATH_ENV):
        sys.path[:] = json.loads(os.environ[PATH_ENV])
    key = bytes.fromhex(sys.stdin.readline().strip())
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
