"""NIR export: a deployed network as one recurrent NIR graph (`nir` package, HDF5 file), for a named consumer.

    write(net, path, consumer="exact" | "snntorch" | "norse", precision="float" | "fixed")

`consumer="exact"` (the default) is the graph below: time constants in ms, meant for exponential-Euler
integration on a grid of step dt (metadata), an LI readout.  snnTorch 1.0.0 and Norse 1.1.0 integrate by
forward Euler at a step of their own (snnTorch's importer hard-codes 1e-4, Norse's `from_nir` defaults to
dt = 1e-3) and neither runs an LI readout, so their profiles write the same network for that scheme
(CONSUMERS, docs/export.md "NIR for snnTorch and Norse"):

    tau' = h / (1 - e^(-dt/tau))      one consumer step h = one substep; its Euler decay 1 - h/tau' = ours
    r = tau_mem'/h, w_in = tau_syn'/h  (what snnTorch asserts; Norse uses them as written)
    Linear weights in "u units": w_in = (1 - a_mem) R_in W_in, w_rec = the dyadic weight the float backend runs
    readout on the host: the graph ends w_out -> output; y <- a_out y + (1 - a_out)/dt out each substep,
    action = clip(y, -1, 1) after the K-th (metadata readout_rule)
    snntorch: the recurrent pair nested as a NIRGraph node `lif` {input, lif, w_rec, output}, node names
    ordered so that alphabetical order is topological (nirtorch needs it); norse: flat, as below

Graph of the exact profile (node names are fixed; every parameter is an array, Linear weights are (out, in)):

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

`precision="fixed"` marks the file (metadata precision = "fixed", the Loihi-2 integers of
`ec_neuro.compilers.quant` as JSON `loihi_fixed`) and writes their float mirror (decays decay_u/4096 and
decay_v/4096, threshold vth/scale, weight w_mant 2^(6+w_exp)/scale): a float consumer runs the closest float
network, not fixed_pt's truncations; ec-neuro's importer reads the file back to the same integers, bit-exact.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dataclasses import dataclass

from ..compilers.common import FloatConsts
from ..compilers.quant import DECAY_UNITY, choose
from .deployed import Deployed
from ..errors import MissingExtra, UserError

FORMAT = "ec-neuro/nir"
VERSION = 2  # 2: consumer profiles, host readout, precision marker (version-1 files are the exact profile)
INTEGRATION = "exponential-euler-zoh"
PRECISIONS = ("float", "fixed")


@dataclass(frozen=True)
class Consumer:
    """How a file is written for one consumer: its integration step (None: exponential Euler at dt, tau in
    ms), the layout of the recurrent pair, and where the readout runs."""

    name: str
    step: float | None           # forward-Euler step the consumer integrates with (its own time unit)
    layout: str                  # "flat" | "nested"
    readout: str                 # "li" (an LI node) | "host"
    how: str                     # the consumer call the file is written for


CONSUMERS: dict[str, Consumer] = {
    "exact": Consumer("exact", None, "flat", "li", "ec_neuro.deploy.import_nir / any exponential-Euler consumer"),
    "snntorch": Consumer("snntorch", 1e-4, "nested", "host",
                         "snntorch.import_nir.import_from_nir(nir.read(path))  (snnTorch 1.0.0 hard-codes dt = 1e-4)"),
    "norse": Consumer("norse", 1e-3, "flat", "host",
                      "norse.torch.from_nir(nir.read(path))  (Norse 1.1.0, its default dt = 1e-3)"),
}


def _nir() -> Any:
    try:
        import nir
    except ModuleNotFoundError:
        raise MissingExtra("NIR export/import", "nir", "nir") from None
    return nir


def get_consumer(name: str) -> Consumer:
    from ..registry import lookup
    return lookup(CONSUMERS, "NIR consumer", name)


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return precision


@dataclass(frozen=True)
class Constants:
    """The float network a file describes: the network's own, or the float mirror of its Loihi integers."""

    a_syn: float
    a_mem: float
    v_th: float
    w: float        # recurrent weight in v units per spike, (1 - a_mem) R (dyadic for float; the mirror for fixed)
    dv: float       # the input's (1 - a_mem) factor, as the encoder applies it
    fixed: Any = None

    @classmethod
    def of(cls, spec: Any, precision: str) -> "Constants":
        f = FloatConsts.of(spec)
        p = spec.neuron
        if check_precision(precision) == "float":
            return cls(p.a_syn, p.a_mem, p.v_th, f.w, f.dv)
        q = choose(spec)
        return cls(q.decay_u / DECAY_UNITY, q.decay_v / DECAY_UNITY, q.vth / q.scale,
                   q.w_mant * 2.0 ** (6 + q.w_exp) / q.scale, f.dv, q)


def metadata(net: Deployed, c: Consumer | None = None, k: Constants | None = None) -> dict[str, Any]:
    """Graph metadata: dt and the discretisation conventions a consumer needs (NIR itself stores no dt)."""
    spec, p = net.spec, net.spec.neuron
    c = c or CONSUMERS["exact"]
    k = k or Constants.of(spec, "float")
    meta = {
        "format": FORMAT, "format_version": VERSION, "consumer": c.name, "written_for": c.how,
        "dt": float(p.dt), "dt_unit": "ms", "substeps_per_control_step": int(p.substeps),
        "control_dt": float(p.control_dt),
        "integration": INTEGRATION,
        "reset": "to_v_reset",
        "threshold": "strict: spike when v > v_threshold",
        "spike_value": "1 in the substep of the spike (0/1 per substep)",
        "recurrent_delay_substeps": 1,
        "initial_state": "zero (u, v, readout)",
        "a_syn": float(k.a_syn), "a_mem": float(k.a_mem), "a_out": float(p.a_out), "tau_out": float(p.tau_out),
        "input_encoding": "input carries d[t] = x[t] - a_syn*x[t-1] per substep (a_syn of this metadata), x = "
                          "the normalised observation held for K substeps (x[-1] = 0); input_doubling feeds [d, -d]",
        "readout": "action = clip(output, -1, 1) after the K-th substep of each control step",
        "readout_node": c.readout,
        "layout": c.layout,
        "precision": "float",
        "n_exc": int(spec.n_exc),
        "network": json.dumps(spec.to_dict()),
        "task": net.task or "",
        "obs_mean": np.asarray(net.obs_mean, dtype=np.float64),
        "obs_std": np.asarray(net.obs_std, dtype=np.float64),
    }
    if c.step is not None:
        meta.update({
            "integration": "forward-euler", "consumer_dt": c.step,
            "time_constants": "tau' = consumer_dt / (1 - a): the consumer's Euler decay 1 - consumer_dt/tau' is "
                              "the exact decay a; one consumer step is one substep of dt ms",
            "units": "u units: Linear weights into lif carry the factor (1 - a_mem); r = tau_mem'/consumer_dt, "
                     "w_in = tau_syn'/consumer_dt",
        })
    if c.readout == "host":
        meta["readout"] = ("host: y <- a_out*y + (1 - a_out)/dt*output every substep (y = 0 at the start), "
                           "action = clip(y, -1, 1) after the K-th substep of each control step")
    if k.fixed is not None:
        meta.update({"precision": "fixed", "loihi_fixed": json.dumps(k.fixed.to_dict()),
                     "fixed_note": "Loihi-2 fixed point (ec_neuro.compilers.quant integers in loihi_fixed, Lava "
                                   "fixed_pt semantics); the float parameters are their mirror (decays decay/4096, "
                                   "threshold vth/scale, weight w_mant 2^(6+w_exp)/scale): a float consumer does not "
                                   "truncate like fixed_pt, so its spikes are close to, not equal to, the chip's"})
    return meta


def synapse_w_in(a_syn: float) -> float:
    """CubaLIF w_in under exponential Euler with held input: (1 - a_syn) * w_in = 1 per unit spike."""
    return 1.0 / (1.0 - a_syn)


def euler_tau(step: float, a: float) -> float:
    """tau' whose forward-Euler decay 1 - step/tau' equals the exact decay a."""
    return step / (1.0 - a)


def to_graph(net: Deployed, consumer: str = "exact", precision: str = "float") -> Any:
    """The NIRGraph of `net` for `consumer` (CONSUMERS) and `precision` (module docstring)."""
    nir = _nir()
    c = get_consumer(consumer)
    spec, p = net.spec, net.spec.neuron
    k = Constants.of(spec, precision)
    n, n_obs, n_act = spec.n_neurons, spec.n_obs, spec.n_act
    sign = np.where(np.arange(n) < spec.n_exc, 1.0, -1.0)
    W_in = net.masks.W_in[0].astype(np.float64)
    W_h = net.masks.W_h[0].astype(np.float64)
    W_out = net.masks.W_out[0].astype(np.float64)
    eye = np.eye(n_obs)
    full = lambda v: np.full(n, float(v))  # noqa: E731
    if c.step is None:
        tau_syn, tau_mem = -p.dt / np.log(k.a_syn), -p.dt / np.log(k.a_mem)
        if precision == "float":
            tau_syn, tau_mem = p.tau_syn, p.tau_mem
        lif = nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(1.0), v_leak=full(0.0),
                          v_threshold=full(k.v_th), v_reset=full(p.v_reset), w_in=full(synapse_w_in(k.a_syn)))
        w_in = spec.R_in * W_in.T
        g_rec = spec.R if precision == "float" else k.w / (1.0 - k.a_mem)
    else:
        ts, tm = euler_tau(c.step, k.a_syn), euler_tau(c.step, k.a_mem)
        lif = nir.CubaLIF(tau_syn=full(ts), tau_mem=full(tm), r=full(tm / c.step), v_leak=full(0.0),
                          v_threshold=full(k.v_th), v_reset=full(p.v_reset), w_in=full(ts / c.step))
        w_in = k.dv * spec.R_in * W_in.T
        g_rec = k.w
    w_rec = nir.Linear(weight=g_rec * (W_h * sign[:, None]).T)
    w_in_name = "input_weights" if c.layout == "nested" else "w_in"
    nodes = {"input": nir.Input(input_type={"input": np.array([n_obs])}),
             "input_doubling": nir.Linear(weight=np.concatenate([eye, -eye], axis=0)),
             w_in_name: nir.Linear(weight=w_in)}
    edges = [("input", "input_doubling"), ("input_doubling", w_in_name), (w_in_name, "lif")]
    if c.layout == "nested":
        # nir.read returns nodes in alphabetical (HDF5) order and nirtorch 2.6 rebuilds a nested node it meets
        # before its input (then crashes): input < input_doubling < input_weights < lif < output < w_out
        nodes["lif"] = nir.NIRGraph(
            nodes={"input": nir.Input(input_type={"input": np.array([n])}), "lif": lif, "w_rec": w_rec,
                   "output": nir.Output(output_type={"output": np.array([n])})},
            edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")], type_check=False)
    else:
        nodes.update({"lif": lif, "w_rec": w_rec})
        edges += [("lif", "w_rec"), ("w_rec", "lif")]
    nodes["w_out"] = nir.Linear(weight=spec.R_out * (W_out * sign[:, None]).T)
    edges.append(("lif", "w_out"))
    if c.readout == "li":
        nodes["readout"] = nir.LI(tau=np.full(n_act, float(p.tau_out)), r=np.full(n_act, 1.0 / p.dt),
                                  v_leak=np.zeros(n_act))
        edges += [("w_out", "readout"), ("readout", "output")]
    else:
        edges.append(("w_out", "output"))
    nodes["output"] = nir.Output(output_type={"output": np.array([n_act])})
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata(net, c, k), type_check=c.layout == "flat")


def write(net: Deployed, path: str | Path, consumer: str = "exact", precision: str = "float") -> Path:
    """Write the NIR graph of `net` for `consumer` in `precision` to `path` (HDF5, gzip), atomically."""
    nir = _nir()
    path = Path(path)
    graph = to_graph(net, consumer, precision)
    tmp = path.with_name(path.name + ".tmp")
    nir.write(str(tmp), graph)
    tmp.replace(path)
    return path


def host_readout(out: np.ndarray, a_out: float, dt: float, substeps: int) -> np.ndarray:
    """The host readout of a `readout_node = "host"` file: graph outputs (T*K, n_act) -> actions (T, n_act)."""
    out = np.asarray(out, np.float64)
    y = np.zeros(out.shape[1:])
    acts = []
    for t in range(out.shape[0]):
        y = a_out * y + (1.0 - a_out) / dt * out[t]
        if t % substeps == substeps - 1:
            acts.append(np.clip(y, -1.0, 1.0))
    return np.array(acts)


def drive(x: np.ndarray, a_syn: float, substeps: int) -> np.ndarray:
    """Input-node signal for normalised observations x (T, ..., n_obs): d[t] = x[t] - a_syn x[t-1], (T*K, ..., n_obs)."""
    held = np.repeat(np.asarray(x, dtype=np.float64), substeps, axis=0)
    prev = np.concatenate([np.zeros_like(held[:1]), held[:-1]], axis=0)
    return held - a_syn * prev
