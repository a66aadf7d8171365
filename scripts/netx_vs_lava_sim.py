"""netx (lava-dl's loader, Loihi2SimCfg fixed_pt) against `--backend lava-sim` (stock) and numpy fixed point.

    .venv/bin/python scripts/netx_vs_lava_sim.py --nets trained,random64:3,random128:1 --control-steps 31 \\
        --json netx.json

Each network is exported with `ecneuro export --format netx`, read back, run by `netx.hdf5.Network` in a fresh
interpreter (ec_neuro.deploy.netx_lava) from the same v0 and observations as the backends; u, v and spikes
are compared at every substep.  randomN:SEED is a random N-neuron network (p = 0.5) of the CartPole shape.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

from ec_neuro.backends.numpy import NumpyBackend
from ec_neuro.compilers.common import lower
from ec_neuro.deploy import export, netx
from ec_neuro.deploy.deployed import Deployed, load
from ec_neuro.deploy.netx_lava import open_loop_subprocess
from ec_neuro.registry import make_backend
from ec_neuro.sample.masks import initial_v, random_masks
from ec_neuro.spec import NetworkSpec

ROOT = Path(__file__).resolve().parents[1]


def network(name: str) -> Deployed:
    base = load(ROOT / "docs/img/cartpole/network.npz")
    if name == "trained":
        return base
    n, seed = name.removeprefix("random").split(":")
    spec = NetworkSpec.from_dict({**base.spec.to_dict(), "n_neurons": int(n)})
    return Deployed(spec, random_masks(spec, 1, int(seed), 0.5), base.obs_mean, base.obs_std)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", default="trained,random64:3")
    ap.add_argument("--control-steps", type=int, default=31)
    ap.add_argument("--obs-scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    rows = []
    lava = make_backend("lava-sim", tier="stock")
    try:
        with TemporaryDirectory() as d:
            for name in a.nets.split(","):
                net = network(name)
                T = a.control_steps
                rng = np.random.default_rng(a.seed)
                x = np.clip(rng.normal(0.0, a.obs_scale, (T, 1, net.spec.n_obs)), -5, 5)
                v01 = initial_v(net.spec.n_neurons, a.seed, 0, np.arange(1))
                path = export(net, "netx", Path(d) / "n.netx.h5")
                b = netx.read(path)
                low = lower(net.spec, net.masks, "fixed")
                bias = np.stack([low.encode(x[t]) for t in range(T)])
                be = NumpyBackend()
                ref = be.open_loop(be.compile(low), v01, bias)
                t0 = time.perf_counter()
                sim = lava.open_loop(lava.compile(low), v01, bias)
                t1 = time.perf_counter()
                mant = np.stack([netx.encode(b, x[t])[0] for t in range(T)])
                got = open_loop_subprocess(path, b.initial_v(v01[0]), mant, b.substeps, b.sign)
                t2 = time.perf_counter()
                row = {"net": name, "neurons": net.spec.n_neurons, "bias_exp": b.q.bias_exp, "substeps": T * b.substeps,
                       "spikes": int(np.abs(sim.s).sum()), "max_abs_bias_mant_netx": int(np.abs(mant).max()),
                       "lava_sim_s": round(t1 - t0, 1), "netx_s": round(t2 - t1, 1)}
                for key in ("u", "v", "s"):
                    row[f"{key}_vs_lava_sim"] = bool(np.array_equal(got[key], getattr(sim, key)[:, 0]))
                    row[f"{key}_vs_numpy"] = bool(np.array_equal(got[key], getattr(ref, key)[:, 0]))
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        lava.close()
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
