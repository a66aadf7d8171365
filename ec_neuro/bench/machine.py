"""What this machine's cores give: the same single-threaded work in one process alone, then in N at once.

`scaling(kind, n)` = (work done per second by n processes together) / (by one alone).  A worker count can speed a
generation up by at most about this much on the same machine, whatever the evaluator does, so the workers bench
reports its ratios beside it.  Kinds: "env" (a gymnasium environment stepped with random actions: Hopper-v5, or
CartPole-v1 without MuJoCo: the interpreter and physics work of a rollout), "alu" (a numba integer loop: the
cores' arithmetic alone), "mem" (numpy copies of 32 MB: memory bandwidth).  On a virtual machine whose vCPUs
share physical cores (SMT siblings on the host) "alu" and "env" fall well short of n.
"""
from __future__ import annotations

import sys
import statistics
import time
from typing import Any, Callable

import numpy as np

KINDS = ("env", "alu", "mem")


def _unit(kind: str, env_id: str) -> Callable[[], None]:
    """One unit of work of `kind`, warmed up."""
    if kind == "alu":
        from numba import njit

        @njit(cache=False)
        def lcg(n: int) -> int:
            x = 1
            for _ in range(n):
                x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFF
            return x

        lcg(10)
        return lambda: None if lcg(2_000_000) < 0 else None
    if kind == "mem":
        a = np.ones(4_000_000)
        b = np.empty_like(a)
        return lambda: np.copyto(b, a)
    import gymnasium as gym
    env = gym.make(env_id)
    env.reset(seed=0)
    actions = [env.action_space.sample() for _ in range(200)]

    def steps() -> None:
        for a in actions:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
    return steps


def _serve(req: tuple) -> Any:
    """Child side: ("prepare", kind, env_id) builds and warms the unit; ("run", seconds, at) waits until time
    `at`, then counts units for `seconds` and answers units per second."""
    global _FN
    if req[0] == "prepare":
        _FN = _unit(req[1], req[2])
        _FN()
        return None
    seconds, at = req[1], req[2]
    time.sleep(max(0.0, at - time.time()))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        _FN()
        n += 1
    return n / (time.perf_counter() - t0)


_FN: Callable[[], None] = lambda: None  # noqa: E731  (the child's prepared unit)


def _rate(kind: str, env_id: str, procs: int, seconds: float) -> float:
    """Units per second of `procs` processes running at once, summed."""
    from ..child import Child
    kids: list[Child] = []
    try:
        for _ in range(procs):
            kids.append(Child("ec_neuro.bench.machine", env={"NUMBA_NUM_THREADS": "1"}))
        for k in kids:
            k.call("prepare", kind, env_id)
        at = time.time() + 0.2  # a common start
        for k in kids:
            k.send("run", seconds, at)
        return sum(k.answer(timeout=60 + seconds) for k in kids)
    finally:
        for k in kids:
            k.close()


def scaling(kinds: tuple[str, ...] = KINDS, procs: int = 2, seconds: float = 3.0, reps: int = 2,
            env_id: str | None = None) -> dict[str, Any]:
    """{kind: {"ratios": [n-at-once / one-alone per repetition], "median": ...}}; alone and together alternate."""
    import importlib.util
    env_id = env_id or ("Hopper-v5" if importlib.util.find_spec("mujoco") is not None else "CartPole-v1")
    out: dict[str, Any] = {"procs": procs, "seconds": seconds, "env": env_id}
    for kind in kinds:
        ratios = [_rate(kind, env_id, procs, seconds) / _rate(kind, env_id, 1, seconds) for _ in range(reps)]
        out[kind] = {"ratios": [round(r, 3) for r in ratios], "median": round(statistics.median(ratios), 3)}
    return out


if __name__ == "__main__":
    from ..child import connect, die_with_parent, serve
    die_with_parent()
    conn = connect(sys.argv[1])
    try:
        serve(conn, _serve)
    finally:
        conn.close()
