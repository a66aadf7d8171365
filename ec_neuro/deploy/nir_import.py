"""NIR import: a recurrent CubaLIF/LIF graph (ours, or e.g. snnTorch's nested RSynaptic) -> a `Deployed` network.

Accepted shape, after nested graphs are spliced flat:

    Input -> Linear/Affine chain -> spiking node (CubaLIF or LIF) <-> one Linear/Affine (recurrent)
    spiking node -> Linear/Affine chain -> LI -> Output                        (Affine biases must be 0)

The conventions of `ec_neuro.deploy.nir` are inverted exactly: effective gains are weight * f with
f = r (1 - a_syn) w_in (f = 1 for our own files, where w_in = 1 / (1 - a_syn) and r = 1), readout gain
weight * r_LI * dt; a LIF is a CubaLIF with a_syn = 0 and w_in = 1.  Representable means: every nonzero weight of a group has one magnitude (1 bit),
each neuron's outgoing weights share one sign (Dale's law; neurons are reordered E first if needed),
v_leak = v_reset = 0, uniform time constants.  Anything else is a UserError naming the node.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from dataclasses import asdict
from typing import Any

import numpy as np

from ..sample.masks import Masks
from .deployed import Deployed
from .. import validate
from ..errors import UserError
from ..files import DESCRIBE, sniff
from ..spec import NetworkSpec, NeuronParams
from .nir import _nir, synapse_w_in
from .nir_graph import SUPPORTED, chain, decode, flatten, magnitude, product, solve_scale, uniform, weight

LIF_TAU_SYN_FRACTION = 1e-3  # a LIF imports as tau_syn = dt * 1e-3, so a_syn = exp(-1000) == 0.0 exactly


def read(path: str | Path, dt: float | None = None, substeps: int | None = None) -> Deployed:
    """Read a NIR file into a Deployed network; dt (ms) and substeps override/complete the file's metadata."""
    if dt is not None:
        validate.number("dt", dt, positive=True, unit="of milliseconds")
    if substeps is not None:
        validate.integer("substeps", substeps, 1, 10**6)
    nir = _nir()
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a NIR file")
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as e:
        raise UserError(f"{path}: cannot read ({'permission denied' if isinstance(e, PermissionError) else e.strerror})"
                        ) from None
    kind = sniff(head)
    if kind == "npz":
        raise UserError(f"{path}: this is an .npz archive (an ec-neuro network file?), not a NIR graph; a network "
                        "file needs no import: give it to eval, export or crosscheck directly")
    if kind != "hdf5":
        raise UserError(f"{path}: {'is empty' if not head else 'this is ' + DESCRIBE.get(kind, kind)}, not a NIR "
                        "graph (an HDF5 file written by nir.write)")
    graph = None
    for type_check in (True, False):  # NIR's type inference rejects some valid foreign graphs: our checks follow
        try:
            graph = nir.read(str(path), type_check=type_check)
            break
        except (OSError, KeyError, ValueError, AssertionError, TypeError) as e:
            err = f"{path}: not a readable NIR graph ({e.__class__.__name__}: {str(e).splitlines()[0][:200]})"
            if isinstance(e, OSError):
                break
    if graph is None:
        raise UserError(err)
    try:
        return from_graph(graph, dt=dt, substeps=substeps)
    except UserError as e:
        raise UserError(f"{path}: {e}") from None


def _signs(w_rec: np.ndarray, w_out: np.ndarray, names: tuple[str, str], n_exc: int | None = None) -> np.ndarray:
    """Sign of each presynaptic neuron from its outgoing weights (Dale's law).

    Neurons without outgoing weights are ambiguous: they take the file's E/I split (metadata `n_exc`, our
    files) when the weights agree with it, else their left neighbour's sign (one of them is flipped if a
    group would otherwise be empty).
    """
    n = w_rec.shape[1]
    sign = np.zeros(n, np.int8)
    for j in range(n):
        vals = np.concatenate([w_rec[:, j], w_out[:, j]])
        pos, neg = bool(np.any(vals > 0)), bool(np.any(vals < 0))
        if pos and neg:
            raise UserError(f"NIR nodes {names[0]!r}/{names[1]!r}: neuron {j} has both positive and negative "
                            "outgoing weights; ec-neuro networks obey Dale's law (one sign per presynaptic neuron)")
        sign[j] = 1 if pos else (-1 if neg else 0)
    silent = np.flatnonzero(sign == 0)
    if n_exc is not None and 0 < n_exc < n:
        split = np.where(np.arange(n) < n_exc, 1, -1)
        if np.all((sign == 0) | (sign == split)):
            return split.astype(np.int8)
    last = 1
    for j in range(n):
        sign[j] = last = sign[j] or last
    if silent.size and np.all(sign > 0):
        sign[silent[-1]] = -1
    elif silent.size and np.all(sign < 0):
        sign[silent[0]] = 1
    return sign


def _meta(graph: Any) -> dict[str, Any]:
    return {k: decode(v) for k, v in (getattr(graph, "metadata", None) or {}).items()}


def from_graph(graph: Any, dt: float | None = None, substeps: int | None = None) -> Deployed:
    """A NIRGraph -> Deployed (see the module docstring for what is representable)."""
    nir = _nir()
    meta = _meta(graph)
    nodes, edges = flatten(graph)
    for name, node in nodes.items():
        if not isinstance(node, (nir.Input, nir.Output, nir.Linear, nir.Affine, nir.CubaLIF, nir.LIF, nir.LI)):
            raise UserError(f"NIR node {name!r} is a {type(node).__name__}, which ec-neuro cannot import; "
                            f"supported: {SUPPORTED}")
    spiking = [k for k, v in nodes.items() if isinstance(v, (nir.CubaLIF, nir.LIF))]
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [k for k, v in nodes.items() if isinstance(v, nir.Output)]
    if len(spiking) != 1 or len(inputs) != 1 or len(outputs) != 1:
        raise UserError(f"NIR graph has {len(spiking)} spiking node(s) {spiking}, {len(inputs)} Input(s), "
                        f"{len(outputs)} Output(s); ec-neuro imports one recurrent population with one input and one output")
    lif_name, lif = spiking[0], nodes[spiking[0]]
    is_lif = lambda nd: nd is lif  # noqa: E731
    in_path, _ = chain(nodes, edges, inputs[0], is_lif, "input")
    rec = [b for a, b in edges if a == lif_name and (b, lif_name) in edges]
    if len(rec) != 1 or not isinstance(nodes[rec[0]], (nir.Linear, nir.Affine)):
        raise UserError(f"NIR node {lif_name!r}: expected exactly one recurrent Linear (edges {lif_name} -> W -> "
                        f"{lif_name}), found {rec or 'none'}")
    rec_name = rec[0]
    into = sorted(a for a, b in edges if b == lif_name)
    if sorted([rec_name, (in_path or inputs)[-1]]) != into:
        raise UserError(f"NIR node {lif_name!r}: inputs must be the input path and the recurrent Linear, got {into}")
    outs = [b for a, b in edges if a == lif_name and b != rec_name]
    if len(outs) != 1:
        raise UserError(f"NIR node {lif_name!r}: expected one readout path besides {rec_name!r}, found {outs}")
    ro_path, ro_name = chain(nodes, [(lif_name, outs[0])] + [e for e in edges if e[0] != lif_name], lif_name,
                              lambda nd: isinstance(nd, (nir.LI, nir.Output)), "readout")
    host_readout = not isinstance(nodes[ro_name], nir.LI)
    if host_readout and not (meta.get("readout_node") == "host" and float(meta.get("tau_out", 0) or 0) > 0):
        raise UserError(f"NIR graph: the readout path ends in {ro_name!r} without an LI node; ec-neuro's readout is "
                        "Linear -> LI (the filtered rate), or a host readout stated in the metadata "
                        "(readout_node = 'host' and tau_out, as ec-neuro's snntorch/norse files)")
    if not host_readout and [b for a, b in edges if a == ro_name] != outputs:
        raise UserError(f"NIR node {ro_name!r}: must feed the Output node directly")

    dt = float(dt if dt is not None else meta.get("dt", 0) or 0)
    if not dt > 0:
        raise UserError("NIR graph carries no dt in its metadata (NIR stores none); pass the substep in "
                        "milliseconds with --dt (e.g. --dt 0.5)")
    K = int(substeps if substeps is not None else meta.get("substeps_per_control_step", 1))
    if K < 1:
        raise UserError(f"substeps must be a positive integer, got {K}")
    n = int(np.asarray(lif.v_threshold).size)
    v_th = uniform(lif_name, "v_threshold", lif.v_threshold)
    for field in ("v_leak", "v_reset"):
        if uniform(lif_name, field, getattr(lif, field, 0.0)) != 0.0:
            raise UserError(f"NIR node {lif_name!r}: {field} must be 0 (Loihi 2's CUBA-LIF resets to and leaks to 0)")
    r = uniform(lif_name, "r", lif.r)
    step = _euler_step(meta)
    if isinstance(lif, nir.CubaLIF):
        tau_syn, tau_mem = uniform(lif_name, "tau_syn", lif.tau_syn), uniform(lif_name, "tau_mem", lif.tau_mem)
        w_syn = uniform(lif_name, "w_in", lif.w_in)
        if step:  # tau' written for forward Euler at the consumer's step: decay 1 - step/tau' per substep
            tau_syn, tau_mem = _from_euler(lif_name, "tau_syn", tau_syn, step, dt), _from_euler(
                lif_name, "tau_mem", tau_mem, step, dt)
            a_syn = 1.0 - step / uniform(lif_name, "tau_syn", lif.tau_syn)
        else:
            a_syn = math.exp(-dt / tau_syn)
        f = 1.0 if (r == 1.0 and w_syn == synapse_w_in(a_syn)) else r * (1.0 - a_syn) * w_syn
    else:
        tau_mem = uniform(lif_name, "tau", lif.tau)
        tau_syn, f = dt * LIF_TAU_SYN_FRACTION, r
        if step:  # (step/tau') r I = (1 - a) r I: the same gain r as under exponential Euler
            tau_mem = _from_euler(lif_name, "tau", tau_mem, step, dt)
    if host_readout:
        tau_out, r_out = float(meta["tau_out"]), 1.0
    else:
        li = nodes[ro_name]
        tau_out = uniform(ro_name, "tau", li.tau)
        r_li = uniform(ro_name, "r", li.r)
        r_out = 1.0 if r_li == 1.0 / dt else r_li * dt
        if uniform(ro_name, "v_leak", li.v_leak) != 0.0:
            raise UserError(f"NIR node {ro_name!r}: v_leak must be 0")

    w_rec = weight(rec_name, nodes[rec_name])
    w_out = product(nodes, ro_path) if ro_path else None
    if w_rec.shape != (n, n) or w_out is None or w_out.shape[1] != n:
        raise UserError(f"NIR node {rec_name!r}/readout: weight shapes {w_rec.shape} and "
                        f"{None if w_out is None else w_out.shape} do not match {n} neurons")
    g_rec, g_out = magnitude(rec_name, w_rec), magnitude(ro_path[-1], w_out)
    doubled = (len(in_path) == 2 and _is_doubling(weight(in_path[0], nodes[in_path[0]])))
    if doubled:
        w_in2 = weight(in_path[1], nodes[in_path[1]])
        if np.any(w_in2 < 0):
            raise UserError(f"NIR node {in_path[1]!r}: after [x, -x] doubling every input weight must be >= 0")
        g_in, W_in = magnitude(in_path[1], w_in2), (w_in2 != 0).T
    else:
        if not in_path:
            raise UserError(f"NIR graph: the Input feeds {lif_name!r} directly; ec-neuro needs an input Linear")
        t = product(nodes, in_path)
        g_in = magnitude(in_path[-1], t)
        W_in = np.concatenate([(t > 0).T, (t < 0).T], axis=0)
    if W_in.shape[1] != n:
        raise UserError(f"NIR input path: weight shape {W_in.shape[::-1]} does not feed {n} neurons")
    hint = meta.get("n_exc")
    sign = _signs(w_rec, w_out, (rec_name, ro_path[-1]), int(hint) if isinstance(hint, (int, float)) else None)
    perm = np.argsort(-sign, kind="stable")
    n_exc = int(np.count_nonzero(sign > 0))
    if not 1 <= n_exc < n:
        raise UserError(f"NIR graph: {n_exc} of {n} neurons are excitatory; ec-neuro needs both E and I neurons")
    W_h = (w_rec != 0).T[np.ix_(perm, perm)]
    W_out = (w_out != 0).T[perm]
    W_in = W_in[:, perm]
    net = _assemble(meta, dt, K, tau_syn, tau_mem, tau_out, v_th, n, n_exc, W_in, W_h, W_out,
                    g_in * f, g_rec * f, g_out * r_out, perm)
    return _as_recorded(graph, meta, net, dt, K)


def _euler_step(meta: dict[str, Any]) -> float:
    """The consumer step of a file written for forward Euler (ec-neuro's snntorch/norse profiles), else 0."""
    if meta.get("integration") != "forward-euler":
        return 0.0
    step = float(meta.get("consumer_dt", 0) or 0)
    if not step > 0:
        raise UserError("NIR graph: metadata integration = 'forward-euler' needs a positive consumer_dt")
    return step


def _from_euler(node: str, field: str, tau: float, step: float, dt: float) -> float:
    """tau (ms) whose exact decay over dt equals the Euler decay 1 - step/tau' of the file."""
    a = 1.0 - step / tau
    if not 0.0 < a < 1.0:
        raise UserError(f"NIR node {node!r}: {field} = {tau:g} gives a forward-Euler decay {a:g} at consumer_dt "
                        f"{step:g}, outside (0, 1)")
    return -dt / math.log(a)


def _same_nodes(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two flattened node dicts with the same names, types and array parameters (to 1e-12 relative)."""
    if a.keys() != b.keys():
        return False
    for name, x in a.items():
        y = b[name]
        if type(x) is not type(y):
            return False
        for key, val in vars(x).items():
            if isinstance(val, np.ndarray) or isinstance(getattr(y, key, None), np.ndarray):
                u, v = np.asarray(val, np.float64), np.asarray(getattr(y, key, None), np.float64)
                if u.shape != v.shape or not np.allclose(u, v, rtol=1e-12, atol=0.0):
                    return False
    return True


def _as_recorded(graph: Any, meta: dict[str, Any], net: Deployed, dt: float, K: int) -> Deployed:
    """An ec-neuro file whose arrays are exactly what its recorded network (metadata `network`) exports to, for
    the file's consumer and precision, reads back to that network; a fixed-point file must, and its Loihi
    integers must be the ones ec-neuro's quantiser gives that network.  Anything else: the derived `net`."""
    from ..compilers.quant import LoihiFixed, choose
    from .nir import CONSUMERS, to_graph
    fixed = meta.get("precision") == "fixed"
    recorded = None
    if meta.get("format") == "ec-neuro/nir" and meta.get("network") and "neuron_permutation" not in net.meta:
        try:
            spec = NetworkSpec.from_dict(json.loads(meta["network"]))
            consumer = meta.get("consumer", "exact")
            if consumer in CONSUMERS and spec.neuron.dt == dt and spec.neuron.substeps == K:
                cand = Deployed(spec, net.masks, net.obs_mean, net.obs_std, net.task, dict(net.meta))
                regen = to_graph(cand, consumer, "fixed" if fixed else "float")
                if _same_nodes(flatten(graph)[0], flatten(regen)[0]):
                    recorded = cand
        except (ValueError, TypeError, KeyError, UserError):
            recorded = None
    if not fixed:
        return recorded or net
    if recorded is None:
        raise UserError("NIR graph is marked precision = 'fixed', but its arrays are not what its recorded network "
                        "(metadata 'network') exports to; ec-neuro reloads a fixed-point file only as it wrote it")
    q = choose(recorded.spec)
    try:
        written = LoihiFixed(**json.loads(meta["loihi_fixed"]))
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"NIR graph marked precision = 'fixed' has no valid loihi_fixed integers ({e})") from None
    if written != q:
        raise UserError(f"NIR graph: its Loihi integers {written.to_dict()} are not what ec-neuro's quantiser gives "
                        f"its network ({q.to_dict()})")
    recorded.meta.update({"precision": "fixed", "loihi_fixed": q.to_dict()})
    return recorded


def _is_doubling(w: np.ndarray) -> bool:
    m = w.shape[1]
    return w.shape == (2 * m, m) and np.array_equal(w, np.concatenate([np.eye(m), -np.eye(m)]))


def _assemble(meta: dict[str, Any], dt: float, K: int, tau_syn: float, tau_mem: float, tau_out: float, v_th: float,
              n: int, n_exc: int, W_in: np.ndarray, W_h: np.ndarray, W_out: np.ndarray,
              R_in: float, R: float, R_out: float, perm: np.ndarray) -> Deployed:
    """Solve the spec's gain scales so that the spec reproduces R_in, R, R_out exactly, and build the Deployed."""
    control_dt = float(meta.get("control_dt", 0) or 0)
    if not (control_dt >= dt and max(1, round(control_dt / dt)) == K):
        control_dt = dt * K
    neuron = NeuronParams(dt=dt, control_dt=control_dt, tau_syn=tau_syn, tau_mem=tau_mem, tau_out=tau_out, v_th=v_th)
    n_obs, n_act = W_in.shape[0] // 2, W_out.shape[1]
    base = NetworkSpec(n_obs=n_obs, n_act=n_act, n_neurons=n, exc_ratio=n_exc / n, neuron=neuron)
    if base.n_exc != n_exc:
        raise UserError(f"NIR graph: {n_exc} excitatory of {n} neurons cannot be written as round(exc_ratio * N)")
    mk = lambda **kw: NetworkSpec.from_dict({**base.to_dict(), "neuron": asdict(neuron), **kw})  # noqa: E731
    scales = {}
    for name, target, prop in (("in_scale", R_in, "R_in"), ("rec_scale", R, "R"), ("out_scale", R_out, "R_out")):
        if target <= 0:
            scales[name] = getattr(base, name)
            continue
        unit = getattr(mk(**{name: 1.0}), prop)
        scales[name] = solve_scale(target, lambda s, nm=name, pr=prop: getattr(mk(**{nm: s}), pr), unit)
    spec = mk(**scales)
    masks = Masks(W_in[None].astype(np.uint8), np.ascontiguousarray(W_h[None], dtype=np.uint8),
                  np.ascontiguousarray(W_out[None], dtype=np.uint8))
    mean = np.asarray(meta.get("obs_mean", np.zeros(n_obs)), dtype=np.float64).reshape(-1)
    std = np.asarray(meta.get("obs_std", np.ones(n_obs)), dtype=np.float64).reshape(-1)
    if mean.shape != (n_obs,) or std.shape != (n_obs,):
        mean, std = np.zeros(n_obs), np.ones(n_obs)
    info: dict[str, Any] = {"imported_from": "nir"}
    if not np.array_equal(perm, np.arange(n)):
        info["neuron_permutation"] = perm.tolist()
    return Deployed(spec, masks, mean, std, meta.get("task") or None, info)
