"""Evaluators: where a generation's slots run. Serial (in process) or local worker processes (`--workers N`).

Both return results in slot order, and every slot is a pure function of the request, so the fitness of a
generation does not depend on the evaluator or the number of workers.  A cluster evaluator only has to
implement `evaluate(request) -> EvalResult` the same way.
"""
from __future__ import annotations

import multiprocessing as mp
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from .. import registry
from .rollout import EvalRequest, EvalResult, run_request


class Evaluator(Protocol):
    def evaluate(self, req: EvalRequest) -> EvalResult: ...

    def close(self, abort: bool = False) -> None: ...


class _Worker:
    """Persistent backend and task instances of one process, reused across generations."""

    def __init__(self) -> None:
        self._backends: dict[Any, Any] = {}
        self._tasks: dict[Any, Any] = {}

    def run(self, req: EvalRequest) -> EvalResult:
        bkey = (req.backend, tuple(sorted(req.backend_options.items())))
        if bkey not in self._backends:
            self._backends[bkey] = registry.make_backend(req.backend, **req.backend_options)
        tkey = (req.task, tuple(sorted(req.task_options.items())))
        if tkey not in self._tasks:
            self._tasks[tkey] = registry.make_task(req.task, len(req.slots), **req.task_options)
        return run_request(req, self._backends[bkey], self._tasks[tkey])

    def close(self) -> None:
        for b in self._backends.values():
            b.close()
        for t in self._tasks.values():
            t.close()
        self._backends.clear()
        self._tasks.clear()


class SerialEvaluator:
    """Everything in this process."""

    def __init__(self) -> None:
        self._worker = _Worker()

    def evaluate(self, req: EvalRequest) -> EvalResult:
        return self._worker.run(req)

    def close(self, abort: bool = False) -> None:
        self._worker.close()


_PROC_WORKER: _Worker | None = None


def _init_process() -> None:
    """Worker start-up: one numba thread per process (the processes already use the cores)."""
    global _PROC_WORKER
    import numba
    from multiprocessing.util import Finalize
    numba.set_num_threads(1)
    _PROC_WORKER = _Worker()
    Finalize(_PROC_WORKER, _PROC_WORKER.close, exitpriority=10)


def _run_in_process(req: EvalRequest) -> EvalResult:
    assert _PROC_WORKER is not None
    return _PROC_WORKER.run(req)


class ProcessEvaluator:
    """N spawned worker processes, each evaluating a contiguous block of slots (spawn: safe with Lava's fork)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = mp.get_context("spawn").Pool(workers, initializer=_init_process)

    def evaluate(self, req: EvalRequest) -> EvalResult:
        blocks = [b for b in np.array_split(req.slots, self.workers) if len(b)]
        parts = self._pool.map(_run_in_process, [replace(req, slots=b) for b in blocks], chunksize=1)
        return EvalResult.concat(parts)

    def close(self, abort: bool = False) -> None:
        """Let workers close their backends (Lava runtimes) and exit; `abort` kills them instead."""
        if abort:
            self._pool.terminate()
        else:
            self._pool.close()
        self._pool.join()


def make_evaluator(workers: int) -> Evaluator:
    return SerialEvaluator() if workers <= 1 else ProcessEvaluator(workers)
