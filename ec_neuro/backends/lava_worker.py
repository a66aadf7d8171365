"""The lava-sim worker: a spawned process, the only one that imports Lava, serving one pipe.

Messages (tuples) from the parent:
    ("open_loop", plan, v0 (P*N,), bias (T, P*N), tier[, init]) -> ("ok", rows (T, 2 + 3K, P*N) float64)
        init: a mid-episode state to start from (stock only; lava_graph.build)
    ("replay", box, plan, init, capacity)                   -> ("ok", built)       the stock models replay
        box.bias from the state init, u, v, spikes into the box (lava_graph.ReplayGraph, the verification's
        reference, kept for the next replay of the same shape; built: a new graph had to be built)
    ("start", box, session, args)                           -> ("ok", None)        builds and starts a graph:
        session is a "module:Class" target (default `lava_graph:Session`), built as Class(*args, box=box)
    ("load",)                                               -> ("ok", None)        a live fused graph takes the
        population the parent wrote into the mailbox (mask, v0, constants), before its next control step
    ("step",)                                               -> ("ok", None)        one control step
The per-step data goes through the shared Mailbox `box` (its spec): "step" reads msg (P*N + P,) from its
inbox and leaves the readout r (P*N,) in its outbox.
    ("finish",)                                             -> ("ok", counts (P*N,)) the rollout's spike counts;
        the graph stays up for the next "load"
    ("end",)                                                -> ("ok", counts (P*N,)) stops the runtime
    ("quit",)                                               -> exits
Any failure answers ("error", traceback text) and stops the graph.  SIGINT is ignored here (and so in the
Lava processes forked from here): Ctrl-C is handled by the parent, which then stops or ends this worker.
"""
from __future__ import annotations

import traceback
import warnings
from typing import Any

from .. import faults
from ..child import connect, die_with_parent
from ..registry import load
from .lava_graph import ReplayGraph, open_loop, replay_key
from .mailbox import Mailbox

SESSION = "ec_neuro.backends.lava_graph:Session"


def _handle(session: Any, req: tuple) -> tuple[Any, Any]:
    """Run one request; returns (answer, the session now open)."""
    cmd = req[0]
    if cmd == "open_loop":
        return open_loop(*req[1:]), session
    if cmd == "replay":
        return _replay(*req[1:]), session
    if cmd == "start":
        if session is not None:
            session.stop()
        box = Mailbox(*req[1])
        box.unlink()  # mapped on both sides now: the name is not needed, and a kill cannot leave it behind
        faults.point("lava.build")  # kill tests: a kill while the graph is being built
        new = load(req[2])(*req[3], box=box)
        faults.point("lava.built")
        return None, new
    if session is None:
        raise RuntimeError(f"{cmd!r}: no graph started")
    if cmd == "step":
        box = session.box
        rows = session.step(box.inbox)
        if rows is not None:
            box.outbox[:] = rows[0]
        return None, session
    if cmd == "load":
        session.load()
        return None, session
    if cmd == "finish":
        return session.counts(), session
    if cmd == "end":
        out = session.counts()
        session.stop()
        return out, None
    raise ValueError(f"unknown worker command {cmd!r}")


_REPLAYS: dict[tuple, ReplayGraph] = {}  # the verification's reusable stock graphs, by population shape


def _replay(spec: tuple, plan: Any, init: dict, capacity: int) -> bool:
    """Replay box.bias on the stock models from `init`, u, v, z into the box; True if a graph was built."""
    box = Mailbox(*spec)
    try:
        T = box.bias.shape[0]
        key = replay_key(plan)
        graph = _REPLAYS.get(key)
        built = graph is None or graph.steps < T
        if built:
            if graph is not None:
                _REPLAYS.pop(key).stop()
            graph = _REPLAYS[key] = ReplayGraph(plan, max(T, capacity))
        try:
            u, v, z = graph.run(plan, init, box.bias)
        except BaseException:
            _REPLAYS.pop(key, None)
            graph.stop()
            raise
        box.u[:], box.v[:], box.z[:] = u, v, z
        return built
    finally:
        box.close()


def _stop_replays() -> None:
    while _REPLAYS:
        try:
            _REPLAYS.popitem()[1].stop()
        except Exception:
            pass


_OPEN: dict[str, Any] = {}  # the session now open, for the parent-death handler


def _on_parent_death() -> None:
    """The parent died (or cut the lifeline): free the mailboxes it made, also one of a graph still being built
    (Lava's own shared memory and processes go with this session: `child._die`)."""
    session = _OPEN.get("session")
    if session is not None and session.box is not None:
        session.box.unlink()
    import os
    from ..child import PARENT_ENV
    from .mailbox import remove_of
    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit() and (os.getppid() != int(parent) or not os.path.exists(f"/proc/{parent}")):
        remove_of(int(parent))  # only a dead parent's: a living one unlinks its own


def serve(conn: Any) -> None:
    """Worker main loop: until "quit" or the parent goes away; the open graph is always stopped on the way out."""
    import lava.magma.core.process.process  # noqa: F401  (first: it sets the 'fork' start method)
    warnings.filterwarnings("ignore")
    session: Any = None
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
            _OPEN["session"] = session
            conn.send(reply)
    except (EOFError, OSError):
        pass  # the parent died or closed the socket
    finally:
        if session is not None:
            session.stop()
        _stop_replays()


def main(argv: list[str]) -> None:
    """`python -m ec_neuro.backends.lava_worker SOCKET`: connect back to the parent (authkey on stdin)."""
    die_with_parent(_on_parent_death)
    conn = connect(argv[0])
    try:
        serve(conn)
    finally:
        conn.close()


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
