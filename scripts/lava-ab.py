"""fused-k / numpy fixed per round, interleaved: the A/B figure of BENCHMARKS.md "lava-sim" (direct graphs).

Run from a tree to measure it: PYTHONPATH=. .venv/bin/python scripts/lava-ab.py ROUNDS LABEL
One warm-up round, then ROUNDS rounds of one rollout each (numpy fixed, then lava-sim fused-k on a live graph),
64 networks x 256 neurons, 100 control steps of ToyLoop; prints each round's ratio of stepping figures
(network-timesteps/s, ec_neuro.bench.lava._once), the ratio of the best rounds and the median.  Running it from
two checkouts in turn compares their code on the same machine.
"""
import sys

import numpy as np

from ec_neuro.bench.lava import _once
from ec_neuro.compilers.common import lower
from ec_neuro.registry import make_backend
from ec_neuro.sample.masks import initial_v, random_masks
from ec_neuro.spec import NetworkSpec

P = 64
spec = NetworkSpec(n_obs=8, n_act=2)
low = lower(spec, random_masks(spec, P, 0, p=0.5), "fixed")
v0 = initial_v(spec.n_neurons, 0, 0, np.arange(P))
backends = {"numpy": make_backend("numpy"), "lava": make_backend("lava-sim", tier="fused-k")}
figs: dict[str, list[float]] = {k: [] for k in backends}
try:
    for rnd in range(int(sys.argv[1]) + 1):
        for k, b in backends.items():
            f, _ = _once(b, low, v0, 100)
            if rnd:
                figs[k].append(f["stepping"])
finally:
    for b in backends.values():
        b.close()
r = np.array(figs["lava"]) / np.array(figs["numpy"])
print(sys.argv[2] if len(sys.argv) > 2 else "", "ratios", np.round(r, 3), "best/best",
      round(max(figs["lava"]) / max(figs["numpy"]), 3), "median", round(float(np.median(r)), 3))
