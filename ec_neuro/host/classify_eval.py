"""`ecneuro eval` for a classification task: the deployed network's accuracy on the validation and test splits.

    report = evaluate_classify(net, backend="numpy")    # the deployed network of a run, on its task's splits
    report["splits"]["test"]["accuracy"], report["confusion"] (test, rows: true class), summary(report)

The same path as training (host/classify.py): the E/I network on any backend through backend.rollout, a network
of real weights through its spec.classify.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .. import registry
from ..errors import UserError
from ..sample.masks import Masks
from ..tasks.resolve import TaskRef
from .classify import confusion, predict
from .rollout import EvalRequest


class _Deployed:
    """A Population of one fixed network: size 0, so every slot is the deterministic (deployed) one."""

    size, generation = 0, 0

    def __init__(self, masks: Masks, seed: int) -> None:
        self._masks, self.seed = masks, seed

    def masks(self, spec: Any, indices: np.ndarray) -> Masks:
        n = len(indices)
        return Masks(*(np.ascontiguousarray(np.repeat(g, n, axis=0)) for g in self._masks.groups().values()))


def is_classify_ref(ref: TaskRef) -> bool:
    """Whether the task a TaskRef builds is a classification task (without building it)."""
    try:
        return getattr(ref.load(), "kind", None) == "classify"
    except UserError:
        return False


def evaluate_classify(net: Any, ref: TaskRef, backend: str = "numpy", precision: str | None = None, seed: int = 0,
                      backend_options: Mapping[str, Any] | None = None, data: str | None = None) -> dict[str, Any]:
    """Accuracy and -mean CE of the deployed network `net` on the val and test splits of task `ref`; the test
    confusion matrix. `data` replaces the task's data folder (N-MNIST moved)."""
    from ..deploy.deployed import Deployed
    spec = net.spec
    if isinstance(net, Deployed):
        pop: Any = _Deployed(net.masks, seed)
        precision = precision or net.meta.get("precision") or registry.backend(backend).default_precision
        if precision not in registry.backend(backend).precisions:
            raise UserError(f"precision {precision!r} is not offered by backend {backend!r}", "precision")
    else:
        from ..strategies.es import ESPopulation
        pop = ESPopulation(seed, 0, 0, net.params, sigma=0.0)
        precision = precision or "float"
    entry = registry.lookup(registry.NETWORKS, "network", spec.kind)
    if backend not in entry.backends:
        raise UserError(f"network {spec.kind!r} runs on {', '.join(entry.backends)}, not on backend {backend!r}",
                        "backend")
    task = ref.make(1, **({"data": data} if data else {}))
    if task.n_obs != spec.n_obs or task.n_classes != spec.n_act:
        raise UserError(f"task {ref.name} has {task.n_obs} inputs/{task.n_classes} classes; the network expects "
                        f"{spec.n_obs}/{spec.n_act}", "task")
    be = registry.make_backend(backend, **dict(backend_options or {}))
    try:
        req = EvalRequest(pop, spec.to_dict(), ref, backend, dict(backend_options or {}), precision,
                          np.zeros(spec.n_obs), np.ones(spec.n_obs), np.array([0]))
        splits: dict[str, Any] = {}
        matrix = None
        for name in ("val", "test"):
            logits, labels = predict(req, spec, task, be, name)
            nce, acc = task.score(logits, labels) if len(labels) else (np.array([np.nan]), np.array([np.nan]))
            splits[name] = {"samples": int(len(labels)), "accuracy": float(acc[0]), "neg_ce": float(nce[0])}
            if name == "test":
                matrix = confusion(logits[0].argmax(-1), labels, task.n_classes)
    finally:
        be.close()
        task.close()
    return {"kind": "classify", "task": ref.name, "backend": backend, "precision": precision,
            "network": spec.kind, "splits": splits, "accuracy": splits["test"]["accuracy"],
            "val_accuracy": splits["val"]["accuracy"], "confusion": matrix.tolist() if matrix is not None else []}


def summary(report: Mapping[str, Any]) -> str:
    """Two lines a person reads: val and test accuracy."""
    s = report["splits"]
    return "\n".join([f"{report['task']} on {report['backend']}/{report['precision']} ({report['network']}):"] + [
        f"  {name:4s} accuracy {s[name]['accuracy']:.4f} ({s[name]['samples']} samples), "
        f"-CE {s[name]['neg_ce']:.4f}" for name in ("val", "test")])


def write_confusion(report: Mapping[str, Any], path: str | Path) -> Path:
    """The test confusion matrix as a PNG (analysis/plots.py)."""
    from ..analysis.plots import confusion_matrix
    m = np.asarray(report["confusion"], np.int64)
    title = (f"{report['task']} test, {report['backend']}/{report['precision']}: accuracy "
             f"{report['accuracy']:.3f} ({int(m.sum())} samples)")
    return confusion_matrix(m, Path(path), title)
