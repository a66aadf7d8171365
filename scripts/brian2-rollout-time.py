"""Best of 8 brian2 (cython) closed-loop rollouts, 64 networks x 256 neurons, 200 control steps.

Run: PYTHONPATH=. .venv/bin/python scripts/brian2-rollout-time.py
Used for A/B comparisons of the Brian2 model code (run it alternately on two versions of
`ec_neuro/compilers/brian2.py`); prints the best rollout time and the spike count, which must agree.
"""
import time

import numpy as np

import ec_neuro.backends.brian2 as bb
from ec_neuro.bench.brian2 import _SyntheticLoop
from ec_neuro.compilers.common import lower
from ec_neuro.sample.masks import initial_v, random_masks
from ec_neuro.spec import NetworkSpec

spec = NetworkSpec(n_obs=4, n_act=2, n_neurons=256)
P = 64
low = lower(spec, random_masks(spec, P, seed=0, p=0.5), "float")
v0 = initial_v(256, 0, 0, np.arange(P))
backend = bb.Brian2Backend("cython")
program = backend.compile(low)
backend.rollout(program, _SyntheticLoop(low, 2), v0)  # compile / load the code objects
times = []
for _ in range(8):
    t = time.perf_counter()
    counts = backend.rollout(program, _SyntheticLoop(low, 200), v0)
    times.append(time.perf_counter() - t)
print(f"best of 8 rollouts of 200 control steps: {min(times):.3f} s; spikes {int(counts.sum())}")
