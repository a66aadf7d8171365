"""Tasks through gymnasium: action decoding, episode bookkeeping, forward distance, normalisation, eval replay."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from ec_neuro.tasks.resolve import resolve
from ec_neuro.compilers.common import lower
from ec_neuro.sample.masks import initial_v, random_masks
from ec_neuro.backends.numpy import NumpyBackend
from ec_neuro.host.normalizer import RunningNorm, normalise, observe
from ec_neuro.host.rollout import TaskLoop
from ec_neuro.spec import NetworkSpec


def rollout(task_name: str, population: int, seed: int = 0, max_steps: int | None = None):
    task = resolve(task_name).make(population, **({"max_steps": max_steps} if max_steps else {}))
    spec = NetworkSpec(n_obs=task.n_obs, n_act=task.n_act, n_neurons=64)
    low = lower(spec, random_masks(spec, population, seed), "float")
    norm = RunningNorm.empty(task.n_obs)
    loop = TaskLoop(low, task, norm.mean, norm.std, np.full(population, 11))
    NumpyBackend().rollout(NumpyBackend().compile(low), loop, initial_v(64, seed, 0, np.arange(population)))
    return task, loop


def test_cartpole_discrete_episode_bookkeeping() -> None:
    task, loop = rollout("CartPole-v1", 6)
    assert (task.lengths >= 8).all() and (task.lengths <= 500).all()
    np.testing.assert_array_equal(task.returns, task.lengths)  # +1 per step
    assert not loop.active.any()
    assert task.decode(np.array([0.1, 0.7])) == 1


def test_pendulum_box_decoding_and_max_steps() -> None:
    task, _ = rollout("Pendulum-v1", 3, max_steps=50)
    assert (task.lengths == 50).all() and (task.returns < 0).all()
    np.testing.assert_allclose(task.decode(np.array([-1.0])), [-2.0])
    np.testing.assert_allclose(task.decode(np.array([1.0])), [2.0])


def test_observation_statistics_cover_every_observation() -> None:
    task, loop = rollout("CartPole-v1", 4)
    assert loop.obs_count.sum() == task.lengths.sum() + 4  # reset observations included, terminal ones too
    norm = RunningNorm.empty(task.n_obs)
    norm.update(loop.obs_count, loop.obs_sum, loop.obs_sumsq)
    np.testing.assert_allclose(norm.mean, loop.obs_sum.sum(0) / loop.obs_count.sum())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel", ["serial", "parallel"])
def test_one_pass_observe_is_the_numpy_statistics_and_normalisation_bit_for_bit(dtype, kernel) -> None:
    rng = np.random.default_rng(3)
    P, n = 9, 7
    obs = (rng.normal(size=(P, n)) * 4).astype(dtype)
    obs[1, 2], obs[2, 3], obs[3, 4], obs[4, 5] = np.nan, np.inf, -np.inf, -0.0
    mean, std = rng.normal(size=n), rng.random(n) + 0.05
    who = rng.random(P) < 0.6
    count, total, sq = np.full(P, 2.0), rng.normal(size=(P, n)), rng.random((P, n))
    want = [count.copy(), total.copy(), sq.copy()]
    want[0][who] += 1
    want[1][who] += obs[who]
    want[2][who] += obs[who] ** 2  # squared in obs's dtype, then added
    x = np.empty((P, n))
    getattr(observe, kernel)(obs, who, mean, std, count, total, sq, x)
    for got, ref in zip([count, total, sq, x], want + [normalise(obs, mean, std)]):
        assert np.array_equal(got, ref, equal_nan=True) and (np.signbit(got) == np.signbit(ref)).all()
    assert np.isnan(x[1, 2]) and x[2, 3] == 5.0 and x[3, 4] == -5.0


@pytest.mark.mujoco
def test_hopper_logs_forward_distance() -> None:
    task, _ = rollout("Hopper-v5", 2, max_steps=40)
    fwd = task.metrics()["forward_distance"]
    assert fwd.shape == (2,) and np.isfinite(fwd).all() and (np.abs(fwd) > 0).all()
    assert task.n_obs == 11 and task.n_act == 3


def test_eval_reports_a_trained_network(tmp_path, monkeypatch, capsys) -> None:
    import ec_neuro as ecn
    from ec_neuro.cli import main
    run = ecn.train(population=8, generations=2, seed=2, overrides=["network.n_neurons=32"],
                    run_dir=tmp_path / "run", progress=None)
    monkeypatch.setattr(sys, "argv", ["ecneuro", "eval", str(run.path), "--episodes", "3", "--json",
                                      str(tmp_path / "eval.json")])
    main()
    text = capsys.readouterr().out
    assert "3 episodes: return" in text and "solved needs a mean >= 475 over 100 episodes" in text
    out = json.loads((tmp_path / "eval.json").read_text())
    assert out["episodes"] == 3 and len(out["returns"]) == 3 and out["mean"] >= 8 and out["precision"] == "float"
    assert out["mean"] == pytest.approx(np.mean(out["returns"])) and out["min"] <= out["mean"] <= out["max"]
