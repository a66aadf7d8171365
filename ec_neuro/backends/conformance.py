"""`check_backend`: the one conformance check every registered backend must pass (like gymnasium's check_env).

It runs a small random population open loop and closed loop on the backend and on the numpy reference and
demands bit-identical u, v, spikes, readouts and returns for the same precision.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import registry
from ..compilers.common import lower
from ..sample.masks import initial_v, random_masks
from ..spec import NetworkSpec, NeuronParams
from .base import compare_traces
from .toyloop import ToyLoop


def check_backend(name: str, precision: str = "float", population: int = 4, steps: int = 30, seed: int = 0,
                  **options: Any) -> dict[str, Any]:
    """Compare backend `name` with numpy; raises AssertionError naming the first difference, else returns a report."""
    spec = NetworkSpec(n_obs=3, n_act=2, n_neurons=32, neuron=NeuronParams(control_dt=4.0))
    masks = random_masks(spec, population, seed)
    v0 = initial_v(spec.n_neurons, seed, 0, np.arange(population))
    backend = registry.make_backend(name, **options)
    ref = registry.make_backend("numpy")
    assert backend.name == name, f"backend reports name {backend.name!r}, registered as {name!r}"
    assert precision in registry.backend(name).precisions, f"{name} does not offer precision {precision!r}"
    try:
        rng = np.random.default_rng(seed + 1)
        low = lower(spec, masks, precision)
        bias = np.stack([low.encode(rng.normal(size=(population, spec.n_obs)) * 2) for _ in range(steps)])
        got = backend.open_loop(backend.compile(low), v0, bias)
        want = ref.open_loop(ref.compile(low), v0, bias)
        report = compare_traces(got, want)
        assert report["identical"], f"{name}/{precision} open loop differs from numpy: {report}"
        assert np.array_equal(got.r, want.r), f"{name}/{precision} readout r differs from numpy"
        loops = []
        for be in (backend, ref):
            lw = lower(spec, masks, precision)
            loop = ToyLoop(lw, steps, seed)
            counts = be.rollout(be.compile(lw), loop, v0)
            loops.append((np.array(loop.actions), counts))
        assert np.array_equal(loops[0][0], loops[1][0], equal_nan=True), \
            f"{name}/{precision} closed-loop actions differ from numpy"
        assert np.array_equal(loops[0][1], loops[1][1]), f"{name}/{precision} closed-loop spike counts differ"
        report["closed_loop_steps"] = len(loops[0][0])
        report["spikes"] = int(np.abs(want.s).sum())
        return report
    finally:
        backend.close()
