"""Measure how snnTorch 1.0.0 and Norse 1.1.0 run ec-neuro's NIR files as written (the figures of docs/export.md).

    .venv/bin/python scripts/nir_consumers.py --nets trained,random1,random2,random3 --control-steps 61 \\
        --json nir_consumers.json

For each network, observation scale and consumer: the file written for that consumer (`--nir-consumer`) is loaded
by the consumer's own importer (ec_neuro.deploy.nir_consumers.run) and its LIF spikes are compared with ec-neuro's
numpy backend, substep by substep, from the zero state: the float file against the float backend, the fixed-point
file (the float mirror of the Loihi integers) against the fixed-point backend.  For scale, the float backend
against the fixed-point one (what writing the float network would give a fixed-point user).
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
from ec_neuro.deploy import export
from ec_neuro.deploy.deployed import Deployed, load
from ec_neuro.deploy.nir_consumers import compare, run
from ec_neuro.sample.masks import random_masks

ROOT = Path(__file__).resolve().parents[1]


def nets(names: list[str]) -> dict[str, Deployed]:
    base = load(ROOT / "docs/img/cartpole/network.npz")
    out = {}
    for name in names:
        if name == "trained":
            out[name] = base
        else:
            seed = int(name.removeprefix("random"))
            out[name] = Deployed(base.spec, random_masks(base.spec, 1, seed, 0.5), base.obs_mean, base.obs_std)
    return out


def reference(net: Deployed, x: np.ndarray, precision: str) -> tuple[np.ndarray, np.ndarray]:
    low = lower(net.spec, net.masks, precision)
    be = NumpyBackend()
    tr = be.open_loop(be.compile(low), np.zeros((1, net.spec.n_neurons)),
                      np.stack([low.encode(x[t:t + 1]) for t in range(len(x))]))
    acts = np.stack([low.decode(tr.r[t]) for t in range(len(x))])[:, 0]
    return (np.abs(tr.s[:, 0]) > 0).astype(np.int8), acts


def rates(z: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    a, b = z.sum(0).astype(float), ref.sum(0).astype(float)
    corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    return {"rate_ratio": float(a.sum() / max(b.sum(), 1)), "per_neuron_count_corr": corr}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", default="trained,random1,random2")
    ap.add_argument("--consumers", default="snntorch,norse")
    ap.add_argument("--scales", default="1,2", help="observation scales: x ~ N(0, s^2), clipped to +-5")
    ap.add_argument("--control-steps", type=int, default=61)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    rows = []
    with TemporaryDirectory() as d:
        for name, net in nets(a.nets.split(",")).items():
            for scale in (float(s) for s in a.scales.split(",")):
                x = np.clip(np.random.default_rng(a.seed).normal(0, scale, (a.control_steps, net.spec.n_obs)), -5, 5)
                ref = {p: reference(net, x, p) for p in ("float", "fixed")}
                base = {"net": name, "obs_scale": scale}
                rows.append({**base, "consumer": "ec-neuro float backend", "precision": "fixed (reference)",
                             **compare(ref["float"][0], ref["fixed"][0]), **rates(ref["float"][0], ref["fixed"][0])})
                for consumer in a.consumers.split(","):
                    for precision in ("float", "fixed"):
                        t0 = time.perf_counter()
                        path = export(net, "nir", Path(d) / f"{name}-{consumer}-{precision}.nir", consumer=consumer,
                                      precision=precision)
                        out = run(consumer, path, x)
                        z, acts = ref[precision]
                        row = {**base, "consumer": consumer, "precision": precision, **compare(out["z"], z),
                               **rates(out["z"], z), "max_abs_action_err": float(np.abs(out["actions"] - acts).max()),
                               "wall_s": round(time.perf_counter() - t0, 2)}
                        rows.append(row)
                        print(json.dumps(row), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
