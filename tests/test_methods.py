"""ES and EGGROLL ask/tell: the reference es_dense.py update, EGGROLL = the explicit sum of its materialised
low-rank perturbations, quadratics reached, antithetic pairs, NaN ranked last, checkpoints resumed bit for bit."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ec_neuro.errors import UserError
from ec_neuro.host import checkpoint as ckpt
from ec_neuro.host.normalizer import RunningNorm
from ec_neuro.strategies.base import centred_ranks
from ec_neuro.strategies.eggroll import EGGROLL, EGGROLLParams
from ec_neuro.strategies.es import ES, ESParams
from ec_neuro.strategies.optim import OptState, ascend

LAYOUT = (("W", (5, 4)), ("b", (7,)), ("V", (3, 6)))
D = sum(math.prod(s) for _, s in LAYOUT)


def make(kind: str, P: int = 8, **kw) -> ES | EGGROLL:
    if kind == "es":
        return ES(D, P, ESParams(**kw))
    return EGGROLL(LAYOUT, P, EGGROLLParams(**kw))


# --- the reference: imoneoi/EvolvingConnectivity es_dense.py `_runnner_run` with optax.adamw, written out -------
# Its population is [center + sigma eps_k (k < K), center - sigma eps_k (k < K)] (+ eval copies that do not enter
# the update); `noise` there already carries sigma (rand_normal_like_tree(std=sigma)).

def reference_centred_rank(x: np.ndarray) -> np.ndarray:
    """es_dense._centered_rank_transform: argsort(argsort(x)) / (len - 1) - 0.5."""
    r = np.argsort(np.argsort(x, kind="stable"), kind="stable")
    return r / (len(x) - 1) - 0.5


def reference_es_update(center, eps, fitness, mu, nu, t, sigma, lr, weight_decay=0.1, b1=0.9, b2=0.999,
                        adam_eps=1e-8, eps_root=0.0):
    """One generation for unit noise eps (K, D) and fitness (2K,) in the reference's order [pos..., neg...]."""
    K = eps.shape[0]
    noise = sigma * eps                                   # rand_normal_like_tree(std=sigma)
    theta_pos = center + noise                            # network_params[:K]
    weight = reference_centred_rank(fitness)
    weight = weight[:K] - weight[K:]                      # jnp.split(weight, 2): weight_pos - weight_neg
    grads = -np.mean(weight[:, None] * (theta_pos - center), axis=0)   # no 1/(2 sigma): "AdamW, no effects"
    t = t + 1                                             # optax.scale_by_adam
    mu = b1 * mu + (1 - b1) * grads
    nu = b2 * nu + (1 - b2) * grads**2
    updates = (mu / (1 - b1**t)) / (np.sqrt(nu / (1 - b2**t) + eps_root) + adam_eps)
    updates = updates + weight_decay * center             # optax.add_decayed_weights(weight_decay), no mask
    updates = -lr * updates                               # optax.scale(-learning_rate)
    return center + updates, mu, nu, t


def test_es_update_equals_reference_es_dense() -> None:
    P, rng = 16, np.random.default_rng(3)
    c0 = rng.standard_normal(D)
    es = ES(D, P, ESParams(sigma=0.3, lr=0.15, optimizer="adamw", weight_decay=0.1))
    st = es.init(7, center=c0)
    center, mu, nu, t = c0.copy(), np.zeros(D), np.zeros(D), 0
    for _ in range(4):
        pop = es.ask(st)
        f = rng.standard_normal(P)
        st, _ = es.tell(st, pop, f)
        eps = np.stack([pop.noise(k) for k in range(P // 2)]).astype(np.float64)
        f_ref = np.concatenate([f[0::2], f[1::2]])        # the reference's member order: all +, then all -
        center, mu, nu, t = reference_es_update(center, eps, f_ref, mu, nu, t, sigma=0.3, lr=0.15)
        np.testing.assert_allclose(st.center, center, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(st.opt.m, -mu, rtol=1e-12, atol=1e-15)  # ours is the ascent direction
    assert st.opt.t == t == 4


@pytest.mark.parametrize("kind", ["es", "eggroll"])
def test_antithetic_pairs_share_noise(kind: str) -> None:
    c0 = np.random.default_rng(0).standard_normal(D)
    strat = make(kind, sigma=0.5, **({"rank": 2} if kind == "eggroll" else {}))
    st = strat.init(11, center=c0)
    pop = strat.ask(st)
    m = [pop.member(i) - c0 for i in range(8)]
    for k in range(4):
        np.testing.assert_allclose(m[2 * k], -m[2 * k + 1], rtol=0, atol=1e-14)   # the same noise, opposite signs
        assert np.abs(m[2 * k]).max() > 1e-3
    assert not np.allclose(m[0], m[2])                          # pairs differ
    again = strat.ask(strat.init(11, center=c0))                # regenerated from (seed, generation, pair)
    np.testing.assert_array_equal(again.member(5), pop.member(5))
    np.testing.assert_array_equal(pop.member(8), c0)            # index >= size: the deployed center
    st2, _ = strat.tell(st, pop, np.arange(8.0))
    assert not np.allclose(strat.ask(st2).member(0) - st2.center, m[0], atol=1e-3)  # a new generation's noise


def test_eggroll_update_equals_explicit_sum_of_materialised_perturbations() -> None:
    P, r, sigma = 10, 3, 0.2
    eg = EGGROLL(LAYOUT, P, EGGROLLParams(rank=r, sigma=sigma, optimizer="sgd", lr=1.0, weight_decay=0.0))
    c0 = np.random.default_rng(1).standard_normal(D)
    st = eg.init(5, center=c0)
    pop = eg.ask(st)
    f = np.random.default_rng(2).standard_normal(P)
    u = centred_ranks(f)
    explicit = np.zeros(D)
    for i in range(P):  # E_i built entry by entry from the factors (sum of r outer products), sign included
        parts = []
        for fac in pop.factors(i // 2):
            if len(fac) == 2:
                A, B = fac[0].astype(np.float64), fac[1].astype(np.float64)
                parts.append((sum(np.outer(A[:, q], B[:, q]) for q in range(r)) / math.sqrt(r)).ravel())
            else:
                parts.append(fac[0].astype(np.float64))
        E_i = (1.0 if i % 2 == 0 else -1.0) * np.concatenate(parts)
        np.testing.assert_allclose((pop.member(i) - c0) / sigma, E_i, rtol=1e-9, atol=1e-12)
        explicit += u[i] * E_i
    explicit *= 2 * sigma / P  # (sigma/K) sum_k w_k E_k = 2 sigma (1/N) sum_i u_i E_i
    np.testing.assert_allclose(eg.gradient(pop, f, chunk=2), explicit, rtol=1e-9, atol=1e-12)  # chunks of pairs
    st2, _ = eg.tell(st, pop, f)  # SGD, lr 1, no decay: the step is the update itself
    np.testing.assert_allclose(st2.center - c0, explicit, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["es", "eggroll"])
def test_reaches_the_optimum_of_a_quadratic(kind: str) -> None:
    target = np.random.default_rng(4).standard_normal(D)
    strat = make(kind, P=64, sigma=0.1, lr=0.05, optimizer="adam", **({"rank": 1} if kind == "eggroll" else {}))
    st = strat.init(0)
    for _ in range(300):
        pop = strat.ask(st)
        f = np.array([-np.sum((pop.member(i) - target) ** 2) for i in range(pop.size)])
        st, _ = strat.tell(st, pop, f)
    assert np.linalg.norm(st.center - target) / np.linalg.norm(target) < 0.05


@pytest.mark.parametrize("kind", ["es", "eggroll"])
@pytest.mark.parametrize("shaping", ["centred_ranks", "zscore"])
def test_nan_ranked_last_never_raises(kind: str, shaping: str) -> None:
    strat = make(kind, shaping=shaping)
    st = strat.init(0, center=np.ones(D))
    pop = strat.ask(st)
    f = np.arange(8.0)
    f_nan = f.copy()
    f_nan[[3, 6]] = [np.nan, np.inf]
    f_low = f.copy()
    f_low[[3, 6]] = [-1e9, -1e9 + 1]   # what NaN and +inf mean: worst, in index order
    a, m = strat.tell(st, pop, f_nan)
    if shaping == "centred_ranks":
        b, _ = strat.tell(st, pop, f_low)
        np.testing.assert_array_equal(a.center, b.center)
    assert m["n_nonfinite"] == 2 and np.isfinite(a.center).all()
    c, _ = strat.tell(st, pop, np.full(8, np.nan))   # all NaN: a finite step, no exception
    assert np.isfinite(c.center).all()


@pytest.mark.parametrize("kind", ["es", "eggroll"])
def test_checkpoint_resume_is_bit_identical(kind: str, tmp_path) -> None:
    strat = make(kind, **({"rank": 2, "shaping": "zscore"} if kind == "eggroll" else {}))
    fit = lambda pop: np.array([-np.sum(pop.member(i) ** 2) for i in range(8)])  # noqa: E731
    st = strat.init(9, center=np.ones(D))
    for g in range(4):
        st, _ = strat.tell(st, strat.ask(st), fit(strat.ask(st)))
        if g == 1:
            ckpt.save(tmp_path / "c.npz", ckpt.Checkpoint(st, RunningNorm.empty(3), {}, {}))
    back = ckpt.load(tmp_path / "c.npz").state
    assert type(back) is type(st) and back.generation == 2
    for _ in range(2):
        pop = strat.ask(back)
        back, _ = strat.tell(back, pop, fit(pop))
    for name in ("center",):
        np.testing.assert_array_equal(getattr(back, name), getattr(st, name))
    np.testing.assert_array_equal(back.opt.m, st.opt.m)
    np.testing.assert_array_equal(back.opt.v, st.opt.v)
    assert (back.opt.t, back.generation, back.seed) == (st.opt.t, st.generation, st.seed)


def test_tell_refuses_another_population_and_bad_settings() -> None:
    es = make("es")
    st = es.init(3)
    pop = es.ask(st)
    later, _ = es.tell(st, pop, np.arange(8.0))
    with pytest.raises(UserError, match="generation 0"):
        es.tell(later, pop, np.arange(8.0))
    with pytest.raises(UserError, match="even"):
        ES(D, 7)
    for bad in (dict(sigma=0), dict(lr=-1), dict(optimizer="rmsprop"), dict(shaping="ranks"), dict(weight_decay=-1)):
        with pytest.raises(UserError):
            ESParams(**bad)
    with pytest.raises(UserError, match="rank"):
        EGGROLLParams(rank=0)


def test_adamw_is_optax_adamw() -> None:
    """theta <- theta - lr (mhat / (sqrt(vhat) + eps) + wd theta) on the descent gradient -g."""
    g, theta = np.array([0.5, -2.0, 1e-3]), np.array([1.0, -3.0, 0.2])
    step, s = ascend("adamw", 0.1, g, OptState.zeros(3), theta=theta, weight_decay=0.1)
    mhat, vhat = -g, g * g                                  # after one step, the bias corrections cancel
    np.testing.assert_allclose(step, -0.1 * (mhat / (np.sqrt(vhat) + 1e-8) + 0.1 * theta), rtol=1e-12)
    assert s.t == 1
    plain, _ = ascend("adam", 0.1, g, OptState.zeros(3))
    np.testing.assert_allclose(plain, 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)
