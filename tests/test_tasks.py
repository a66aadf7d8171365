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
from ec_neuro.host.normalizer import RunningNorm
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
