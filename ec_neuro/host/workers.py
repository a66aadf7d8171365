"""Where a generation's slots run: in this process (`SerialWorkers`), in N worker processes (`ProcessWorkers`)
or on a Ray cluster (`ray_workers.RayWorkers`, the `ray` extra).

All return results in slot order, and every slot is a pure function of the request, so a generation's fitness
does not depend on where or on how many workers it ran.  Worker processes are `python -m ec_neuro.host.worker`
children (`ec_neuro.child`): they keep their task and backend warm across generations, never re-run the user's
script (so a script without a `__main__` guard works), and die with their parent.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from .. import registry
from ..child import Child
from .rollout import EvalRequest, EvalResult, run_request


class Workers(Protocol):
    def evaluate(self, req: EvalRequest) -> EvalResult: ...

    def close(self, abort: bool = False) -> None: ...

    def sync(self, strategy: Any, state: Any) -> None:
        """The loop's strategy state, after init/resume and after every tell (Ray workers replay the update
        instead of receiving the center); nothing to do for workers that get the center with every request."""

    def generation_metrics(self) -> dict[str, Any]:
        """What to add to this generation's metrics row (e.g. Ray faults survived), since the last call."""
        return {}


class Warm:
    """The backend and task instances of one process, built once and reused across generations."""

    def __init__(self) -> None:
        self._backends: dict[Any, Any] = {}
        self._tasks: dict[Any, Any] = {}

    def run(self, req: EvalRequest) -> EvalResult:
        bkey = (req.backend, tuple(sorted(req.backend_options.items())))
        if bkey not in self._backends:
            self._backends[bkey] = registry.make_backend(req.backend, **req.backend_options)
        tkey = (req.task.target, tuple(sorted((k, repr(v)) for k, v in req.task.kwargs.items())))
        if tkey not in self._tasks:
            self._tasks[tkey] = req.task.make(len(req.slots))
        return run_request(req, self._backends[bkey], self._tasks[tkey])

    def close(self) -> None:
        for b in self._backends.values():
            b.close()
        for t in self._tasks.values():
            t.close()
        self._backends.clear()
        self._tasks.clear()


class SerialWorkers(Workers):
    """Everything in this process."""

    def __init__(self) -> None:
        self._warm = Warm()

    def evaluate(self, req: EvalRequest) -> EvalResult:
        return self._warm.run(req)

    def close(self, abort: bool = False) -> None:
        self._warm.close()


class ProcessWorkers(Workers):
    """N worker processes, each evaluating a contiguous block of slots."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._children: list[Child] = []
        try:
            for _ in range(workers):
                self._children.append(Child("ec_neuro.host.worker"))
        except BaseException:
            self.close(abort=True)
            raise

    def evaluate(self, req: EvalRequest) -> EvalResult:
        blocks = [b for b in np.array_split(req.slots, self.workers) if len(b)]
        for child, block in zip(self._children, blocks):
            child.send("evaluate", replace(req, slots=block))
        parts, error = [], None
        for child in self._children[:len(blocks)]:  # every answer is read, so none is left pending
            try:
                parts.append(child.answer())
            except Exception as e:
                error = error or e
        if error is not None:
            raise error
        return EvalResult.concat(parts)

    def close(self, abort: bool = False) -> None:
        """Let workers close their backends (Lava runtimes) and exit; `abort` kills them instead."""
        for child in self._children:
            if abort:
                child.kill()
            else:
                child.close()
        self._children.clear()


def make_workers(workers: int, ray_address: str | None = None, ray_local: int | None = None,
                 ray_timeout: float | None = None, ray_replay: bool = True) -> Workers:
    """Serial, N processes, or Ray actors (`ray_local` N on a private loopback Ray, or on the cluster at
    `ray_address`: `workers` actors when more than 1, else one per CPU); the result is the same."""
    if ray_address is not None or ray_local is not None:
        from .ray_workers import RayWorkers
        return RayWorkers(address=ray_address, local=ray_local, workers=workers if workers > 1 else None,
                          timeout_s=ray_timeout, replay=ray_replay)
    return SerialWorkers() if workers <= 1 else ProcessWorkers(workers)
