"""One network, every installed backend and precision, compared substep by substep (`check`).

Every run encodes the same normalised observations x (T, n_obs) in its own precision and replays them open
loop (`Backend.open_loop`), so every run sees the same input.  Two kinds of pair:

* bit-exact: each run against numpy of the same precision.  Must be identical in u, v and spikes; the
  first differing substep, the neurons there and max |du|, |dv| name a divergence.
* statistical: numpy/fixed against numpy/float.  Loihi-2 fixed point rounds every decay, so the chaotic
  dynamics part after a few substeps; these are compared by firing rates only:
  |rate_a - rate_b| <= RATE_RTOL * max(rate_a, rate_b) + RATE_ATOL, overall and for E and I separately.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from .. import registry
from ..deploy import deployed
from ..backends.base import Trace
from ..compilers.common import Lowered, lower
from ..sample.masks import initial_v
from ..errors import MissingExtra, UserError
from ..spec import NetworkSpec

RATE_RTOL = 0.2     # statistical pairs: relative tolerance on firing rates (measured worst: 7.4%, docs/brian2.md)
RATE_ATOL = 0.002   # ... plus this absolute slack (spikes / neuron / substep) for near-silent networks
from .stimulus import V0_SEED


def installed_backends(names: list[str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """name -> backend class for every registered backend that imports; name -> reason for the others."""
    found, skipped = {}, {}
    for name in names or list(registry.BACKENDS):
        try:
            found[name] = registry.backend_class(name)
        except (MissingExtra, ImportError) as e:
            skipped[name] = f"{e.__class__.__name__}: {e}"
    return found, skipped


def _perturbed(low: Lowered, ref: Trace) -> tuple[Lowered, dict[str, Any]]:
    """A copy with one recurrent connection flipped: from the first neuron to spike onto the next neuron."""
    spikes = np.argwhere(ref.s[:, 0] != 0)
    pre = int(spikes[0, 1]) if len(spikes) else 0
    post = (pre + 1) % low.spec.n_neurons
    W_h = low.W_h.copy()
    W_h[0, pre, post] ^= 1
    out = Lowered(low.spec, low.precision, low.T_in, W_h, low.W_out, low.flt, low.fixed)
    return out, {"flipped": {"pre": pre, "post": post, "now": int(W_h[0, pre, post])}}


def run_all(net: deployed.Deployed, x: np.ndarray, backends: list[str] | None = None,
            perturb: tuple[str, ...] = (), options: dict[str, dict[str, Any]] | None = None
            ) -> tuple[dict[str, Trace], dict[str, Any], dict[str, str]]:
    """Open-loop runs keyed "backend/precision" (numpy first), their metadata, and skipped backends."""
    if any(k.startswith("numpy/") for k in perturb):
        raise UserError("numpy is the reference and cannot be perturbed; perturb another backend's run")
    found, skipped = installed_backends(backends)
    if "numpy" not in found:
        found = {"numpy": registry.backend_class("numpy"), **found}
    order = ["numpy"] + [n for n in found if n != "numpy"]
    v0 = initial_v(net.spec.n_neurons, V0_SEED, 0, np.arange(1))
    traces: dict[str, Trace] = {}
    meta: dict[str, Any] = {}
    for name in order:
        try:
            be = registry.make_backend(name, **(options or {}).get(name, {}))
        except (MissingExtra, ImportError) as e:
            skipped[name] = f"{e.__class__.__name__}: {e}"
            continue
        try:
            for prec in registry.BACKENDS[name].precisions:
                key = f"{name}/{prec}"
                low = lower(net.spec, net.masks, prec)
                info: dict[str, Any] = {"perturbed": False}
                if key in perturb:
                    low, info = _perturbed(low, traces[f"numpy/{prec}"])
                    info["perturbed"] = True
                bias = np.stack([low.encode(xt[None]) for xt in x])
                t0 = time.perf_counter()
                traces[key] = be.open_loop(be.compile(low), v0, bias)
                info.update(wall_s=round(time.perf_counter() - t0, 3), bias_saturated=low.bias_saturated,
                            scale=low.fixed.scale if low.fixed else 1.0)
                meta[key] = info
        finally:
            be.close()
    unknown = set(perturb) - set(traces)
    if unknown:
        raise UserError(f"cannot perturb {sorted(unknown)}: runs are {sorted(traces)}")
    return traces, meta, skipped


def rates(tr: Trace, n_exc: int) -> dict[str, float]:
    """Firing rates in spikes per neuron per substep: all, E, I."""
    s = np.abs(tr.s[:, 0]) > 0
    return {"all": float(s.mean()), "E": float(s[:, :n_exc].mean()), "I": float(s[:, n_exc:].mean())}


def compare_exact(a: Trace, b: Trace, K: int) -> dict[str, Any]:
    """Bitwise comparison of one member: first differing substep and what differs there, max |du|, |dv|."""
    out: dict[str, Any] = {}
    first, where = None, {}
    for name in ("u", "v", "s"):
        x = np.asarray(getattr(a, name)[:, 0], np.float64)
        y = np.asarray(getattr(b, name)[:, 0], np.float64)
        diff = x - y
        out[f"max_abs_d{name}"] = float(np.abs(diff).max()) if diff.size else 0.0
        bad = np.flatnonzero((diff != 0).any(axis=1))
        if bad.size and (first is None or bad[0] <= first):
            if first is None or bad[0] < first:
                where = {}
            first = int(bad[0])
            where[name] = np.flatnonzero(diff[first] != 0)[:10].tolist()
    out["identical"] = first is None
    out["first_divergence_substep"] = first
    out["first_divergence_control_step"] = None if first is None else first // K
    out["first_divergence_neurons"] = where
    return out


def compare_pair(key_a: str, a: Trace, key_b: str, b: Trace, kind: str, spec: NetworkSpec,
                 scales: tuple[float, float]) -> dict[str, Any]:
    """One row of the report; `scales` convert each run's u, v to threshold units (fixed point / scale)."""
    K, n_exc = spec.neuron.substeps, spec.n_exc
    if kind == "bit-exact":
        res = compare_exact(a, b, K)
    else:
        fa = Trace(a.u / scales[0], a.v / scales[0], a.s, a.r)
        fb = Trace(b.u / scales[1], b.v / scales[1], b.s, b.r)
        res = compare_exact(fa, fb, K)
    ca = (np.abs(a.s[:, 0]) > 0).sum(axis=0)
    cb = (np.abs(b.s[:, 0]) > 0).sum(axis=0)
    ra, rb = rates(a, n_exc), rates(b, n_exc)
    res.update(a=key_a, b=key_b, kind=kind, rates_a=ra, rates_b=rb,
               spike_count_diff=(ca - cb).astype(int).tolist(), max_abs_count_diff=int(np.abs(ca - cb).max()),
               spike_mismatches=int(np.count_nonzero((a.s[:, 0] != 0) != (b.s[:, 0] != 0))))
    if kind == "bit-exact":
        res["passed"] = res["identical"]
        res["rule"] = "must be bit-identical in u, v and spikes (same precision)"
        if not res["passed"]:
            step = res["first_divergence_substep"]
            res["verdict"] = (f"DIFFERS from substep {step} (control step {res['first_divergence_control_step']}), "
                              f"neurons {res['first_divergence_neurons']}")
        else:
            res["verdict"] = "identical"
    else:
        bad = [g for g in ("all", "E", "I") if abs(ra[g] - rb[g]) > RATE_RTOL * max(ra[g], rb[g]) + RATE_ATOL]
        res["passed"] = not bad
        res["rule"] = (f"may differ (fixed vs float: chaotic divergence after a few substeps); firing rates must "
                       f"agree within {RATE_RTOL:.0%} relative + {RATE_ATOL} spikes/neuron/substep")
        res["verdict"] = ("rates agree" if not bad else f"rates of {', '.join(bad)} differ beyond tolerance") + (
            f"; states part at substep {res['first_divergence_substep']}" if not res["identical"] else "")
    return res


def check(net: deployed.Deployed, x: np.ndarray, backends: list[str] | None = None, perturb: tuple[str, ...] = (),
          options: dict[str, dict[str, Any]] | None = None) -> tuple[dict[str, Any], dict[str, Trace]]:
    """Run everything and build the report: {"passed", "pairs": [...], "runs": {...}, "skipped": {...}, ...}."""
    traces, meta, skipped = run_all(net, x, backends, perturb, options)
    spec = net.spec
    pairs = []
    for key in traces:
        name, prec = key.split("/")
        ref = f"numpy/{prec}"
        if name != "numpy":
            pairs.append(compare_pair(key, traces[key], ref, traces[ref], "bit-exact", spec, (1.0, 1.0)))
    if "numpy/fixed" in traces and "numpy/float" in traces:
        pairs.append(compare_pair("numpy/fixed", traces["numpy/fixed"], "numpy/float", traces["numpy/float"],
                                  "statistical", spec, (meta["numpy/fixed"]["scale"], 1.0)))
    runs = {k: {**meta[k], "rates": rates(t, spec.n_exc), "spikes": int((t.s != 0).sum())} for k, t in traces.items()}
    report = {
        "passed": all(p["passed"] for p in pairs),
        "network": {"source": net.meta.get("source"), "task": net.task, "n_neurons": spec.n_neurons,
                    "n_exc": spec.n_exc, "substeps_per_control_step": spec.neuron.substeps},
        "stimulus": {"control_steps": int(len(x)), "substeps": int(len(x) * spec.neuron.substeps)},
        "runs": runs, "skipped": skipped, "pairs": pairs,
        "tolerance": {"rate_rtol": RATE_RTOL, "rate_atol": RATE_ATOL},
    }
    return report, traces
