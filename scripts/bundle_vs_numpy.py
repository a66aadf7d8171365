"""Loihi bundle in Lava (fixed_pt) vs the numpy fixed backend: bundle_vs_numpy.py NET.npz|RUN_DIR [CONTROL_STEPS] [SEED]."""
from __future__ import annotations

import sys
import tempfile
import time

import numpy as np

from ec_neuro.backends.base import Trace, compare_traces
from ec_neuro.backends.numpy import NumpyBackend
from ec_neuro.cli.export import _load
from ec_neuro.compilers.common import lower
from ec_neuro.deploy import export, loihi
from ec_neuro.deploy.loihi_lava import open_loop_subprocess

if __name__ == "__main__":
    net = _load(sys.argv[1])
    T = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    path = export(net, "loihi", tempfile.mkdtemp() + "/bundle.npz")
    b = loihi.read(path)
    x = np.clip(rng.standard_normal((T, 1, net.spec.n_obs)), -5, 5)
    v01 = rng.random((1, net.spec.n_neurons))
    low = lower(net.spec, net.masks, "fixed")
    be = NumpyBackend()
    ref = be.open_loop(be.compile(low), v01, np.stack([low.encode(x[t]) for t in range(T)]))
    t0 = time.perf_counter()
    out = open_loop_subprocess(path, b.initial_v(v01[0]), np.stack([b.encode(x[t])[0] for t in range(T)]))
    wall = time.perf_counter() - t0
    res = compare_traces(ref, Trace(out["u"][:, None], out["v"][:, None], out["s"][:, None], ref.r))
    print({**res, "timesteps": int(ref.s.shape[0]), "spikes": int(np.abs(ref.s).sum()), "lava_wall_s": round(wall, 2)})
