"""ES and EGGROLL end to end: training on any real-weight network resumes bit for bit and does not depend on the
worker count, bad combinations are refused in one line, runs evaluate and plot, and `compare` and the methods bench
run."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ec_neuro as ecn
from ec_neuro.errors import UserError
from ec_neuro.host.checkpoint import load as load_checkpoint
from ec_neuro.host.config import resolve
from ec_neuro.host.train import resume, train

SMALL = {"dense-rsnn": "network.n_neurons=32", "gru": "network.hidden=16", "lstm": "network.hidden=12"}


def cfg(method: str, network: str, generations: int = 4, **kw):
    return resolve({"method": method, "population": 8, "generations": generations, "seed": 2, **kw},
                   overrides=[f"network.kind={network}", SMALL[network], "det_episodes=1", "target_return=null"])


def rows(run: Path, name: str = "metrics.jsonl") -> list[dict]:
    out = [json.loads(line) for line in (run / name).read_text().splitlines()]
    for r in out:
        r.pop("wall_time", None), r.pop("gen_time", None)
    return out


def same_state(a: Path, b: Path) -> None:
    sa, sb = load_checkpoint(a / "checkpoint.npz").state, load_checkpoint(b / "checkpoint.npz").state
    for x, y in ((sa.center, sb.center), (sa.opt.m, sb.opt.m), (sa.opt.v, sb.opt.v)):
        np.testing.assert_array_equal(x, y)
    assert (sa.generation, sa.opt.t) == (sb.generation, sb.opt.t)


@pytest.mark.parametrize("method,network", [("es", "dense-rsnn"), ("eggroll", "dense-rsnn"), ("es", "gru"),
                                            ("eggroll", "lstm")])
def test_resume_is_bit_identical(tmp_path: Path, method: str, network: str) -> None:
    train(cfg(method, network, 4), tmp_path / "full", progress=None)
    train(cfg(method, network, 2), tmp_path / "part", progress=None)
    resume(tmp_path / "part", generations=4, progress=None)
    assert rows(tmp_path / "part") == rows(tmp_path / "full")
    assert rows(tmp_path / "part", "fitness.jsonl") == rows(tmp_path / "full", "fitness.jsonl")
    same_state(tmp_path / "part", tmp_path / "full")
    assert len({r["det_return"] for r in rows(tmp_path / "full")} | {r["best"] for r in rows(tmp_path / "full")}) > 1


def test_killed_es_run_resumes_to_identical_result(tmp_path: Path) -> None:
    args = ["train", "--task", "CartPole-v1", "--method", "es", "--network", "dense-rsnn", "--population", "8",
            "--generations", "12", "--seed", "4", "--set", "det_episodes=1", "--set", "target_return=null",
            "--set", "network.n_neurons=32"]
    cli = lambda *a: subprocess.Popen([sys.executable, "-m", "ec_neuro", *a], stdout=subprocess.PIPE,  # noqa: E731
                                      stderr=subprocess.PIPE, text=True)
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert cli(*args, "--run-dir", str(full)).wait(timeout=600) == 0
    proc = cli(*args, "--run-dir", str(killed))
    deadline = time.time() + 600
    while time.time() < deadline:
        m = killed / "metrics.jsonl"
        if m.exists() and len(m.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len((killed / "metrics.jsonl").read_text().splitlines())
    assert 2 <= done < 12, f"the kill landed after {done} generations"
    out, err = cli("train", "--resume", str(killed)).communicate(timeout=600)
    assert rows(killed) == rows(full) and rows(killed, "fitness.jsonl") == rows(full, "fitness.jsonl"), err[-2000:]
    same_state(killed, full)


@pytest.mark.parametrize("method,network", [("es", "dense-rsnn"), ("eggroll", "gru"), ("es", "lstm")])
def test_worker_count_does_not_change_fitness(tmp_path: Path, method: str, network: str) -> None:
    for w in (1, 2):
        train(cfg(method, network, 2, workers=w, population=10), tmp_path / f"w{w}", progress=None)
    assert rows(tmp_path / "w1", "fitness.jsonl") == rows(tmp_path / "w2", "fitness.jsonl")
    same_state(tmp_path / "w1", tmp_path / "w2")


def test_bad_combinations_are_refused_in_one_line() -> None:
    for settings, match in ((dict(method="ec", network="gru"), "method 'ec' does not train network 'gru'. "
                             "Supported: ec: ei-rsnn; es: dense-rsnn, gru, lstm, lif-classifier; "
                             "eggroll: dense-rsnn, gru, lstm, lif-classifier"),
                            (dict(method="eggroll", network="ei-rsnn"), "does not train network 'ei-rsnn'"),
                            (dict(method="es", network="lstm", backend="lava-sim"), "runs on numpy, not on backend"),
                            (dict(method="es", network="gru", precision="fixed"), "float precision only"),
                            (dict(method="es", network="gru", population=7), "even integer"),
                            (dict(method="es", network="gru", strategy={"eps": 0.1}), "strategy field 'eps'")):
        network = settings.pop("network")
        with pytest.raises(UserError, match=match):
            resolve({"task": "CartPole-v1", **settings}, overrides=[f"network.kind={network}"])
    p = subprocess.run([sys.executable, "-m", "ec_neuro", "train", "--method", "ec", "--network", "lstm"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Supported:" in p.stderr, p.stderr


def test_method_defaults_come_from_the_reference_per_network() -> None:
    assert resolve({"method": "es"}).network["kind"] == "dense-rsnn"                       # the method's first network
    assert resolve({"method": "es"}).strategy == {"sigma": 0.3, "lr": 0.15, "optimizer": "adamw",
                                                  "weight_decay": 0.1, "shaping": "centred_ranks",
                                                  "lr_decay": 1.0}
    gru = resolve({"method": "es"}, overrides=["network.kind=gru"])
    assert (gru.strategy["sigma"], gru.strategy["lr"], gru.network["hidden"]) == (0.02, 0.01, 256)
    lstm = resolve({"method": "eggroll", "strategy": {"rank": 4}}, overrides=["network.kind=lstm"])
    assert (lstm.strategy["rank"], lstm.strategy["sigma"], lstm.network["hidden"]) == (4, 0.02, 128)
    assert resolve({}).method == "ec" and resolve({}).network["kind"] == "ei-rsnn"


def test_real_weight_run_evaluates_plots_and_refuses_export(tmp_path: Path) -> None:
    run = train(cfg("eggroll", "dense-rsnn", 2), tmp_path / "r", progress=None)
    net = ecn.load_network(run)
    assert net.spec.kind == "dense-rsnn" and net.meta["method"] == "eggroll"
    report = ecn.evaluate(run, episodes=3)
    assert report["episodes"] == 3 and report["network"] == "dense-rsnn" and report["spike_rate"] > 0
    assert ecn.evaluate(run, episodes=3) == report                                   # the same episodes again
    p = subprocess.run([sys.executable, "-m", "ec_neuro", "eval", str(run.path), "--episodes", "2"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "CartPole-v1 on numpy/float, 2 episodes" in p.stdout, p.stderr
    assert [x.name for x in ecn.plot(run)] == ["learning_curves.png"]
    with pytest.raises(UserError, match="E/I network"):
        ecn.export(run, "nir", tmp_path / "x.nir")
    with pytest.raises(UserError, match="precision only"):
        ecn.evaluate(run, episodes=2, precision="fixed")


def test_compare_equal_generations_and_budget(tmp_path: Path) -> None:
    over = ["det_episodes=1", "target_return=null", "es-dense-rsnn:network.n_neurons=32",
            "ec-ei-rsnn:network.n_neurons=32"]
    s = ecn.compare("CartPole-v1", ["ec", "es/dense-rsnn"], tmp_path / "c", generations=2,
                    settings={"population": 8}, overrides=over, eval_episodes=2, progress=None)
    assert set(s["runs"]) == {"ec-ei-rsnn", "es-dense-rsnn"}
    assert all(r["generations"] == 2 and r["eval"]["episodes"] == 2 for r in s["runs"].values())
    for name in ("curves.png", "summary.json", "summary.md"):
        assert (tmp_path / "c" / name).is_file()
    assert "| es | dense-rsnn | 2 |" in (tmp_path / "c" / "summary.md").read_text()
    over = over[:3]
    b = ecn.compare("CartPole-v1", ["es/dense-rsnn"], tmp_path / "b", time_budget=1e-3, settings={"population": 8},
                    overrides=over, eval_episodes=0, progress=None)
    assert b["runs"]["es-dense-rsnn"]["generations"] == 1            # the budget stops it after one generation
    b = ecn.compare("CartPole-v1", ["es/dense-rsnn"], tmp_path / "b", time_budget=1e6, generations=3,
                    settings={"population": 8}, overrides=over, eval_episodes=0, progress=None)
    assert b["runs"]["es-dense-rsnn"]["generations"] == 3            # resumed: a larger budget, at most 3
    with pytest.raises(UserError, match="generations .* or a wall-time budget"):
        ecn.compare("CartPole-v1", ["ec"], tmp_path / "x")


def test_methods_bench_runs() -> None:
    from ec_neuro.bench.methods import run
    out = run(population=8, steps=3)
    assert set(out["methods"]) == {"EC", "ES-RSNN", "EGGROLL-RSNN", "ES-GRU", "ES-LSTM"}
    assert all(m["env_steps"] == 24 for m in out["methods"].values())
    mem = out["methods"]["EGGROLL-RSNN"]["memory"]
    assert mem["floats_per_matrix"]["W_h"] == 2 * 256 and out["methods"]["ES-RSNN"]["memory"]["floats_per_matrix"][
        "W_h"] == 256 * 256
