"""A run stops only when its deterministic network is confirmed on fresh episodes: a lucky-but-fragile one does not
end it, and best.npz is the best confirmed network."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import ec_neuro as ecn


class Lucky:
    """One-step episodes whose return depends only on the episode's seed: 1 for 3 seeds in 10, else 0."""

    defaults: dict = {}
    solved_threshold = 1.0
    solved_episodes = 50

    def __init__(self, population: int) -> None:
        self.n_obs, self.n_act, self.max_steps = 1, 1, 1

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        self.lucky = (np.asarray(seeds) % 10 < 3).astype(np.float64)
        self.returns, self.lengths = np.zeros(len(seeds)), np.zeros(len(seeds), np.int64)
        return np.zeros((len(seeds), 1))

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.returns += np.where(active, self.lucky, 0.0)
        self.lengths += active
        return np.zeros((len(active), 1)), np.ones(len(active), bool)

    def metrics(self) -> dict:
        return {}

    def close(self) -> None:
        pass


SETTINGS = dict(task="test_confirm:Lucky", seed=4, population=4, generations=30, det_episodes=2, target_return=1.0,
                network={"n_neurons": 8}, progress=None)


def rows(run) -> list[dict]:
    return [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]


def test_a_lucky_network_does_not_end_the_run(tmp_path: Path) -> None:
    assert ecn.check_task(Lucky) == []
    unconfirmed = ecn.train(**SETTINGS, confirm_episodes=0, run_dir=tmp_path / "plain")
    stopped_at = rows(unconfirmed)[-1]["generation"]
    assert stopped_at == 16 and rows(unconfirmed)[-1]["det_return"] == 1.0  # luck alone ends it here

    run = ecn.train(**SETTINGS, run_dir=tmp_path / "confirmed")
    assert run.config.confirm_episodes == 50  # the task's own definition of solved
    got = rows(run)
    lucky = [r for r in got if r["det_return"] == 1.0]
    assert [r["generation"] for r in lucky] == [16, 26, 29] and all(r["confirmed"]["episodes"] == 50 and not r["confirmed"]["solved"] for r in lucky)
    assert all(0.1 < r["confirmed"]["mean"] < 0.6 for r in lucky)  # 3 seeds in 10 are lucky
    assert got[-1]["generation"] == 29  # training went on to the end
    assert all("confirmed" not in r for r in got if r["det_return"] != 1.0)  # confirmation only at the target
    assert not (run.network.meta.get("confirmed") or {}).get("solved")


def test_members_play_several_episodes_and_score_their_mean(tmp_path: Path) -> None:
    """episodes=E: every member plays E episodes at once (one network copy each, common seeds across members)."""
    from ec_neuro.host.rollout import env_seed
    run = ecn.train(**{**SETTINGS, "generations": 3, "target_return": None}, episodes=5, run_dir=tmp_path / "e5")
    fit = [json.loads(line)["fitness"] for line in (run.path / "fitness.jsonl").read_text().splitlines()]
    for gen, row in enumerate(fit):
        want = np.mean([env_seed(4, gen, -1, e) % 10 < 3 for e in range(5)])
        assert row == [want] * 4, (gen, row, want)
