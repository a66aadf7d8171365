"""What a deployed network costs on Loihi 2: neurons, synapses, memory, cores, synaptic operations, energy.

    synaptic ops per control step = sum over the K substeps of sum over spiking neurons i of fan_out(i)
    energy per control step       = SOPs * E_SOP + N * K * E_NEURON

Spike statistics come from the network's own task: a few episodes closed loop on the numpy backend in the
network's precision (`task_spike_stats`); only a network that names no task falls back to random inputs
x ~ N(0, 1) (`spike_stats`), and the report says which.  Every limit and per-operation figure carries its
source in LIMITS / ENERGY; none was measured here.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..backends.numpy import NumpyBackend
from ..compilers.common import lower
from .deployed import Deployed

LIMITS: dict[str, tuple[float, str]] = {
    "cores_per_chip": (128, "Intel Labs, 'Taking Neuromorphic Computing to the Next Level with Loihi 2', "
                             "Technology Brief (2021): 128 neuromorphic cores per chip"),
    "neurons_per_chip": (1_048_576, "same brief: up to 1 million neurons per chip"),
    "synapses_per_chip": (120_000_000, "same brief: up to 120 million synapses per chip"),
    "neurons_per_core": (8192, "derived: neurons_per_chip / cores_per_chip (the brief's 1M / 128)"),
    "synapses_per_core": (937_500, "derived: synapses_per_chip / cores_per_chip (120M / 128)"),
    "weight_bits": (8, "Lava 0.10.0 Sparse/Dense fixed_pt: 8-bit weight mantissa (num_weight_bits <= 8)"),
}

ENERGY: dict[str, tuple[float, str]] = {
    "pj_per_synaptic_op": (23.6, "Davies et al., 'Loihi: A Neuromorphic Manycore Processor with On-Chip "
                                 "Learning', IEEE Micro 38(1), 2018, Table 2: energy per synaptic spike op "
                                 "(Loihi 1, 14 nm; no per-op figure is published for Loihi 2)"),
    "pj_per_neuron_update": (52.0, "same table: energy per (active) neuron update (Loihi 1)"),
}


def spike_stats(net: Deployed, control_steps: int = 50, seed: int = 0) -> dict[str, Any]:
    """Open-loop run on the numpy fixed-point backend: spikes per neuron per substep and SOPs per control step."""
    spec = net.spec
    low = lower(spec, net.masks, "fixed")
    rng = np.random.default_rng(seed)
    x = np.clip(rng.standard_normal((control_steps, 1, spec.n_obs)), -5, 5)
    bias = np.stack([low.encode(x[t]) for t in range(control_steps)])
    be = NumpyBackend()
    trace = be.open_loop(be.compile(low), rng.random((1, spec.n_neurons)), bias)
    spikes = np.abs(trace.s[:, 0, :]).astype(np.int64)  # (T*K, N)
    fan_out = net.masks.W_h[0].astype(np.int64).sum(axis=1)  # (N,)
    sops = spikes @ fan_out  # per substep
    K = spec.neuron.substeps
    return {"source": f"random inputs x ~ N(0, 1), {control_steps} control steps open loop (numpy/fixed)",
            "control_steps": control_steps, "seed": seed,
            "rate_per_substep": float(spikes.mean()),
            "rate_hz": float(spikes.mean() / (spec.neuron.dt * 1e-3)),
            "sops_per_control_step": float(sops.sum() / control_steps),
            "spikes_per_control_step": float(spikes.sum() / control_steps), "substeps": K}


def task_spike_stats(net: Deployed, task: str, episodes: int = 5, seed: int = 12345) -> dict[str, Any]:
    """Spike rates and SOPs of `net` on `episodes` episodes of its task, closed loop on numpy in the network's
    precision, counted over the steps each episode was running; also the task's control period."""
    from ..host.rollout import TaskLoop, env_seed
    from ..sample.masks import Masks, initial_v
    from ..tasks.resolve import resolve
    spec = net.spec
    precision = net.meta.get("precision", "fixed")
    env = resolve(task, net.meta.get("task_entry") if task == net.task else None).make(episodes)
    try:
        copies = Masks(*(np.ascontiguousarray(np.repeat(g, episodes, axis=0)) for g in net.masks.groups().values()))
        low = lower(spec, copies, precision)
        loop = TaskLoop(low, env, net.obs_mean, net.obs_std, np.array([env_seed(seed, 0, i) for i in range(episodes)]))
        be = NumpyBackend()
        counts = be.rollout(be.compile(low), loop, initial_v(spec.n_neurons, seed, 0, np.arange(episodes)))
        steps = int(env.lengths.sum())
        period = getattr(env, "control_period", None)
    finally:
        env.close()
    K = spec.neuron.substeps
    fan_out = net.masks.W_h[0].astype(np.int64).sum(axis=1)
    rate = counts.sum() / max(steps * K * spec.n_neurons, 1)
    return {"source": f"task {task}, {episodes} episodes closed loop ({steps} control steps, numpy/{precision})",
            "control_steps": steps, "seed": seed, "rate_per_substep": float(rate),
            "rate_hz": float(rate / (spec.neuron.dt * 1e-3)),
            "sops_per_control_step": float((counts @ fan_out).sum() / max(steps, 1)),
            "spikes_per_control_step": float(counts.sum() / max(steps, 1)), "substeps": K,
            "control_period_ms": None if period is None else 1000.0 * period}


def report(net: Deployed, task: str | None = None, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resource report of `net` (a dict; `format_report` prints it); spike statistics from its task."""
    spec = net.spec
    n, K = spec.n_neurons, spec.neuron.substeps
    nnz = {k: int(np.count_nonzero(v[0])) for k, v in net.masks.groups().items()}
    task = task or net.task
    stats = stats or (task_spike_stats(net, task) if task else spike_stats(net))
    period = stats.get("control_period_ms")
    cores = max(math.ceil(n / LIMITS["neurons_per_core"][0]),
                math.ceil(nnz["W_h"] / LIMITS["synapses_per_core"][0]), 1)
    sops = stats["sops_per_control_step"]
    e_pj = sops * ENERGY["pj_per_synaptic_op"][0] + n * K * ENERGY["pj_per_neuron_update"][0]
    return {
        "neurons": n, "excitatory": spec.n_exc, "inhibitory": n - spec.n_exc,
        "synapses": {"recurrent (on chip)": nnz["W_h"], "input (host -> bias)": nnz["W_in"],
                     "readout (host)": nnz["W_out"]},
        "synaptic_memory_bits": {"1-bit masks, all groups": spec.n_connections,
                                 "Loihi weights, recurrent (nnz x 8-bit mantissa)": nnz["W_h"] * 8},
        "loihi2_cores": cores, "limits": {k: v for k, (v, _) in LIMITS.items()},
        "substeps_per_control_step": K, "task": task, "control_period_ms": period,
        "spike_stats": stats,
        "synaptic_ops_per_control_step": sops,
        "synaptic_ops_per_second": (sops * 1000.0 / period) if period else None,
        "energy_per_inference_nJ": e_pj / 1000.0,
        "energy_model": {k: v for k, (v, _) in ENERGY.items()},
        "sources": {**{k: s for k, (_, s) in LIMITS.items()}, **{k: s for k, (_, s) in ENERGY.items()},
                    "control_period_ms": "the task's own clock (gymnasium: CartPole tau, MuJoCo frame_skip*timestep)",
                    "spike_stats": stats["source"]},
    }


def format_report(r: dict[str, Any]) -> str:
    """Human-readable lines of a report."""
    st = r["spike_stats"]
    sps = r["synaptic_ops_per_second"]
    lines = [
        f"neurons               {r['neurons']} ({r['excitatory']} E, {r['inhibitory']} I), "
        f"{r['substeps_per_control_step']} substeps per control step",
        "synapses              " + ", ".join(f"{k}: {v}" for k, v in r["synapses"].items()),
        "synaptic memory bits  " + ", ".join(f"{k}: {v}" for k, v in r["synaptic_memory_bits"].items()),
        f"Loihi-2 cores         {r['loihi2_cores']} (<= {r['limits']['neurons_per_core']} neurons and "
        f"<= {r['limits']['synapses_per_core']} synapses per core)",
        f"spike rate            {st['rate_hz']:.1f} Hz per neuron (measured on {st['source']})",
        f"synaptic ops          {r['synaptic_ops_per_control_step']:.0f} per control step"
        + (f", {sps:.3g} per second at {r['control_period_ms']} ms ({r['task']})" if sps else
           " (unknown control period: no task)"),
        f"energy per inference  {r['energy_per_inference_nJ']:.3g} nJ "
        f"({r['energy_model']['pj_per_synaptic_op']} pJ/SOP, {r['energy_model']['pj_per_neuron_update']} pJ/neuron update)",
        "sources:",
    ]
    lines += [f"  {k}: {v}" for k, v in r["sources"].items()]
    return "\n".join(lines)
