"""Ray workers: the same `evaluate(request) -> result` as `SerialWorkers` / `ProcessWorkers`, on a Ray cluster.

    workers = RayWorkers(local=2)               # a private Ray on 127.0.0.1 with 2 CPUs, 2 actors
    workers = RayWorkers(address="HOST:PORT")   # or "auto": join a running cluster, one actor per CPU
    workers.sync(strategy, state)               # the loop's state (after init/resume and after every tell)
    res = workers.evaluate(req)                 # slot order; identical to SerialWorkers at any actor count

Actors are long-lived (`EvalActor`): each keeps its backend and task warm (`host.workers:Warm`; lava-sim: its
own Lava runtime) and receives only what a member is a function of.  Per generation the request without its
slots and without the population's center (spec, task, backend, seed, generation, size, obs statistics) is
`ray.put` once; each chunk call passes that reference, a slot range and a 16-byte fingerprint of the center.

Replay (`sync`): every actor holds a copy of the strategy and its state (sent once, when it first needs it)
and, after each generation, runs the driver's own `tell` on the broadcast fitness of that generation; the
driver sends the fingerprint of the state it reached, and an actor whose copy does not match drops it and is
sent the whole state on its next chunk, so a replay can cost time but never change a result.  So ρ (or θ)
never crosses the network after the first generation: per generation the traffic is the light request, the
chunk arguments and the fitness (P float64 per node), against (P + det) · D bits for a design sending masks.
Any strategy works whose state is a frozen dataclass and whose `ask`/`tell` are deterministic; a driver that
never calls `sync` simply sends the center with each generation.

Faults: a chunk whose actor dies (killed, OOM-killed, node lost) or runs past the timeout (its actor is then
killed) goes back to the head of the queue and runs on another actor; a fresh actor replaces the lost one.
Every slot is a pure function of the request, so the result is unchanged.  Each fault is logged (logger
"ec_neuro.ray") and counted (`generation_metrics`: `ray_faults`, `ray_retried`; `metrics()` for totals).

Loopback: for a private Ray (`local`) and for a loopback address, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 is set
before ray is imported, which keeps every socket on 127.0.0.1 (otherwise Ray listens on all interfaces and
advertises the external address).  A private Ray uses token auth with an in-memory random token unless
RAY_AUTH_MODE is set, so ~/.ray/auth_token is never written.  Nothing here ever runs `ray stop`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import logging
import os
import pickle
import shutil
import socket
import sys
import tempfile
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import MissingExtra, UserError
from .rollout import EvalRequest, EvalResult

log = logging.getLogger("ec_neuro.ray")

WARM = "ec_neuro.host.workers:Warm"  # by name: the actors import it, and no import cycle with workers.py
LOOPBACK = ("127.0.0.1", "localhost", "::1")
NEED = "need"  # an actor's answer when it does not hold the request's center
EMPTY = np.zeros(0)
NO_SLOTS = np.zeros(0, np.int64)
MIN_TIMEOUT_S = 600.0  # with no timeout given: a chunk is hung past max(this, 20 x the slowest chunk seen)


# ------------------------------------------------------------------------------------------------ importing ray
def is_loopback(address: str | None) -> bool:
    return address is not None and address.rsplit(":", 1)[0].strip("[]") in LOOPBACK


def require_ray() -> None:
    """MissingExtra unless ray can be imported (checked without importing it)."""
    import importlib.util
    missing = sys.modules["ray"] is None if "ray" in sys.modules else importlib.util.find_spec("ray") is None
    if missing:
        raise MissingExtra("the Ray workers (--ray-address / --ray-local)", "ray", "ray")


def check_head(address: str, given: str | None = None) -> None:
    """UserError unless something accepts TCP connections at HOST:PORT (ray.init retries a silent address for
    minutes; a refused connection is known at once)."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except (OSError, ValueError) as e:
        raise UserError(f"ray_address {given or address}: no Ray head answers at {address} ({e}); start one with "
                        "`ray start --head` (docs/ray.md)", "ray_address") from None


def preflight(address: str | None) -> None:
    """What train() checks before writing any file: ray installed; a HOST:PORT head answering."""
    require_ray()
    if address is not None and address != "auto":
        check_head(address)


def import_ray(loopback: bool, private: bool) -> Any:
    """ray, imported with its environment set first (ray reads both variables when it is imported).

    loopback: every socket on 127.0.0.1.  private (we start the cluster): token auth with an in-memory token
    unless RAY_AUTH_MODE is set (a plain local ray.init() writes ~/.ray/auth_token, which turns token auth on
    for every later `ray start` on the machine).
    """
    was_imported = "ray" in sys.modules and sys.modules["ray"] is not None
    if loopback:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    auth_changed = False
    if private and "RAY_AUTH_MODE" not in os.environ:
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ.setdefault("RAY_AUTH_TOKEN", os.urandom(16).hex())
        auth_changed = True
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError as e:
        if e.name is None or e.name.split(".")[0] == "ray":
            raise MissingExtra("the Ray workers (--ray-address / --ray-local)", "ray", "ray") from None
        raise
    if was_imported:
        from ray._private import ray_constants
        if loopback and ray_constants.ENABLE_RAY_CLUSTER:
            ray_constants.ENABLE_RAY_CLUSTER = False  # services.get_node_ip_address reads it at call time
        if auth_changed:
            from ray._raylet import Config
            Config.initialize("")  # what ray does itself when it turns token auth on after its import
    return ray


class _KeepSignals:
    """ray.init replaces this process's SIGTERM handler (and its C++ core adds a crash handler that prints a stack
    trace); put back what the process had, so that a killed run shuts down as it would without Ray."""

    NAMES = ("SIGTERM", "SIGINT")

    def __enter__(self) -> None:
        import signal
        import threading
        self.main = threading.current_thread() is threading.main_thread()
        self.saved = {n: signal.getsignal(getattr(signal, n)) for n in self.NAMES} if self.main else {}

    def __exit__(self, *exc: Any) -> None:
        import signal
        for n, h in self.saved.items():
            if h is not None:
                signal.signal(getattr(signal, n), h)


def start_local(num_cpus: int, object_store_mb: int = 512, log_to_driver: bool = True, **kwargs: Any) -> str:
    """Start a private Ray in this process, every socket on 127.0.0.1; returns its temp dir (remove it after
    ray.shutdown())."""
    ray = import_ray(loopback=True, private=True)
    if os.environ.pop("RAY_ADDRESS", None):  # ray.init() would join that cluster instead of starting ours
        log.warning("ray: RAY_ADDRESS ignored: starting a private local Ray (use --ray-address to join a cluster)")
    temp_dir = tempfile.mkdtemp(prefix="ecray-", dir="/tmp")  # short: Ray's unix socket paths must stay < 108 B
    try:
        with _KeepSignals():
            ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", _temp_dir=temp_dir,
                     object_store_memory=object_store_mb * 2**20, log_to_driver=log_to_driver, **kwargs)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return temp_dir


# ------------------------------------------------------------------------------------------------- fingerprints
def fingerprint(obj: Any) -> bytes:
    """16 bytes that change with any bit of a strategy state (frozen dataclasses of arrays and numbers), a
    center vector, or anything picklable."""
    h = hashlib.blake2b(digest_size=16)
    _feed(h, obj)
    return h.digest()


def _feed(h: Any, x: Any) -> None:
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        h.update(f"<{type(x).__module__}.{type(x).__qualname__}".encode())
        for f in dataclasses.fields(x):
            h.update(f.name.encode() + b"=")
            _feed(h, getattr(x, f.name))
        h.update(b">")
    elif isinstance(x, np.ndarray):
        h.update(f"[{x.dtype.str}{x.shape}".encode())
        h.update(np.ascontiguousarray(x).tobytes())
    elif isinstance(x, np.generic):
        _feed(h, x.item())
    elif isinstance(x, (list, tuple)):
        h.update(b"(")
        for v in x:
            _feed(h, v)
        h.update(b")")
    elif isinstance(x, dict):
        h.update(b"{")
        for k in sorted(x, key=repr):
            _feed(h, k)
            _feed(h, x[k])
        h.update(b"}")
    elif x is None or isinstance(x, (bool, int, float, str, bytes)):
        h.update(f"{type(x).__name__}:{x!r};".encode())
    else:
        h.update(pickle.dumps(x, protocol=5))


def state_fingerprint(strategy_fp: bytes, state: Any) -> bytes:
    """A strategy state together with the strategy that advances it (its pickle's fingerprint)."""
    return fingerprint((strategy_fp, state))


def pickled_size(obj: Any) -> int:
    return len(pickle.dumps(obj, protocol=5))


def light(req: EvalRequest) -> EvalRequest:
    """The request without its slots and without the population's center: what every chunk shares."""
    return replace(req, population=replace(req.population, center=EMPTY), slots=NO_SLOTS)


# ------------------------------------------------------------------------------------------------------ the actor
class EvalActor:
    """One long-lived worker: its backend and task stay warm across chunks and generations; in replay it holds
    a copy of the strategy and its state and the centers of the last few generations."""

    KEEP_CENTERS = 4

    def __init__(self) -> None:
        import numba
        numba.set_num_threads(1)  # the actors already use the cores (Ray sets OMP_NUM_THREADS=1, numba ignores it)
        mod, attr = WARM.split(":")
        self.warm = getattr(importlib.import_module(mod), attr)()
        self.strategy: Any = None
        self.state: Any = None
        self.state_fp: bytes | None = None
        self.strategy_fp = b""
        self.centers: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def ready(self) -> tuple[int, str]:
        import ray
        return os.getpid(), ray.get_runtime_context().get_node_id()

    def _know(self, fp: bytes, center: np.ndarray) -> None:
        self.centers[fp] = center
        self.centers.move_to_end(fp)
        while len(self.centers) > self.KEEP_CENTERS:
            self.centers.popitem(last=False)

    def _install(self, full: tuple[Any, Any, bytes, bytes]) -> None:
        self.strategy, self.state, self.state_fp, self.strategy_fp = full
        center = np.asarray(self.strategy.ask(self.state).center)
        self._know(fingerprint(center), center)

    def run(self, base: EvalRequest, slots: Any, center_fp: bytes, center: np.ndarray | None = None,
            full: tuple[Any, Any, bytes, bytes] | None = None, delay_s: float = 0.0) -> Any:
        """Evaluate `slots` ((start, stop) or an index array) of the generation `base` (the light request)."""
        t0 = time.perf_counter()
        if full is not None:
            self._install(full)
        if center is not None:
            self._know(center_fp, np.asarray(center))
        if center_fp not in self.centers:
            return NEED
        if delay_s:  # test hook: a chunk slow enough to be killed mid-generation
            time.sleep(delay_s)
        idx = np.arange(*slots) if isinstance(slots, tuple) else np.asarray(slots)
        pop = replace(base.population, center=self.centers[center_fp])
        res = self.warm.run(replace(base, population=pop, slots=idx))
        return res, time.perf_counter() - t0

    def advance(self, state_fp: bytes, fitness: np.ndarray, new_fp: bytes) -> bool:
        """The driver told the state `state_fp` this fitness and reached `new_fp`: do the same."""
        if self.state is None or self.state_fp != state_fp:
            self.state = self.state_fp = None
            return False
        pop = self.strategy.ask(self.state)
        new, _ = self.strategy.tell(self.state, pop, np.asarray(fitness)[:pop.size])
        if state_fingerprint(self.strategy_fp, new) != new_fp:  # not bit-identical (another CPU, another library): ask for the real one
            self.state = self.state_fp = None
            return False
        self.state, self.state_fp = new, new_fp
        center = np.asarray(self.strategy.ask(new).center)
        self._know(fingerprint(center), center)
        return True

    def close(self) -> None:
        self.warm.close()


# ----------------------------------------------------------------------------------------------------- the driver
@dataclass
class _Slot:
    """One actor handle, what the driver believes it holds, and what it is doing."""

    handle: Any
    ready_ref: Any = None  # pending until the actor has started
    pid: int | None = None
    node: str | None = None
    started: float = 0.0
    chunk: int | None = None
    ref: Any = None
    t0: float = 0.0
    state_fp: bytes | None = None  # the strategy state it holds (optimistic: a failed replay answers NEED)
    centers: set[bytes] = field(default_factory=set)


@dataclass
class _Totals:
    generations: int = 0
    chunks: int = 0
    faults: int = 0  # chunks re-run because their actor died or hung
    died: int = 0
    timeouts: int = 0
    task_errors: int = 0
    actors_started: int = 0
    need: int = 0  # chunks an actor could not run without the state or center (fresh or failed replay)
    full_syncs: int = 0
    bytes_full: int = 0  # whole strategy states sent (to each node that needed one)
    bytes_center: int = 0  # centers sent to nodes (without replay; or an older population's, at a confirmation)
    bytes_put: int = 0  # the light request, once per node and generation
    bytes_args: int = 0  # per-chunk arguments
    bytes_advance: int = 0  # the fitness broadcast of the replay, once per node, and the fingerprints
    bytes_returned: int = 0


class RayWorkers:
    """Evaluate a generation's slots on Ray actors, in contiguous chunks pulled by idle actors, in slot order.

    address: "auto" or "HOST:PORT" joins a running cluster (a resumed driver simply reattaches); local: start a
    private Ray on loopback with that many CPUs (if this process is connected to a Ray already, use that one).
    workers: actors to start (default: `local`, or the cluster's CPUs).  chunks_per_worker: slot ranges per
    actor and generation (>1 balances uneven episode lengths).  timeout_s: a chunk running longer is abandoned,
    its actor killed and replaced, the chunk re-run (None: max(600 s, 20 x the slowest chunk so far)).
    max_attempts: tries per chunk before the generation fails.  replay: actors replay `tell` (see the module
    docstring); False sends the center to every node each generation instead (D float64 per node: cheaper for
    the actors when P is very large, 64 * nodes / P of the masks' bytes).
    """

    def __init__(self, address: str | None = None, local: int | None = None, workers: int | None = None,
                 timeout_s: float | None = None, chunks_per_worker: int = 2, max_attempts: int = 3,
                 start_timeout_s: float = 300.0, log_to_driver: bool = True, object_store_mb: int = 512,
                 replay: bool = True) -> None:
        if (address is None) == (local is None):
            raise UserError("RayWorkers needs either address (a running cluster) or local (a private Ray)",
                            "ray_address")
        self.address, self.local = address, local
        self.ray = ray = import_ray(loopback=local is not None or is_loopback(address), private=local is not None)
        self.timeout_s, self.max_attempts, self.start_timeout_s = timeout_s, max(1, max_attempts), start_timeout_s
        self.chunks_per_worker = max(1, chunks_per_worker)
        self.replay = replay
        self.t = _Totals()
        self._gen: dict[str, Any] = {"faults": 0, "retried": []}
        self._temp_dir: str | None = None
        self._owns_ray = False
        self._slowest = 0.0
        self._synced: tuple[Any, Any, bytes, bytes, bytes] | None = None  # strategy, state, fp, strategy fp,
        #                                                                    the fp of its center
        self._full_ref: Any = None
        self._full_bytes = 0
        self._full_nodes: set[str | None] = set()  # nodes the current full state was sent to
        self._told: tuple[bytes, np.ndarray] | None = None  # (center fp, fitness of the members) of the last gen
        self._slots: list[_Slot] = []
        self.last: dict[str, Any] = {}
        t0 = time.perf_counter()
        if ray.is_initialized():
            pass  # this process is connected already (a caller's ray.init, e.g. a test's cluster)
        elif local is not None:
            self._temp_dir = start_local(local, object_store_mb=object_store_mb, log_to_driver=log_to_driver)
            self._owns_ray = True
        else:
            self._connect(address, log_to_driver)
        self.init_s = time.perf_counter() - t0
        try:
            # What a reference costs in a call's arguments.  Only this one tiny object is ever pickled out of
            # band (Ray then pins it for the life of the driver); the real references are never pickled here.
            self._ref_bytes = pickled_size(ray.put(None))
            n = workers or local or int(ray.cluster_resources().get("CPU", 1))
            self.workers = max(1, int(n))
            # No runtime_env: one (even env_vars only) makes Ray start fresh worker processes instead of its
            # prestarted ones (measured: 2 actors ready in 3.9 s instead of 1.0 s).
            self._cls = ray.remote(EvalActor).options(num_cpus=1, max_restarts=0, max_concurrency=1,
                                                   scheduling_strategy="SPREAD")
            self._slots = [self._spawn() for _ in range(self.workers)]
            for s in self._slots:
                self._started(s, ray.get(s.ready_ref, timeout=self.start_timeout_s))
        except BaseException:
            self.close(abort=True)
            raise
        self.start_s = time.perf_counter() - t0
        log.info("ray: %d actors on %d node(s) ready in %.1f s", self.workers, len(self._nodes()), self.start_s)

    def _connect(self, address: str, log_to_driver: bool) -> None:
        ray = self.ray
        found = address
        if address == "auto":
            from ray._private import ray_constants, services
            try:
                found = services.canonicalize_bootstrap_address(address) or address
            except ConnectionError as e:
                raise UserError(f"ray_address auto: {e}", "ray_address") from None
            if is_loopback(found):
                ray_constants.ENABLE_RAY_CLUSTER = False
        check_head(found, address)
        try:
            with _KeepSignals():
                ray.init(address=address, log_to_driver=log_to_driver)
        except (ConnectionError, ValueError) as e:
            raise UserError(f"ray_address {address}: cannot connect to the Ray cluster there ({e}); if it uses "
                            "token auth, set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN here as on the head node",
                            "ray_address") from None
        self._owns_ray = True  # our connection: ray.shutdown() disconnects, the cluster keeps running

    # -- actors
    def _spawn(self) -> _Slot:
        h = self._cls.remote()
        self.t.actors_started += 1
        return _Slot(h, ready_ref=h.ready.remote(), started=time.perf_counter())

    @staticmethod
    def _started(s: _Slot, got: tuple[int, str]) -> None:
        s.pid, s.node = got
        s.ready_ref = None

    def _replace(self, i: int, kill: bool) -> None:
        if kill:
            try:
                self.ray.kill(self._slots[i].handle, no_restart=True)
            except Exception:
                pass
        self._slots[i] = self._spawn()

    def _nodes(self) -> set[str]:
        return {s.node for s in self._slots if s.node is not None}

    def actor_pids(self) -> list[int | None]:
        return [s.pid for s in self._slots]

    # -- replay
    def sync(self, strategy: Any, state: Any) -> None:
        """The driver's state after init/resume or a tell: the actors replay the tell instead of receiving it."""
        if not self.replay:
            self._synced = self._full_ref = self._told = None
            return
        try:
            strategy_fp = fingerprint(pickle.dumps(strategy, protocol=5))
            fp = state_fingerprint(strategy_fp, state)
            center_fp = fingerprint(np.asarray(strategy.ask(state).center))
        except Exception as e:  # not a dataclass state, an unpicklable strategy: send the center instead
            log.info("ray: no replay for this strategy (%s); centers are sent every generation", e)
            self._synced = self._full_ref = None
            return
        prev, told = self._synced, self._told
        self._synced, self._full_ref, self._told = (strategy, state, fp, strategy_fp, center_fp), None, None
        self._full_nodes = set()
        if prev is None or told is None or told[0] != prev[4]:
            return  # the fitness of the previous state's population was not seen here: full state when needed
        holders = [s for s in self._slots if s.ready_ref is None and s.state_fp == prev[2]]
        fit_ref = self.ray.put(told[1]) if holders else None
        for s in holders:
            s.handle.advance.remote(prev[2], fit_ref, fp)  # queued before its next chunk (one call at a time)
            s.state_fp = fp
            s.centers.add(center_fp)
        if holders:
            nodes = len({s.node for s in holders})
            self.t.bytes_advance += nodes * pickled_size(told[1]) + len(holders) * (pickled_size((fp, fp)) +
                                                                                    self._ref_bytes)

    # -- one generation
    def chunk_ranges(self, n: int) -> list[tuple[int, int]]:
        """Contiguous chunk bounds over n slots, in order: workers * chunks_per_worker of them."""
        k = max(1, min(n, self.workers * self.chunks_per_worker))
        edges = np.linspace(0, n, k + 1).round().astype(int)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]

    def _timeout(self) -> float:
        return self.timeout_s if self.timeout_s is not None else max(MIN_TIMEOUT_S, 20 * self._slowest)

    def evaluate(self, req: EvalRequest, delays: dict[int, float] | None = None) -> EvalResult:
        """The request's slots in order (`delays`, chunk -> seconds, is a test hook that slows chosen chunks)."""
        ray = self.ray
        t0 = time.perf_counter()
        slots = np.asarray(req.slots)
        if slots.size == 0:
            raise ValueError("a request without slots")
        pop = req.population
        center = np.asarray(pop.center)
        center_fp = fingerprint(center)
        base = light(req)
        base_ref = ray.put(base)
        contiguous = bool(np.array_equal(slots, np.arange(slots[0], slots[0] + slots.size)))
        ranges = self.chunk_ranges(slots.size)
        args = [(int(slots[a]), int(slots[a]) + b - a) if contiguous else slots[a:b] for a, b in ranges]
        queue: deque[int] = deque(range(len(ranges)))
        attempts = [0] * len(ranges)
        parts: list[EvalResult | None] = [None] * len(ranges)
        center_ref: Any = None
        center_nodes: set[str | None] = set()
        nodes_used: set[str] = set()
        arg_bytes = ret_bytes = 0
        delays = dict(delays or {})
        while queue or any(s.ref is not None for s in self._slots):
            for s in self._slots:  # a chunk for every idle, started actor
                if s.ref is not None or s.ready_ref is not None or not queue:
                    continue
                c = queue.popleft()
                attempts[c] += 1
                extra: dict[str, Any] = {}
                if center_fp not in s.centers:
                    syn = self._synced
                    if syn is not None and syn[4] == center_fp:  # the state this center comes from, once
                        if self._full_ref is None:
                            self._full_ref = ray.put(syn[:4])
                            self._full_bytes = pickled_size(syn[:4])
                        extra["full"] = self._full_ref
                        s.state_fp = syn[2]
                        self.t.full_syncs += 1
                        if s.node not in self._full_nodes:  # an object crosses to each node once
                            self._full_nodes.add(s.node)
                            self.t.bytes_full += self._full_bytes
                    else:  # no replay (or a confirmation of an older population): the center itself
                        if center_ref is None:
                            center_ref = ray.put(center)
                        extra["center"] = center_ref
                        if s.node not in center_nodes:
                            center_nodes.add(s.node)
                            self.t.bytes_center += center.nbytes
                    s.centers.add(center_fp)
                s.chunk, s.t0 = c, time.perf_counter()
                s.ref = s.handle.run.remote(base_ref, args[c], center_fp, delay_s=delays.pop(c, 0.0), **extra)
                arg_bytes += pickled_size((args[c], center_fp)) + (1 + len(extra)) * self._ref_bytes
                if s.node is not None:
                    nodes_used.add(s.node)
            waiting = [s.ref for s in self._slots if s.ref is not None] + \
                      [s.ready_ref for s in self._slots if s.ready_ref is not None]
            if not waiting:
                raise RuntimeError("ray: no actor can run: every actor is gone and none could be started")
            ready, _ = ray.wait(waiting, num_returns=1, timeout=min(1.0, max(0.05, self._timeout() / 4)))
            now = time.perf_counter()
            for i, s in enumerate(self._slots):
                if s.ready_ref is not None:
                    if s.ready_ref in ready:
                        try:
                            self._started(s, ray.get(s.ready_ref))
                        except Exception as e:  # a replacement that could not start
                            log.warning("ray: a replacement actor failed to start (%s); starting another", e)
                            self._replace(i, kill=True)
                    continue
                if s.ref is None:
                    continue
                c = s.chunk
                assert c is not None
                if s.ref in ready:
                    try:
                        got = ray.get(s.ref)
                    except ray.exceptions.RayTaskError as e:  # the code raised; the actor itself is fine
                        if isinstance(e.cause, UserError):
                            raise e.cause from None
                        self.t.task_errors += 1
                        if attempts[c] >= self.max_attempts:
                            raise
                        why, renew, kill = f"slots {self._range(args[c])} raised in actor pid {s.pid}: {e}", \
                            False, False
                    except ray.exceptions.RayActorError as e:  # killed, crashed, OOM-killed, node lost
                        self.t.died += 1
                        why, renew, kill = f"actor pid {s.pid} died ({type(e).__name__})", True, False
                    except ray.exceptions.RayError as e:  # the result was lost
                        self.t.died += 1
                        why, renew, kill = f"a result of actor pid {s.pid} was lost ({type(e).__name__})", True, True
                    else:
                        s.ref = s.chunk = None
                        if isinstance(got, str) and got == NEED:  # no matching copy: the state on the next try
                            s.state_fp, s.centers = None, set()
                            attempts[c] -= 1
                            queue.appendleft(c)
                            self.t.need += 1
                            log.info("ray: actor pid %s holds no matching strategy state; sending it", s.pid)
                            continue
                        parts[c], run_s = got
                        self._slowest = max(self._slowest, run_s)
                        ret_bytes += pickled_size(parts[c])
                        continue
                elif now - s.t0 > self._timeout():
                    self.t.timeouts += 1
                    why, renew, kill = f"actor pid {s.pid} ran past {self._timeout():.0f} s", True, True
                else:
                    continue
                self.t.faults += 1
                self._gen["faults"] += 1
                self._gen["retried"].append(self._range(args[c]))
                if attempts[c] >= self.max_attempts:
                    raise RuntimeError(f"ray: slots {self._range(args[c])} failed {attempts[c]} times; last: {why}")
                log.warning("ray: %s; re-running slots %s on another actor (attempt %d of %d)", why,
                            self._range(args[c]), attempts[c] + 1, self.max_attempts)
                queue.appendleft(c)
                s.ref = s.chunk = None
                if renew:
                    self._replace(i, kill=kill)
            self._check_starting()
        out = EvalResult.concat([p for p in parts if p is not None])
        # what tell will be given, if this request covered the whole population (the replay's broadcast)
        if contiguous and slots[0] == 0 and slots.size >= pop.size:
            self._told = (center_fp, np.array(out.fitness[:pop.size]))
        t = self.t
        t.generations += 1
        t.chunks += len(ranges)
        put_bytes = pickled_size(base) * max(1, len(nodes_used))
        t.bytes_put += put_bytes
        t.bytes_args += arg_bytes
        t.bytes_returned += ret_bytes
        self.last = {"chunks": len(ranges), "wall_s": time.perf_counter() - t0, "bytes_put": put_bytes,
                     "bytes_args": arg_bytes, "bytes_returned": ret_bytes, "nodes": len(nodes_used)}
        return out

    @staticmethod
    def _range(a: Any) -> str:
        return f"[{a[0]}, {a[1]})" if isinstance(a, tuple) else f"{list(a)}"

    def _check_starting(self) -> None:
        """Fail (not hang) when every actor is a replacement that has not started within start_timeout_s."""
        now = time.perf_counter()
        if self._slots and all(s.ready_ref is not None for s in self._slots) and \
                min(now - s.started for s in self._slots) > self.start_timeout_s:
            raise RuntimeError(f"ray: no actor could be started within {self.start_timeout_s:.0f} s "
                               "(does the cluster have a free CPU?)")

    # -- figures
    def generation_metrics(self) -> dict[str, Any]:
        """ray_faults (chunks re-run since the last call) and ray_retried (their slot ranges); reset."""
        out = {"ray_faults": self._gen["faults"], "ray_retried": list(self._gen["retried"]),
               "ray_workers": self.workers}
        self._gen = {"faults": 0, "retried": []}
        return out

    def metrics(self) -> dict[str, Any]:
        """Totals: faults, died, timeouts, actors started, full syncs, bytes sent and returned."""
        return {**dataclasses.asdict(self.t), "workers": self.workers, "nodes": len(self._nodes())}

    def close(self, abort: bool = False) -> None:
        """Close every actor's backends (Lava runtimes), end the actors, disconnect (and stop a private Ray)."""
        ray = self.ray
        if ray.is_initialized():
            if not abort:
                refs = [s.handle.close.remote() for s in self._slots if s.ready_ref is None]
                try:
                    ray.get(refs, timeout=60)
                except Exception as e:
                    log.warning("ray: closing the actors: %s", e)
            for s in self._slots:
                try:
                    ray.kill(s.handle, no_restart=True)
                except Exception:
                    pass
            if self._owns_ray:
                ray.shutdown()
        self._slots = []
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
