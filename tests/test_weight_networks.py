"""Population forwards of the real-weight networks against plain per-member numpy, and independent of which other
members share the call (so fitness does not depend on the worker split)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from ec_neuro.networks.dense_rsnn import DenseRSNNPopulation
from ec_neuro.networks.rnn import RNNPopulation
from ec_neuro.spec import DenseRSNNSpec, GRUSpec, LSTMSpec
from ec_neuro.strategies.base import Population
from ec_neuro.strategies.eggroll import EGGROLL, EGGROLLParams
from ec_neuro.strategies.es import ES, ESParams


@dataclass(frozen=True, eq=False)
class Explicit(Population):
    """Any population, seen only through member(i): the forwards materialise it."""

    src: Any = None

    def member(self, index: int) -> np.ndarray:
        return self.src.member(index)


def population(kind: str, spec: Any, P: int, sigma: float, rank: int = 1) -> Any:
    if kind == "es":
        s = ES(spec.n_params, P, ESParams(sigma=sigma))
    else:
        s = EGGROLL(spec.layout, P, EGGROLLParams(sigma=sigma, rank=rank))
    return s.ask(s.init(0, center=spec.init_params(1)))


def numpy_dense_snn(spec: DenseRSNNSpec, flat: np.ndarray, v0: np.ndarray, xs: np.ndarray):
    """networks/dense_snn.py DenseSNN.__call__ for one member, float32, control step by control step."""
    w = {k: v.astype(np.float32) for k, v in spec.split(flat.astype(np.float32)).items()}
    n = spec.neuron
    R_in, R, R_out, a_syn, a_V, a_out, inv_dt, vth = (np.float32(c) for c in (
        spec.R_in, spec.R, spec.R_out, n.a_syn, n.a_mem, n.a_out, 1 / n.dt, n.v_th))
    N = spec.n_neurons
    v, i_syn, rate = v0.astype(np.float32), np.zeros(N, np.float32), np.zeros(N, np.float32)
    spike = np.zeros(N, bool)
    acts, spikes = [], 0
    for x in xs:
        i_in = R_in * (x.astype(np.float32) @ w["W_in"])
        for _ in range(spec.neuron.substeps):
            i_syn = i_syn * a_syn + R * w["W_h"][spike].sum(axis=0, dtype=np.float32)
            xx = i_syn + i_in
            v = xx + a_V * (v - xx)
            spike = v > vth
            v = np.where(spike, np.float32(0), v)
            spikes += spike.sum()
            y = inv_dt * spike.astype(np.float32)
            rate = y + a_out * (rate - y)
        acts.append(np.clip(R_out * (rate @ w["W_out"]), -1, 1))
    return np.array(acts), spikes


SNN = DenseRSNNSpec(n_obs=6, n_act=3, n_neurons=24)
P = 8


def rollout(net: Any, v0: np.ndarray | None, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    net.reset(v0)
    return np.array([net.act(x) for x in xs]), net.spike_counts()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.random((P + 2, SNN.n_neurons)), rng.normal(size=(4, P + 2, SNN.n_obs)) * 2


def test_es_dense_rsnn_equals_numpy_reference(data) -> None:
    v0, xs = data
    pop = population("es", SNN, P, 0.3)
    idx = np.arange(P + 2)  # the last two: deterministic copies (the center)
    acts, counts = rollout(DenseRSNNPopulation(SNN, pop, idx), v0, xs)
    for p in idx:
        ref, spikes = numpy_dense_snn(SNN, pop.member(int(p)), v0[p], xs[:, p])
        np.testing.assert_allclose(acts[:, p], ref, atol=2e-5)
        assert counts[p] == spikes
    assert counts.sum() > 0 and not np.allclose(acts[:, 0], acts[:, 1])


@pytest.mark.parametrize("rank", [1, 3])
def test_eggroll_low_rank_dense_rsnn_equals_materialised_members(data, rank: int) -> None:
    v0, xs = data
    pop = population("eggroll", SNN, P, 0.3, rank)
    idx = np.arange(P + 2)
    a, ca = rollout(DenseRSNNPopulation(SNN, Explicit(pop.seed, 0, P, pop.center, src=pop), idx), v0, xs)
    b, cb = rollout(DenseRSNNPopulation(SNN, pop, idx), v0, xs)
    np.testing.assert_allclose(a, b, atol=2e-5)
    np.testing.assert_array_equal(ca, cb)
    assert cb.sum() > 0


@pytest.mark.parametrize("kind", ["es", "eggroll"])
def test_dense_rsnn_members_do_not_depend_on_the_others(data, kind: str) -> None:
    v0, xs = data
    pop = population(kind, SNN, P, 0.3, 2)
    idx = np.arange(P + 2)
    a, ca = rollout(DenseRSNNPopulation(SNN, pop, idx), v0, xs)
    sub = np.array([5, 2, 9, 3])  # broken pairs and a deterministic copy, in another order
    b, cb = rollout(DenseRSNNPopulation(SNN, pop, sub), v0[sub], xs[:, sub])
    np.testing.assert_array_equal(b, a[:, sub])
    np.testing.assert_array_equal(cb, ca[sub])


def numpy_rnn(spec: Any, flat: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """flax GRUCell / OptimizedLSTMCell + Dense for one member, float64."""
    p = spec.split(flat.astype(np.float64))
    H = spec.hidden
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    h = c = np.zeros(H)
    out = []
    for x in xs:
        gi, gh = x @ p["W_i"], h @ p["W_h"]
        if isinstance(spec, GRUSpec):
            gi = gi + p["b_i"]
            r, z = sig(gi[:H] + gh[:H]), sig(gi[H:2 * H] + gh[H:2 * H])
            n = np.tanh(gi[2 * H:] + r * (gh[2 * H:] + p["b_hn"]))
            h = (1 - z) * n + z * h
        else:
            g = gi + gh + p["b_h"]
            c = sig(g[H:2 * H]) * c + sig(g[:H]) * np.tanh(g[2 * H:3 * H])
            h = sig(g[3 * H:]) * np.tanh(c)
        out.append(np.clip(h @ p["W_o"] + p["b_o"], -1, 1))
    return np.array(out)


@pytest.mark.parametrize("spec", [GRUSpec(n_obs=5, n_act=2, hidden=8), LSTMSpec(n_obs=5, n_act=2, hidden=8)],
                         ids=["gru", "lstm"])
@pytest.mark.parametrize("kind", ["es", "eggroll", "explicit"])
def test_rnn_population_equals_per_member_numpy(spec: Any, kind: str) -> None:
    pop = population("es" if kind == "explicit" else kind, spec, 6, 0.3, 2)
    if kind == "explicit":
        pop = Explicit(pop.seed, 0, 6, pop.center, src=pop)
    xs = np.random.default_rng(1).normal(size=(5, 8, spec.n_obs))
    idx = np.arange(8)
    acts, _ = rollout(RNNPopulation(spec, pop, idx), None, xs)
    for i in idx:
        np.testing.assert_allclose(acts[:, i], numpy_rnn(spec, pop.member(int(i)), xs[:, i]), atol=2e-5)
    assert not np.allclose(acts[:, 0], acts[:, 1])
    sub = np.array([3, 6, 0])  # any subset, in any order: the same bits
    b, _ = rollout(RNNPopulation(spec, pop, sub), None, xs[:, sub])
    np.testing.assert_array_equal(b, acts[:, sub])


def test_inactive_members_are_skipped(data) -> None:
    v0, xs = data
    pop = population("es", SNN, P, 0.3)
    net = DenseRSNNPopulation(SNN, pop, np.arange(P))
    net.reset(v0[:P])
    active = np.arange(P) % 3 != 0
    a = net.act(xs[0, :P], active)
    assert (a[~active] == 0).all() and (net.spike_counts()[~active] == 0).all()
