"""Brian2 equals the numpy backend bit for bit (u, v, spikes, readout) in both precisions, open and closed loop, on
both targets (cython, numpy)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("brian2")

from ec_neuro.backends.base import compare_traces  # noqa: E402
from ec_neuro.backends.numpy import NumpyBackend  # noqa: E402
from ec_neuro.compilers import brian2 as comp  # noqa: E402
from ec_neuro.compilers.common import lower  # noqa: E402
from ec_neuro.sample.masks import initial_v, random_masks  # noqa: E402
from ec_neuro.errors import UserError  # noqa: E402
from ec_neuro.spec import NetworkSpec, NeuronParams  # noqa: E402

pytestmark = pytest.mark.brian2
SPEC = NetworkSpec(n_obs=3, n_act=2, n_neurons=48, neuron=NeuronParams(control_dt=4.0))
P = 4


class ToyLoop:
    """Closed loop without gymnasium: obs = tanh(action @ proj + x0); member p finishes after steps//2 + p steps."""

    def __init__(self, low, steps: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.low, self.steps, self.t = low, steps, 0
        self.proj = rng.normal(size=(low.spec.n_act, low.spec.n_obs)) * 2
        self.x0 = rng.normal(size=(low.population, low.spec.n_obs)) * 2
        self.active = np.ones(low.population, bool)
        self.actions: list[np.ndarray] = []

    def start(self) -> np.ndarray:
        return self.low.encode(self.x0)

    def step(self, r: np.ndarray) -> np.ndarray | None:
        a = self.low.decode(r)
        self.actions.append(np.where(self.active[:, None], a, 0.0))
        self.t += 1
        self.active = self.active & (np.arange(self.low.population) + self.steps // 2 > self.t)
        if self.t >= self.steps or not self.active.any():
            return None
        return self.low.encode(np.tanh(a @ self.proj + self.x0))


@pytest.fixture(scope="module", params=["cython", "numpy"])
def b2(request):
    from ec_neuro.backends.brian2 import Brian2Backend
    be = Brian2Backend(target=request.param)
    yield be
    be.close()


def _population(seed: int, p: float = 0.3, precision: str = "float"):
    masks = random_masks(SPEC, P, seed, p=p)
    return lower(SPEC, masks, precision), initial_v(SPEC.n_neurons, seed, 0, np.arange(P))


@pytest.mark.parametrize("precision,seed", [("float", 0), ("float", 1), ("fixed", 0), ("fixed", 1)])
def test_open_loop_bit_exact(b2, precision, seed):
    low, v0 = _population(seed, precision=precision)
    rng = np.random.default_rng(seed + 10)
    bias = np.stack([low.encode(rng.normal(size=(P, SPEC.n_obs)) * 3) for _ in range(25)])
    want = NumpyBackend().open_loop(NumpyBackend().compile(low), v0, bias)
    got = b2.open_loop(b2.compile(low), v0, bias)
    report = compare_traces(got, want)
    assert report["identical"], report
    assert np.array_equal(got.r, want.r)
    assert np.abs(want.s).sum() > 100, "too few spikes for a meaningful comparison"
    assert got.u.dtype == want.u.dtype


@pytest.mark.parametrize("precision", ["float", "fixed"])
def test_closed_loop_bit_exact(b2, precision):
    low, v0 = _population(3, p=0.4, precision=precision)
    runs = []
    for be in (b2, NumpyBackend()):
        loop = ToyLoop(low, steps=30, seed=5)
        counts = be.rollout(be.compile(low), loop, v0)
        runs.append((np.array(loop.actions), counts))
    assert len(runs[0][0]) == len(runs[1][0]) == 18  # the last member finishes after 15 + 3 steps
    assert np.array_equal(runs[0][0], runs[1][0]), "closed-loop actions differ"
    assert np.array_equal(runs[0][1], runs[1][1]), "spike counts differ"
    assert runs[1][1].sum() > 100


def test_rebuild_reuses_names(b2):
    """Compiling again replaces the objects (fixed names): no clash, same result."""
    low, v0 = _population(4)
    bias = np.stack([low.encode(np.ones((P, SPEC.n_obs)))] * 5)
    a = b2.open_loop(b2.compile(low), v0, bias)
    b = b2.open_loop(b2.compile(low), v0, bias)
    assert compare_traces(a, b)["identical"]


def test_strict_flags_guard(monkeypatch):
    """Fails if fast-math or FMA contraction come back into the flags Brian2 compiles with."""
    import brian2
    assert "-ffp-contract=off" in comp.STRICT_FLAGS
    assert not comp.unsafe_flags(comp.STRICT_FLAGS) and not comp.unsafe_flags(list(comp.SPEED_FLAGS))
    assert comp.configure("cython")["flags"] == comp.compile_flags()
    comp.check_flags()
    comp.configure("numpy")
    comp.check_flags()
    assert brian2.prefs.codegen.cpp.extra_compile_args_gcc == comp.STRICT_FLAGS
    assert brian2.prefs.codegen.loop_invariant_optimisations is False
    try:
        for bad in ("-ffast-math", "-Ofast", "-ffp-contract=fast", "-funsafe-math-optimizations"):
            assert comp.unsafe_flags(["-O3", bad]) == [bad]
            brian2.prefs.codegen.cpp.extra_compile_args_gcc = ["-O3", bad, "-ffp-contract=off"]
            with pytest.raises(RuntimeError, match="not strict"):
                comp.check_flags()
        brian2.prefs.codegen.cpp.extra_compile_args_gcc = ["-O3"]
        with pytest.raises(RuntimeError, match="ffp-contract=off"):
            comp.check_flags()
    finally:
        comp.configure("numpy")
    monkeypatch.setenv("CXXFLAGS", "-O2 -ffast-math")
    with pytest.raises(UserError, match="ffast-math"):
        comp.configure("cython")


def test_cache_dir_per_flag_set_inside_repo():
    from pathlib import Path
    a, b = comp.cache_dir(comp.STRICT_FLAGS), comp.cache_dir(comp.STRICT_FLAGS + ["-ffast-math"])
    assert a != b and a.parent == b.parent
    repo = Path(comp.__file__).resolve().parents[2]
    assert repo in a.parents or "ECNEURO_BRIAN2_CACHE" in __import__("os").environ


def test_bad_target():
    from ec_neuro.backends.brian2 import Brian2Backend
    with pytest.raises(UserError, match="unknown brian2 target"):
        Brian2Backend(target="gpu")
