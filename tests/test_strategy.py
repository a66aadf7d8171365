"""EC ask/tell: centred ranks, NaN ranked last, and the update climbs a known objective."""
from __future__ import annotations

import numpy as np
import pytest

from ec_neuro.connectivity import sample_flat
from ec_neuro.errors import UserError
from ec_neuro.strategies.ec import EC, ECParams, centred_ranks


def test_centred_ranks_and_nonfinite_last() -> None:
    u = centred_ranks(np.array([3.0, np.nan, 10.0, -np.inf, 5.0]))
    assert u[2] == 0.5 and u.sum() == pytest.approx(0.0)
    assert set(u[[1, 3]]) == {-0.5, -0.25}
    assert u[0] < u[4] < u[2]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_tell_moves_rho_towards_rewarded_bits(optimizer: str) -> None:
    n, seed, target = 40, 7, np.arange(40) < 10  # reward: agreement with the first 10 bits on, the rest off
    es = EC(n, ECParams(lr=0.15 if optimizer == "adam" else 2.0, optimizer=optimizer))
    state = es.init()
    for _ in range(30):
        rho, gen = es.ask(state)
        fit = np.array([(sample_flat(rho, seed, gen, i) == target).sum() for i in range(32)], float)
        state, metrics = es.tell(state, fit, seed)
    assert state.rho[:10].min() > 0.8 and state.rho[10:].max() < 0.2
    assert state.generation == 30 and metrics["n_nonfinite"] == 0


def test_nan_fitness_is_data_not_a_crash() -> None:
    es = EC(20)
    state = es.init()
    fit = np.arange(8.0)
    fit[[2, 5]] = np.nan
    state, metrics = es.tell(state, fit, seed=0)
    assert metrics["n_nonfinite"] == 2 and np.isfinite(state.rho).all()
    assert ((state.rho >= 1e-3) & (state.rho <= 1 - 1e-3)).all()


def test_rho_clipped_to_eps() -> None:
    es = EC(5, ECParams(lr=10.0, optimizer="sgd", eps=0.01))
    state = es.init()
    for _ in range(5):
        state, _ = es.tell(state, np.arange(6.0), seed=1)
    assert state.rho.min() >= 0.01 and state.rho.max() <= 0.99


@pytest.mark.parametrize("bad", [dict(lr=0), dict(eps=0.5), dict(eps=0), dict(optimizer="rmsprop"), dict(init=1.0)])
def test_bad_params(bad) -> None:
    with pytest.raises(UserError):
        ECParams(**bad)
