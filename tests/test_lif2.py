"""The two-layer LIF classifier (spec/classifier.py, networks/lif2.py): its forward against a plain per-member,
per-sample numpy loop, chunking, validation, lr_decay of the weight strategies, and the events bench's quick mode."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ec_neuro import registry
from ec_neuro.errors import UserError
from ec_neuro.networks.lif2 import ControlForward, classify, neg_cross_entropy
from ec_neuro.spec.classifier import LIFClassifierSpec
from ec_neuro.strategies.eggroll import EGGROLL, EGGROLLParams
from ec_neuro.strategies.es import ES, ESParams


def spec_(**kw):
    return LIFClassifierSpec(**{"n_obs": 12, "n_act": 3, "hidden": 7, **kw})


def population(method: str, spec: LIFClassifierSpec, P: int = 6, sigma: float = 0.3, rank: int = 2):
    if method == "es":
        s = ES.for_network(spec, P, ESParams(sigma=sigma))
    else:
        s = EGGROLL.for_network(spec, P, EGGROLLParams(sigma=sigma, rank=rank))
    return s.ask(s.init(3))


def frames(B: int = 5, T: int = 4, D: int = 12, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).poisson(0.6, (B, T, D)).astype(np.float32)
    return x / np.float32(np.sqrt((x ** 2).sum(-1).mean()))


def reference(spec: LIFClassifierSpec, flat: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, float]:
    """One member, sample by sample, bin by bin, in float64 on its float32 weights (the module docstring)."""
    w = {k: v.astype(np.float32).astype(np.float64) for k, v in spec.split(flat).items()}
    B, T, _ = X.shape
    logits, n = np.zeros((B, spec.n_act)), 0.0
    for b in range(B):
        v, u, acc = np.zeros(spec.hidden), np.zeros(spec.n_act), np.zeros(spec.n_act)
        for t in range(T):
            v = spec.beta * v + X[b, t].astype(np.float64) * spec.in_gain @ w["W1"] + w["b1"]
            s = (v > 1.0).astype(np.float64)
            v -= s
            n += s.sum()
            u = spec.beta * u + s @ w["W2"] + w["b2"]
            if spec.readout == "counts":
                so = (u > 1.0).astype(np.float64)
                acc += so
                u -= so
            else:
                acc += u
        logits[b] = acc * spec.out_gain if spec.readout == "counts" else acc / T
    return logits, n


@pytest.mark.parametrize("method", ["es", "eggroll"])
@pytest.mark.parametrize("readout", ["membrane", "counts"])
def test_forward_matches_a_plain_loop(method: str, readout: str) -> None:
    spec = spec_(readout=readout, w2_gain=8.0, in_gain=1.5, out_gain=0.5)
    pop = population(method, spec)
    X = frames()
    slots = np.array([3, 0, 6, 5, 1, 7, 2, 4])                     # shuffled, with two center slots (6, 7)
    logits, spikes = classify(spec, pop, slots, X)
    assert logits.shape == (8, 5, 3) and logits.dtype == np.float64 and spikes.shape == (8,)
    for row, k in enumerate(slots):
        ref, n = reference(spec, pop.member(int(k)), X)
        np.testing.assert_allclose(logits[row], ref, rtol=1e-5, atol=1e-5, err_msg=f"slot {k}")
        assert spikes[row] == n, (k, spikes[row], n)
    assert spikes.sum() > 0 and np.ptp(logits[:, 0, 0]) > 0        # members differ, the hidden layer spikes
    if readout == "counts":
        assert logits.max() > 0
    np.testing.assert_array_equal(logits[2], logits[5])            # both center slots are the center


@pytest.mark.parametrize("method", ["es", "eggroll"])
def test_chunks_and_slot_subsets_give_the_same_logits(method: str) -> None:
    spec = spec_(w2_gain=6.0)
    pop = population(method, spec, P=8)
    X = frames(B=3, T=3)
    slots = np.arange(10)
    full, sp = classify(spec, pop, slots, X)
    for chunk in (1, 2, 3, 4):
        lg, s2 = classify(spec, pop, slots, X, chunk=chunk)
        np.testing.assert_array_equal(lg, full)
        np.testing.assert_array_equal(s2, sp)
    sub = np.array([7, 2, 9])
    np.testing.assert_array_equal(classify(spec, pop, sub, X)[0], full[sub])


def test_deployed_center_of_a_size_zero_population() -> None:
    spec = spec_()
    theta = spec.init_params(0)
    from ec_neuro.strategies.es import ESPopulation
    pop = ESPopulation(0, 0, 0, theta, sigma=0.0)                  # host/weights.py's deployed-network form
    X = frames(B=2, T=2)
    np.testing.assert_allclose(classify(spec, pop, [0, 1], X)[0][0], reference(spec, theta, X)[0], atol=1e-5)


def test_spec_validates_with_clear_errors() -> None:
    spec = spec_()
    assert spec.layout == (("W1", (12, 7)), ("b1", (7,)), ("W2", (7, 3)), ("b2", (3,)))
    assert spec.n_params == 12 * 7 + 7 + 7 * 3 + 3 and spec.init_params(0).shape == (spec.n_params,)
    assert LIFClassifierSpec.from_dict(spec.to_dict()) == spec
    bad = [({"hidden": 0}, "network.hidden"), ({"n_act": 1}, "at least 2 classes"), ({"beta": 1.0}, "network.beta"),
           ({"readout": "rate"}, "membrane, counts"), ({"w1_gain": -1}, "network.w1_gain"),
           ({"in_gain": float("nan")}, "network.in_gain"), ({"n_obs": 2.5}, "network.n_obs")]
    for kw, match in bad:
        with pytest.raises(UserError, match=match):
            spec_(**kw)
    with pytest.raises(UserError, match="unknown field"):
        LIFClassifierSpec.from_dict({"n_obs": 4, "n_act": 2, "neurons": 3})
    with pytest.raises(UserError, match="network.kind"):
        LIFClassifierSpec.from_dict({"kind": "gru", "n_obs": 4, "n_act": 2})
    pop = population("es", spec)
    with pytest.raises(UserError, match=r"frames must be \(batch, time bins, 12\)"):
        classify(spec, pop, [0], np.zeros((2, 3, 11), np.float32))
    with pytest.raises(UserError, match="NaN"):
        classify(spec, pop, [0], np.full((2, 3, 12), np.nan, np.float32))
    with pytest.raises(UserError, match="parameters"):
        classify(spec_(hidden=8), pop, [0], frames())
    with pytest.raises(UserError, match="classification task"):
        ControlForward(spec, pop, np.arange(2))


def test_registered_for_es_and_eggroll_and_refused_on_control_tasks() -> None:
    for m in ("es", "eggroll"):
        assert "lif-classifier" in registry.METHODS[m].networks and registry.METHODS[m].networks[0] == "dense-rsnn"
    assert "lif-classifier" not in registry.METHODS["ec"].networks
    spec = registry.network_spec({"kind": "lif-classifier", "n_obs": 578, "n_act": 10})
    assert registry.load(spec.classify) is classify and spec.strategy_defaults["eggroll"]["rank"] == 4
    from ec_neuro.host.config import resolve
    with pytest.raises(UserError, match="classification task"):
        resolve({"task": "CartPole-v1", "method": "eggroll"}, overrides=["network.kind=lif-classifier"])


def test_fitness_is_minus_cross_entropy() -> None:
    lg = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]]))
    np.testing.assert_allclose(neg_cross_entropy(lg, np.array([0, 2])), [(math.log(0.5) + math.log(0.8)) / 2])


@pytest.mark.parametrize("cls", ["es", "eggroll"])
def test_lr_decay(cls: str) -> None:
    spec = spec_()
    make = (lambda **kw: ES.for_network(spec, 4, ESParams(**kw))) if cls == "es" else \
        (lambda **kw: EGGROLL.for_network(spec, 4, EGGROLLParams(rank=1, **kw)))
    for bad in (0, 1.5, -0.1, float("nan"), True):
        with pytest.raises(UserError, match="strategy.lr_decay"):
            make(lr_decay=bad)
    f = np.array([1.0, 0.0, 0.0, 1.0])
    steps = {}
    for decay in (1.0, 0.5):
        s = make(optimizer="sgd", weight_decay=0.0, lr=0.1, lr_decay=decay)
        st = s.init(0)
        d = []
        for _ in range(3):
            pop = s.ask(st)
            new, _ = s.tell(st, pop, f)
            d.append((new.center - st.center, s.gradient(pop, f)))
            st = new
        steps[decay] = d
    for g, (delta, grad) in enumerate(steps[0.5]):
        np.testing.assert_allclose(delta, 0.1 * 0.5 ** g * grad, rtol=1e-12, atol=1e-15)
    for delta, grad in steps[1.0]:                                  # the default: lr * g every generation
        np.testing.assert_allclose(delta, 0.1 * grad, rtol=1e-12, atol=1e-15)
    assert ESParams().lr_decay == 1.0 and EGGROLLParams().lr_decay == 1.0


def test_events_bench_quick() -> None:
    from ec_neuro.bench.events import run
    out = run(quick=True)
    eg, es = out["methods"]["eggroll"], out["methods"]["es"]
    assert eg["noise_floats_per_pair"] < es["noise_floats_per_pair"] == es["n_params"]
    for r in (eg, es):
        assert r["sec_per_generation"] > 0 and r["memory"]["peak_rss_MiB"] > 0 and r["memory"]["tracemalloc_peak_MiB"] > 0
    assert out["es_over_eggroll_sec_per_generation"] > 0


def test_through_the_classification_task() -> None:
    """host/classify.py's real-weight path on a tiny digits-events task: members on the shared mini-batch, the
    center on the validation rows; the task's fitness of our logits."""
    from ec_neuro.host import classify as hc
    from ec_neuro.host.config import resolve
    from ec_neuro.host.rollout import EvalRequest
    from ec_neuro.tasks.events.classify import DigitsEventsTask, neg_ce
    cfg = resolve({"task": "digits-events", "method": "eggroll"}, overrides=["network.kind=lif-classifier"])
    assert cfg.network["n_obs"] == 578 and cfg.strategy["rank"] == 4 and cfg.strategy["lr_decay"] == 0.998
    task = DigitsEventsTask(limit=2, realisations=1, batch_size=4)
    spec = registry.network_spec({**cfg.network, "hidden": 8})
    s = EGGROLL.for_network(spec, 4, EGGROLLParams(rank=2, sigma=0.1))
    pop = s.ask(s.init(0))
    req = EvalRequest(pop, spec.to_dict(), None, "numpy", {}, "float", np.zeros(578), np.ones(578), np.arange(5))
    res = hc.run_classify(req, spec, task, backend=None)
    frames, labels = task.batch(pop.seed, pop.generation)
    want, _ = neg_ce(classify(spec, pop, np.arange(4), frames)[0], labels)
    np.testing.assert_allclose(res.fitness[:4], want, rtol=1e-12)
    assert np.isfinite(res.fitness).all() and 0 <= res.extra["accuracy"][4] <= 1
