"""Per-control-step latency of the lava-sim backend, as the host sees it (fused-k tier, closed loop).

Run: PYTHONPATH=. .venv/bin/python scripts/lava-step-latency.py [POPULATION]   (default 64 networks x 256)
Prints, for three rollouts of one backend (one worker, a new graph each): the slowest control steps as
(index, ms), the mean and median time of a control step (`direct_step`), and network-timesteps/s while stepping.  This is the
measurement that showed each new graph's first control step loading the numba kernels (BENCHMARKS.md).
"""
import sys
import time

import numpy as np

import ec_neuro.backends.lava_sim as ls
from ec_neuro.backends.toyloop import ToyLoop
from ec_neuro.compilers.common import lower
from ec_neuro.sample.masks import initial_v, random_masks
from ec_neuro.registry import make_backend
from ec_neuro.spec import NetworkSpec

P = int(sys.argv[1]) if len(sys.argv) > 1 else 64
spec = NetworkSpec(n_obs=8, n_act=2)
low = lower(spec, random_masks(spec, P, 0, p=0.5), "fixed")
v0 = initial_v(spec.n_neurons, 0, 0, np.arange(P))
calls: list[float] = []
step = ls.direct_step  # a control step of the fused-k tier's direct graph (the host rings its Lava process)


def timed(*args, **kw):
    t = time.perf_counter()
    out = step(*args, **kw)
    calls.append(time.perf_counter() - t)
    return out


ls.direct_step = timed
backend = make_backend("lava-sim", tier="fused-k")
for rep in range(3):
    calls.clear()
    loop = ToyLoop(low, 100, seed=1)
    backend.rollout(backend.compile(low), loop, v0)
    c = np.array(calls) * 1e3
    print("slowest steps (index, ms):", [(int(i), round(float(c[i]), 1)) for i in np.argsort(c)[-5:]])
    print(f"rollout {rep}: {len(c)} steps, mean {c.mean():.2f} ms, median {np.median(c):.2f} ms, "
          f"{loop.lengths.sum() * spec.neuron.substeps / backend.timing['steps_s']:.0f} network-timesteps/s")
backend.close()
