"""Training end to end: a killed and resumed run equals an uninterrupted one; worker count changes nothing."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ec_neuro.host.config import resolve
from ec_neuro.host.train import resume, train

ARGS = ["--task", "CartPole-v1", "--population", "12", "--generations", "25", "--seed", "3",
        "--set", "det_episodes=1", "--set", "target_return=null", "--set", "network.n_neurons=64"]


def cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ec_neuro", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def rows(run: Path, name: str = "metrics.jsonl") -> list[dict]:
    out = [json.loads(line) for line in (run / name).read_text().splitlines()]
    for r in out:
        r.pop("wall_time", None), r.pop("gen_time", None)
    return out


def rho(run: Path) -> np.ndarray:
    from ec_neuro.host.checkpoint import load
    return load(run / "checkpoint.npz").state.rho


def test_killed_run_resumes_to_identical_result(tmp_path: Path) -> None:
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert cli("train", *ARGS, "--run-dir", str(full)).wait(timeout=600) == 0
    proc = cli("train", *ARGS, "--run-dir", str(killed))
    deadline = time.time() + 600
    while time.time() < deadline:
        metrics = killed / "metrics.jsonl"
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len((killed / "metrics.jsonl").read_text().splitlines())
    assert 3 <= done < 25, f"kill landed after {done} generations; the test needs it mid-run"
    resumed = cli("train", "--resume", str(killed))
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert rows(killed) == rows(full)
    assert rows(killed, "fitness.jsonl") == rows(full, "fitness.jsonl")
    np.testing.assert_array_equal(rho(killed), rho(full))


def test_worker_count_does_not_change_fitness(tmp_path: Path) -> None:
    base = ["task=CartPole-v1", "det_episodes=2", "target_return=null", "network.n_neurons=64"]
    runs = {}
    for workers in (1, 2):
        cfg = resolve({"population": 10, "generations": 3, "seed": 5, "workers": workers}, overrides=base)
        train(cfg, tmp_path / f"w{workers}")
        runs[workers] = rows(tmp_path / f"w{workers}", "fitness.jsonl")
    assert runs[1] == runs[2]
    np.testing.assert_array_equal(rho(tmp_path / "w1"), rho(tmp_path / "w2"))


def test_resume_extends_generations_and_run_learns(tmp_path: Path) -> None:
    cfg = resolve({"population": 16, "generations": 2, "seed": 1}, overrides=["target_return=null"])
    train(cfg, tmp_path / "r")
    last = resume(tmp_path / "r", generations=4).last
    assert last["generation"] == 3
    assert json.loads((tmp_path / "r" / "config.json").read_text())["generations"] == 4
    assert [r["generation"] for r in rows(tmp_path / "r")] == [0, 1, 2, 3]
    assert (tmp_path / "r" / "best.npz").is_file()
