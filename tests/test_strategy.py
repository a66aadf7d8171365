"""EC ask/tell: centred ranks, NaN ranked last, and the update climbs a known objective."""
from __future__ import annotations

import numpy as np
import pytest

from ec_neuro.errors import UserError
from ec_neuro.strategies.base import centred_ranks
from ec_neuro.strategies.ec import EC, ECParams


def test_centred_ranks_and_nonfinite_last() -> None:
    u = centred_ranks(np.array([3.0, np.nan, 10.0, -np.inf, 5.0]))
    assert u[2] == 0.5 and u.sum() == pytest.approx(0.0)
    assert set(u[[1, 3]]) == {-0.5, -0.25}
    assert u[0] < u[4] < u[2]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_tell_moves_rho_towards_rewarded_bits(optimizer: str) -> None:
    n, seed, target = 40, 7, np.arange(40) < 10  # reward: agreement with the first 10 bits on, the rest off
    es = EC(n, 32, ECParams(lr=0.15 if optimizer == "adam" else 2.0, optimizer=optimizer))
    state = es.init(seed)
    for _ in range(30):
        pop = es.ask(state)
        fit = np.array([(pop.member(i) == target).sum() for i in range(pop.size)], float)
        state, metrics = es.tell(state, pop, fit)
    assert state.rho[:10].min() > 0.8 and state.rho[10:].max() < 0.2
    assert state.generation == 30 and metrics["n_nonfinite"] == 0


def test_nan_fitness_is_data_not_a_crash() -> None:
    es = EC(20, 8)
    state = es.init(0)
    fit = np.arange(8.0)
    fit[[2, 5]] = np.nan
    state, metrics = es.tell(state, es.ask(state), fit)
    assert metrics["n_nonfinite"] == 2 and np.isfinite(state.rho).all()
    assert ((state.rho >= 1e-3) & (state.rho <= 1 - 1e-3)).all()


def test_rho_clipped_to_eps() -> None:
    es = EC(5, 6, ECParams(lr=10.0, optimizer="sgd", eps=0.01))
    state = es.init(1)
    for _ in range(5):
        state, _ = es.tell(state, es.ask(state), np.arange(6.0))
    assert state.rho.min() >= 0.01 and state.rho.max() <= 0.99


@pytest.mark.parametrize("bad", [dict(lr=0), dict(eps=0.5), dict(eps=0), dict(optimizer="rmsprop"), dict(init=1.0)])
def test_bad_params(bad) -> None:
    with pytest.raises(UserError):
        ECParams(**bad)


def test_tell_refuses_another_populations_fitness() -> None:
    """A population carries what its members are a function of; tell takes it back and refuses any other."""
    es = EC(30, 6)
    state = es.init(seed=3)
    pop = es.ask(state)
    assert pop.size == 6 and (pop.seed, pop.generation) == (3, 0) and not pop.center.flags.writeable
    later, _ = es.tell(state, pop, np.arange(6.0))
    with pytest.raises(UserError, match="generation 0"):
        es.tell(later, pop, np.arange(6.0))                      # a stale population
    with pytest.raises(UserError, match="seed 3"):
        es.tell(es.init(seed=4), pop, np.arange(6.0))             # another run's population
    with pytest.raises(UserError, match="6"):
        es.tell(state, pop, np.arange(5.0))                       # fitness of another size
    with pytest.raises(UserError, match="Population"):
        es.tell(state, pop.center, np.arange(6.0))                # the bare vector, as the old API took
    # the members tell weighs are regenerated from the handle: the same bits a worker evaluated
    np.testing.assert_array_equal(pop.member(2), es.ask(state).member(2))
    assert not np.array_equal(pop.member(2), pop.member(3))
