"""Milliseconds per control step of the substep kernels at Humanoid sizes, population 1,024, numba on both cores:
EC's (numpy backend, float), EGGROLL's and ES's dense RSNN, after a warm-up; and the spike scan alone against the
byte loop it replaced (same run).  For an A/B of two trees: `python scripts/kernel-steps.py TREE` imports ec_neuro
from TREE (e.g. a `git worktree add /tmp/old REV`), so run it alternately on both.

    python scripts/kernel-steps.py [TREE] [--scan]
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

if len(sys.argv) > 1 and not sys.argv[1].startswith("--"):
    if not os.path.isfile(os.path.join(sys.argv[1], "ec_neuro", "__init__.py")):
        print(f"kernel-steps.py: {sys.argv[1]!r} is not a tree with ec_neuro/ in it (e.g. `git worktree add "
              f"/tmp/old REV`, then pass /tmp/old)", file=sys.stderr)
        sys.exit(2)
    sys.path.insert(0, sys.argv[1])

from numba import njit, prange  # noqa: E402

from ec_neuro.backends.numpy import NumpyBackend  # noqa: E402
from ec_neuro.bench import methods as M  # noqa: E402
from ec_neuro.compilers.common import lower  # noqa: E402
from ec_neuro.networks.dense_rsnn import DenseRSNNPopulation  # noqa: E402

P = 1024


def ec_ms(rng: np.random.Generator) -> float:
    spec, strategy = M._strategy("ec", "ei-rsnn", P)
    pop = strategy.ask(strategy.init(0))
    low = lower(spec, pop.masks(spec, np.arange(P)), "float")
    be = NumpyBackend()
    prog = be.compile(low)
    be.reset(prog, rng.random((P, spec.n_neurons)))
    active = np.ones(P, bool)
    X = [low.encode(rng.normal(size=(P, spec.n_obs)), active) for _ in range(8)]
    for i in range(20):
        be.advance(prog, X[i % 8], active)
    t = time.perf_counter()
    for i in range(20):
        be.advance(prog, X[i % 8], active)
    return (time.perf_counter() - t) / 20 * 1e3


def dense_ms(method: str, rng: np.random.Generator, n: int) -> float:
    spec, strategy = M._strategy(method, "dense-rsnn", P)
    net = DenseRSNNPopulation(spec, strategy.ask(strategy.init(0)), np.arange(P))
    net.reset(rng.random((P, spec.n_neurons)))
    X = rng.normal(size=(8, P, spec.n_obs))
    for i in range(10):
        net.act(X[i % 8])
    t = time.perf_counter()
    for i in range(n):
        net.act(X[i % 8])
    return (time.perf_counter() - t) / n * 1e3


@njit(inline="always")
def _byte_loop(fl, words, idx):
    """The scan before codec.spike_indices: a test per word, then a branch per byte of a flagged word."""
    m = 0
    for w in range(words.shape[0]):
        if words[w] != 0:
            for j in range(8 * w, 8 * w + 8):
                if fl[j] != 0:
                    idx[m] = j
                    m += 1
    return m


def scan_ms(rate: float) -> tuple[float, float]:
    from ec_neuro.compilers.codec import spike_indices

    def make(scan):  # type: ignore[no-untyped-def]
        @njit(parallel=True, nogil=True)
        def run(flags, out):
            for p in prange(flags.shape[0]):
                fl = flags[p]
                words = fl.view(np.uint64)
                idx = np.empty(fl.shape[0], np.int64)
                m = 0
                for k in range(33):
                    m += scan(fl, words, idx)
                out[p] = m
        return run

    flags = (np.random.default_rng(0).random((P, 256)) < rate).astype(np.uint8)
    out = np.zeros(P, np.int64)
    res = []
    for f in (make(spike_indices), make(_byte_loop)):
        f(flags, out)
        ts = []
        for _ in range(15):
            t = time.perf_counter()
            f(flags, out)
            ts.append(time.perf_counter() - t)
        res.append(float(np.median(ts)) * 1e3)
    return res[0], res[1]


if __name__ == "__main__":
    if "--scan" in sys.argv:
        new, old = scan_ms(0.025)
        print(f"scan of 1,024 x 33 substeps at 2.5 % spikes: trailing zeros {new:.2f} ms, byte loop {old:.2f} ms "
              f"({old / new:.1f}x)")
    else:
        rng = np.random.default_rng(1)
        print(f"ms per control step: EC {ec_ms(rng):.2f}  EGGROLL {dense_ms('eggroll', rng, 60):.2f}  "
              f"ES {dense_ms('es', rng, 30):.2f}")
