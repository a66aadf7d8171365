"""Run our NIR file in an independent NIR consumer (Spyx, JAX) and measure its agreement with ec-neuro.

    PYTHONPATH=.:<spyx site> .venv/bin/python scripts/nir_consumer_spyx.py [--nir FILE | --run RUN_DIR] \
        [--control-steps 20] [--seed 0] [--json OUT.json]

Spyx 0.1.20's `spyx.nir.from_nir` reads a sequential graph input -> Linear -> {CubaLIF <-> Linear} -> output
and supports neither LI nor two Linear nodes in a row, so it is handed the file's own nodes without the two
it cannot run: `input_doubling` (we apply its [I; -I] weight to the drive) and the readout (`w_out` -> LI,
computed here from Spyx's spikes with the file's parameters).  Spyx also ignores CubaLIF's `r` (it assumes
r = tau_mem / dt, snnTorch's convention), so r * dt / tau_mem is folded into the weights first, an
equivalent NIR graph.  Spyx integrates by forward Euler
(decay 1 - dt/tau), resets by subtracting the threshold and emits a spike one step after the voltage crossed;
we undo only the last (a one-step shift).  The Euler-matched run rewrites tau to dt / (1 - e^{-dt/tau}) so
that Spyx's decays equal ours, which isolates what the integration scheme costs.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from typing import Any

import numpy as np


def spyx_spikes(graph: Any, d2: np.ndarray, dt: float, euler_matched: bool) -> np.ndarray:
    """Spyx run of the recurrent core of `graph` on the doubled drive d2 (S, 2*n_obs); spikes (S, N) 0/1."""
    import jax.numpy as jnp
    import nir
    import spyx.nir
    if not hasattr(nir, "Sequence"):  # spyx 0.1.20 tests isinstance(node, nir.Sequence); nir 1.0.8 has no such node
        nir.Sequence = type("Sequence", (), {})
    g = copy.deepcopy(graph)
    lif = g.nodes["lif"]
    if euler_matched:
        lif.tau_syn = dt / (1.0 - np.exp(-dt / lif.tau_syn))
        lif.tau_mem = dt / (1.0 - np.exp(-dt / lif.tau_mem))
    n = lif.v_threshold.size
    # Spyx ignores r and integrates V <- beta V + I, i.e. it assumes r = tau_mem / dt (snnTorch's export); fold
    # r * dt / tau_mem into the weights feeding I (an equivalent NIR graph: the product r * I is unchanged).
    fold = (lif.r * dt / lif.tau_mem)[:, None]
    w_in, w_rec = nir.Linear(weight=g.nodes["w_in"].weight * fold), nir.Linear(weight=g.nodes["w_rec"].weight * fold)
    lif.r = lif.tau_mem / dt
    nodes = {"input": nir.Input(input_type={"input": np.array([d2.shape[1]])}), "w_in": w_in,
             "lif": lif, "w_rec": w_rec, "output": nir.Output(output_type={"output": np.array([n])})}
    edges = [("input", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")]
    sub = nir.NIRGraph(nodes=nodes, edges=edges, type_check=True)
    x = jnp.asarray(d2[None], dtype=jnp.float32)
    snn, params = spyx.nir.from_nir(sub, x, dt=dt)
    spikes, _ = snn.apply(params, x)
    return np.asarray(spikes[0])


def spyx_equations(graph: Any, d2: np.ndarray, dt: float, reset: str) -> np.ndarray:
    """Spyx's RCuBaLIF update written out in float64 (Euler-matched tau, r folded), with a choice of reset."""
    lif = graph.nodes["lif"]
    alpha, beta = np.exp(-dt / lif.tau_syn), np.exp(-dt / lif.tau_mem)
    scale = ((1 - beta) * lif.r * (1 - alpha) * lif.w_in)[:, None]
    w_in, w_rec, thr = graph.nodes["w_in"].weight * scale, graph.nodes["w_rec"].weight * scale, lif.v_threshold
    V, I, out = np.zeros(thr.shape), np.zeros(thr.shape), []
    for d in d2:
        z = (V - thr > 0).astype(np.float64)
        V = V - z * thr if reset == "subtract" else V * (1 - z)
        I = alpha * I + w_in @ d + w_rec @ z
        V = beta * V + I
        out.append(z)
    return np.array(out)


def readout(graph: Any, z: np.ndarray, dt: float) -> np.ndarray:
    """The file's w_out -> LI readout on spikes z (S, N) under our integration rule; (S, n_act)."""
    li = graph.nodes["readout"]
    a = np.exp(-dt / li.tau)
    y, out = np.zeros(li.tau.shape), []
    for zt in z:
        y = a * y + (1 - a) * li.r * (graph.nodes["w_out"].weight @ zt)
        out.append(y.copy())
    return np.array(out)


def compare(ours: np.ndarray, theirs: np.ndarray, y_ours: np.ndarray, y_theirs: np.ndarray, K: int) -> dict[str, Any]:
    """Agreement of two 0/1 spike rasters (S, N) and their readouts sampled every K substeps."""
    diff = np.flatnonzero((ours != theirs).any(axis=1))
    c_o, c_t = ours.sum(0), theirs.sum(0)
    corr = float(np.corrcoef(c_o, c_t)[0, 1]) if c_o.std() > 0 and c_t.std() > 0 else float("nan")
    a_o, a_t = np.clip(y_ours[K - 1::K], -1, 1), np.clip(y_theirs[K - 1::K], -1, 1)
    return {"substeps": int(ours.shape[0]), "identical_substeps_before_first_difference": int(diff[0]) if diff.size else int(ours.shape[0]),
            "spike_bit_agreement": float((ours == theirs).mean()),
            "rate_ours_per_substep": float(ours.mean()), "rate_theirs_per_substep": float(theirs.mean()),
            "per_neuron_count_correlation": corr,
            "action_max_abs_diff": float(np.abs(a_o - a_t).max()),
            "action_correlation": float(np.corrcoef(a_o.ravel(), a_t.ravel())[0, 1])}


def main(argv: list[str]) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nir"), ap.add_argument("--run")
    ap.add_argument("--control-steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    import tempfile
    import nir
    from ec_neuro.backends.numpy import NumpyBackend
    from ec_neuro.compilers.common import lower
    from ec_neuro.deploy import export, import_nir
    path = args.nir
    if path is None:
        from ec_neuro.deploy.deployed import load_run
        if args.run is None:
            sys.exit("give --nir FILE or --run RUN_DIR")
        path = str(export(load_run(args.run), "nir", tempfile.mkdtemp() + "/net.nir"))
    net = import_nir(path)
    graph = nir.read(path, type_check=True)
    spec, p = net.spec, net.spec.neuron
    dt, K, T = p.dt, p.substeps, args.control_steps
    rng = np.random.default_rng(args.seed)
    x = np.clip(rng.standard_normal((T, 1, spec.n_obs)), -5, 5)
    low = lower(spec, net.masks, "float")
    be = NumpyBackend()
    tr = be.open_loop(be.compile(low), np.zeros((1, spec.n_neurons)), np.stack([low.encode(x[t]) for t in range(T)]))
    ours = (tr.s[:, 0, :] != 0).astype(np.int8)
    from ec_neuro.deploy.nir import drive
    d = drive(x[:, 0, :], p.a_syn, K)
    d2 = d @ graph.nodes["input_doubling"].weight.T
    out = {"file": path, "n_neurons": spec.n_neurons, "dt_ms": dt, "substeps": K, "control_steps": T,
           "consumer": "spyx 0.1.20 (jax 0.4.38, dm-haiku 0.0.17)"}
    for name, matched in (("as_written", False), ("euler_matched_tau", True)):
        z = spyx_spikes(graph, d2, dt, matched)
        theirs = np.concatenate([z[1:], np.zeros_like(z[:1])]).astype(np.int8)  # Spyx emits one step late
        out[name] = compare(ours[:-1], theirs[:-1], readout(graph, ours, dt)[:-1], readout(graph, theirs, dt)[:-1], K)
    for reset in ("subtract", "zero"):  # which part of the gap is the reset mode: Spyx's equations in numpy
        z = spyx_equations(graph, d2, dt, reset)
        theirs = np.concatenate([z[1:], np.zeros_like(z[:1])]).astype(np.int8)
        out[f"spyx_equations_numpy_reset_{reset}"] = compare(ours[:-1], theirs[:-1], readout(graph, ours, dt)[:-1],
                                                             readout(graph, theirs, dt)[:-1], K)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
