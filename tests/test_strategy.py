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


def test_philox_known_answers() -> None:
    """The mask stream is Philox4x32-10: Random123's known-answer vectors (kat_vectors, philox4x32 10)."""
    from ec_neuro.sample.masks import _ROUNDS, philox4x32

    def round_keys(k0: int, k1: int) -> np.ndarray:
        ks = np.empty((2, _ROUNDS), np.uint64)
        for r in range(_ROUNDS):
            ks[:, r] = k0, k1
            k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
        return ks

    for ctr, key, want in (
            ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
            ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
            ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
             (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))):
        assert tuple(int(w) for w in philox4x32(np.array(ctr, np.uint64), round_keys(*key))) == want


def test_masks_sampling_and_tell_sum_agree_with_sample_flat() -> None:
    """pop.masks (members in parallel, repeats, deterministic slots) and tell's sum_i u_i theta_i are exactly
    what sample_flat gives member by member; the bits are Bernoulli(rho)."""
    from ec_neuro.sample.masks import Masks, accumulate, sample_flat
    from ec_neuro.spec import NetworkSpec
    from ec_neuro.strategies.ec import ECPopulation
    spec = NetworkSpec(n_obs=5, n_act=2, n_neurons=16)
    rho = np.random.default_rng(1).uniform(0.01, 0.99, spec.n_connections)
    pop = ECPopulation(3, 4, 6, rho)
    for idx in ([5, 0, 0, 6, 2, 7, 5], None, [4, 1]):
        got = pop.masks(spec, idx)
        want = Masks.stack(spec, [pop.member(i) for i in (range(6) if idx is None else idx)])
        for a, b in zip(got.groups().values(), want.groups().values()):
            assert a.dtype == np.uint8 and a.flags.c_contiguous
            np.testing.assert_array_equal(a, b)
    for D in (1, 3, 4097, spec.n_connections):  # D not a multiple of 4 or of the 4,096-connection chunk
        r = rho[:D] if D <= len(rho) else np.full(D, 0.3)
        w = np.random.default_rng(D).normal(size=5)
        ref = np.zeros(D)
        for i, wi in zip([3, 1, 2, 0, 4], w):
            ref += wi * sample_flat(r, 7, 8, i)
        np.testing.assert_array_equal(accumulate(r, 7, 8, [3, 1, 2, 0, 4], w), ref)
    r = np.full(200_000, 0.2)
    m = sample_flat(r, 0, 0, 0).mean()
    assert abs(m - 0.2) < 5 * np.sqrt(0.16 / r.size)
    assert not sample_flat(np.zeros(10), 0, 0, 0).any() and sample_flat(np.ones(10), 0, 0, 0).all()


def test_parallel_sampling_and_sum_equal_serial() -> None:
    """The parallel copies of the population sampler and of tell's sum give the serial copies' bits."""
    from ec_neuro.sample import masks as M
    from ec_neuro.spec import NetworkSpec
    spec = NetworkSpec(n_obs=348, n_act=17)
    rho = np.random.default_rng(0).uniform(0.001, 0.999, spec.n_connections)
    keys = M.member_keys(5, 6, np.arange(20))
    w = np.random.default_rng(1).normal(size=20)
    accs = []
    for fn in (M._accumulate.serial, M._accumulate.parallel):
        accs.append(np.zeros(spec.n_connections))
        fn(keys, w, rho, accs[-1])
    np.testing.assert_array_equal(accs[0], accs[1])
    outs = []
    for fn in (M._sample_population.serial, M._sample_population.parallel):
        outs.append([np.empty((20, a, b), np.uint8) for a, b in spec.group_shapes.values()])
        fn(keys, rho, *outs[-1])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.concatenate([g[3].ravel() for g in outs[1]]), M.sample_flat(rho, 5, 6, 3))
