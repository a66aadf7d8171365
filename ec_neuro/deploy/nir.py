"""NIR export: a deployed network as one recurrent NIR graph (`nir` package, HDF5 file).

Graph (node names are fixed; every parameter is an array, Linear weights are (out, in)):

    input (n_obs) -> input_doubling: Linear [I; -I] (2*n_obs, n_obs) -> w_in: Linear (N, 2*n_obs)
        -> lif: CubaLIF (N)  <->  w_rec: Linear (N, N)        (the recurrent edge: lif -> w_rec -> lif)
    lif -> w_out: Linear (n_act, N) -> readout: LI (n_act) -> output (n_act)

    w_in[j, k]   = R_in * W_in[k, j]
    w_rec[j, i]  = R * sign_i * W_h[i, j]        sign_i = +1 for i < n_exc (E), -1 otherwise (I)
    w_out[a, j]  = R_out * sign_j * W_out[j, a]
    lif: tau_syn, tau_mem (ms), r = 1, v_leak = 0, v_threshold = V_th, v_reset = 0, w_in = 1 / (1 - a_syn)
    readout: tau = tau_out, r = 1 / dt, v_leak = 0

Discrete semantics (written into the graph metadata; derivation in docs/export.md): exponential Euler with
every node input held over one substep dt, x <- e^{-dt/tau} x + (1 - e^{-dt/tau}) * target; a spike is the
value 1 in its substep; an edge out of `lif` delivers the spikes of substep t at substep t+1; the input node
carries the synaptic drive d[t] = x[t] - a_syn x[t-1] of the normalised observation x, held for K
substeps per control step (input_doubling makes it [d, -d]); action = clip(output after the K-th substep, -1, 1).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .deployed import Deployed
from ..errors import MissingExtra

FORMAT = "ec-neuro/nir"
VERSION = 1
INTEGRATION = "exponential-euler-zoh"


def _nir() -> Any:
    try:
        import nir
    except ModuleNotFoundError:
        raise MissingExtra("NIR export/import", "nir", "nir") from None
    return nir


def metadata(net: Deployed) -> dict[str, Any]:
    """Graph metadata: dt and the discretisation conventions a consumer needs (NIR itself stores no dt)."""
    spec, p = net.spec, net.spec.neuron
    return {
        "format": FORMAT, "format_version": VERSION,
        "dt": float(p.dt), "dt_unit": "ms", "substeps_per_control_step": int(p.substeps),
        "control_dt": float(p.control_dt),
        "integration": INTEGRATION,
        "reset": "to_v_reset",
        "threshold": "strict: spike when v > v_threshold",
        "spike_value": "1 in the substep of the spike (0/1 per substep)",
        "recurrent_delay_substeps": 1,
        "input_encoding": "input carries d[t] = x[t] - a_syn*x[t-1] per substep, x = the normalised "
                          "observation held for K substeps (x[-1] = 0); input_doubling feeds [d, -d]",
        "readout": "action = clip(output, -1, 1) after the K-th substep of each control step",
        "n_exc": int(spec.n_exc),
        "network": json.dumps(spec.to_dict()),
        "task": net.task or "",
        "obs_mean": np.asarray(net.obs_mean, dtype=np.float64),
        "obs_std": np.asarray(net.obs_std, dtype=np.float64),
    }


def synapse_w_in(a_syn: float) -> float:
    """CubaLIF w_in under exponential Euler with held input: (1 - a_syn) * w_in = 1 per unit spike."""
    return 1.0 / (1.0 - a_syn)


def to_graph(net: Deployed) -> Any:
    """The NIRGraph of `net` (nodes and edges as in the module docstring), type-checked."""
    nir = _nir()
    spec, p = net.spec, net.spec.neuron
    n, n_obs, n_act = spec.n_neurons, spec.n_obs, spec.n_act
    sign = np.where(np.arange(n) < spec.n_exc, 1.0, -1.0)
    W_in = net.masks.W_in[0].astype(np.float64)
    W_h = net.masks.W_h[0].astype(np.float64)
    W_out = net.masks.W_out[0].astype(np.float64)
    eye = np.eye(n_obs)
    full = lambda v: np.full(n, float(v))  # noqa: E731
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_obs])}),
        "input_doubling": nir.Linear(weight=np.concatenate([eye, -eye], axis=0)),
        "w_in": nir.Linear(weight=spec.R_in * W_in.T),
        "lif": nir.CubaLIF(tau_syn=full(p.tau_syn), tau_mem=full(p.tau_mem), r=full(1.0), v_leak=full(0.0),
                           v_threshold=full(p.v_th), v_reset=full(p.v_reset),
                           w_in=full(synapse_w_in(p.a_syn))),
        "w_rec": nir.Linear(weight=spec.R * (W_h * sign[:, None]).T),
        "w_out": nir.Linear(weight=spec.R_out * (W_out * sign[:, None]).T),
        "readout": nir.LI(tau=np.full(n_act, float(p.tau_out)), r=np.full(n_act, 1.0 / p.dt), v_leak=np.zeros(n_act)),
        "output": nir.Output(output_type={"output": np.array([n_act])}),
    }
    edges = [("input", "input_doubling"), ("input_doubling", "w_in"), ("w_in", "lif"), ("lif", "w_rec"),
             ("w_rec", "lif"), ("lif", "w_out"), ("w_out", "readout"), ("readout", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata(net), type_check=True)


def write(net: Deployed, path: str | Path) -> Path:
    """Write the NIR graph of `net` to `path` (HDF5, gzip), atomically."""
    nir = _nir()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    nir.write(str(tmp), to_graph(net))
    tmp.replace(path)
    return path


def drive(x: np.ndarray, a_syn: float, substeps: int) -> np.ndarray:
    """Input-node signal for normalised observations x (T, ..., n_obs): d[t] = x[t] - a_syn x[t-1], (T*K, ..., n_obs)."""
    held = np.repeat(np.asarray(x, dtype=np.float64), substeps, axis=0)
    prev = np.concatenate([np.zeros_like(held[:1]), held[:-1]], axis=0)
    return held - a_syn * prev
