"""Where a brian2 closed-loop rollout spends its time, and what parallel numba costs inside the callback.

Run: PYTHONPATH=. .venv/bin/python scripts/brian2-profile.py   (population 64 x 256 neurons, 100 control steps)
Prints: 100 decode calls with the default numba threads and with one; brian2 rollouts with and without
`serial_numba`; Brian2's profiling summary; numpy-backend rollouts for comparison.
"""
import time

import brian2
import numba
import numpy as np

import ec_neuro.backends.brian2 as bb
from ec_neuro.backends.numpy import NumpyBackend
from ec_neuro.bench.brian2 import _SyntheticLoop
from ec_neuro.compilers.common import lower
from ec_neuro.sample.masks import initial_v, random_masks
from ec_neuro.spec import NetworkSpec

spec = NetworkSpec(n_obs=4, n_act=2, n_neurons=256)
P = 64
low = lower(spec, random_masks(spec, P, seed=0, p=0.5), "float")
v0 = initial_v(256, 0, 0, np.arange(P))
nb = NumpyBackend()
nb.rollout(nb.compile(low), _SyntheticLoop(low, 2), v0)
r = np.random.default_rng(0).random((P, 256))
for threads in (numba.get_num_threads(), 1):
    numba.set_num_threads(threads)
    t = time.perf_counter()
    for _ in range(100):
        low.decode(r)
    print(f"100 decode calls, {threads} numba thread(s): {time.perf_counter() - t:.4f} s")
numba.set_num_threads(2)
be = bb.Brian2Backend("cython")
prog = be.compile(low)
be.rollout(prog, _SyntheticLoop(low, 2), v0)
serial = bb.serial_numba
for label, ctx in (("without serial_numba", None), ("with serial_numba", serial)):
    if ctx is None:
        from contextlib import nullcontext
        bb.serial_numba = nullcontext
    else:
        bb.serial_numba = ctx
    t = time.perf_counter()
    be.rollout(prog, _SyntheticLoop(low, 100), v0)
    print(f"brian2 rollout, 100 control steps, {label}: {time.perf_counter() - t:.3f} s")
bb.serial_numba = nullcontext
run = prog.b2.net.run
prog.b2.net.run = lambda *a, **k: run(*a, profile=True, **k)
be.rollout(prog, _SyntheticLoop(low, 100), v0)
print("profile without serial_numba:\n", brian2.profiling_summary(prog.b2.net))
for _ in range(3):
    t = time.perf_counter()
    nb.rollout(nb.compile(low), _SyntheticLoop(low, 100), v0)
    print(f"numpy rollout, 100 control steps: {time.perf_counter() - t:.3f} s")
