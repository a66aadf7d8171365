"""The lava-sim worker: a spawned process, the only one that imports Lava, serving one pipe.

Messages (tuples) from the parent:
    ("open_loop", plan, v0 (P*N,), bias (T, P*N), tier)    -> ("ok", rows (T, 2 + 3K, P*N) float64)
    ("start", box, plan, v0, tier)                          -> ("ok", None)        builds and starts a graph
    ("start_naive", box, [plan], [v0])                      -> ("ok", None)        one graph per member
    ("step",)                                               -> ("ok", None)        one control step
The per-step data goes through the shared Mailbox `box` (its spec): "step" reads msg (P*N + P,) from its
inbox and leaves the readout r (P*N,) in its outbox.
    ("end",)                                                -> ("ok", counts (P*N,)) stops the runtime
    ("quit",)                                               -> exits
Any failure answers ("error", traceback text) and stops the graph.  SIGINT is ignored here (and so in the
Lava processes forked from here): Ctrl-C is handled by the parent, which then stops or ends this worker.
"""
from __future__ import annotations

import functools
import signal
import traceback
import warnings
from typing import Any

import numpy as np

from ..compilers.lava import LavaPlan, build
from .mailbox import Mailbox


FREE_STEPS = 2**31 - 1  # Lava timesteps of a free-running fused-k session (it is stopped long before)


@functools.cache
def _warm_fused() -> None:
    """Once per worker, before the first fused graph: Lava forks its model processes from here, so they
    inherit the compiled kernels instead of loading them on their first control step."""
    from ..lava_procs.fused import warm
    warm()


class NaiveSession:
    """The naive layout (benchmarks only): one stock graph and runtime per member, stepped side by side."""

    def __init__(self, plans: list[LavaPlan], v0s: list[np.ndarray]) -> None:
        from lava.magma.core.run_conditions import RunSteps
        self.sessions = []
        try:
            for pl, v0 in zip(plans, v0s):
                self.sessions.append(Session(pl, v0, "stock", False))
        except BaseException:
            self.stop()
            raise
        self.n = plans[0].size
        self.steps = RunSteps(num_steps=plans[0].substeps, blocking=False)
        self.last: np.ndarray | None = None
        self.box: Mailbox | None = None

    def step(self, msg: np.ndarray) -> np.ndarray:
        """msg = [bias (P*N), active (P)] -> rows (2, P*N), all runtimes running concurrently."""
        P, n = len(self.sessions), self.n
        for p, s in enumerate(self.sessions):
            s._send.send(np.concatenate([msg[p * n:(p + 1) * n], msg[P * n + p:P * n + p + 1]]))
            s.proc.run(condition=self.steps)
        rows = []
        for s in self.sessions:
            rows.append(s._recv.recv())
            s.proc.wait()
        self.last = np.concatenate(rows, axis=1)
        return self.last

    def stop(self) -> None:
        for s in self.sessions:
            s.stop()


class Session:
    """One built graph: the runtime, its bridge's external channels, and K timesteps per control step."""

    def __init__(self, plan: LavaPlan, v0: np.ndarray, tier: str, record: bool) -> None:
        from lava.magma.core.run_conditions import RunSteps
        if tier.startswith("fused"):
            _warm_fused()
        self.proc, self.bridge, cfg = build(plan, v0, tier, record)
        # fused-k runs free (one long non-blocking run paced by host_in); the others run K steps per call
        self.free = tier == "fused-k"
        self.steps = RunSteps(num_steps=FREE_STEPS if self.free else plan.substeps, blocking=not self.free)
        self.running = False
        self.proc.create_runtime(run_cfg=cfg)
        self.running = True
        self._send = self.bridge.host_in.external_pipe_csp_send_port
        self._recv = self.bridge.host_out.external_pipe_csp_recv_port
        self._halt = np.zeros(self.bridge.host_in.shape)
        self._halt[plan.size] = -1.0  # HALT: the fused model stops reading host_in and idles
        self.last: np.ndarray | None = None
        self.box: Mailbox | None = None
        if self.free:
            self.proc.run(condition=self.steps)

    def step(self, msg: np.ndarray) -> np.ndarray:
        """Send [bias, active], run K timesteps, return the bridge's rows (2 + 3K*record, P*N)."""
        self._send.send(msg)
        if not self.free:
            self.proc.run(condition=self.steps)
        self.last = self._recv.recv()
        return self.last

    def stop(self) -> None:
        if self.running:
            self.running = False
            if self.free:
                self._send.send(self._halt)
            self.proc.stop()


def open_loop(plan: LavaPlan, v0: np.ndarray, bias: np.ndarray, tier: str) -> np.ndarray:
    """Replay bias (T, P*N) with every member active; rows per control step, stacked."""
    s = Session(plan, v0, tier, record=True)
    try:
        active = np.ones(plan.population)
        return np.stack([s.step(np.concatenate([b, active])) for b in bias])
    finally:
        s.stop()


def _handle(session: Session | NaiveSession | None, req: tuple) -> tuple[Any, Session | NaiveSession | None]:
    """Run one request; returns (answer, the session now open)."""
    cmd = req[0]
    if cmd == "open_loop":
        return open_loop(*req[1:]), session
    if cmd in ("start", "start_naive"):
        if session is not None:
            session.stop()
        box = Mailbox(*req[1])
        new = Session(*req[2:], record=False) if cmd == "start" else NaiveSession(*req[2:])
        new.box = box
        return None, new
    if session is None:
        raise RuntimeError(f"{cmd!r}: no graph started")
    if cmd == "step":
        box = session.box
        box.outbox[:] = session.step(box.inbox)[0]
        return None, session
    if cmd == "end":
        out = None if session.last is None else session.last[1].copy()
        session.stop()
        return out, None
    raise ValueError(f"unknown worker command {cmd!r}")


def serve(conn: Any) -> None:
    """Worker main loop: until "quit" or the parent goes away; the open graph is always stopped on the way out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import lava.magma.core.process.process  # noqa: F401  (first: it sets the 'fork' start method)
    warnings.filterwarnings("ignore")
    session: Session | NaiveSession | None = None
    try:
        while True:
            req = conn.recv()
            if req[0] == "quit":
                break
            try:
                out, session = _handle(session, req)
                reply: tuple = ("ok", out)
            except Exception:
                if session is not None:
                    session, old = None, session
                    try:
                        old.stop()
                    except Exception:
                        pass
                reply = ("error", traceback.format_exc())
            conn.send(reply)
    except (EOFError, OSError):
        pass  # the parent died or closed the socket
    finally:
        if session is not None:
            session.stop()


def main(argv: list[str]) -> None:
    """`python -m ec_neuro.backends.lava_worker SOCKET`: connect back to the parent (authkey on stdin)."""
    import sys
    from multiprocessing.connection import Client
    key = bytes.fromhex(sys.stdin.readline().strip())
    conn = Client(argv[0], family="AF_UNIX", authkey=key)
    try:
        serve(conn)
    finally:
        conn.close()


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
