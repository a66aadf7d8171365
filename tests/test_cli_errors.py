"""Bad input: one clear line on stderr, exit status 2, no traceback."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ec_neuro.cli import main


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["ecneuro", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err
    return exc.value.code, err


@pytest.mark.parametrize("args,expect", [
    (["train", "--task", "CartPol-v1"], "Did you mean 'CartPole-v1'"),
    (["train", "--backend", "lava"], "Did you mean 'lava-sim'"),
    (["train", "--population", "1"], "--population must be an integer from 2 to"),
    (["train", "--set", "strategy.eps=0.7"], "strategy.eps must lie in (0, 0.5)"),
    (["train", "--set", "strategy.optimizer=adamw"], "strategy.optimizer must be 'adam' or 'sgd'"),
    (["train", "--set", "network.neuron.tau_syn=-5"], "network.neuron.tau_syn: must be a positive number"),
    (["train", "--set", "network.exc_ratio=1.5"], "network.exc_ratio"),
    (["train", "--set", "populaton=3"], "Did you mean 'population'"),
    (["train", "--backend", "lava-sim", "--set", "backend_options.teir=fused"], "Did you mean 'tier'"),
    (["train", "--config", "/nonexistent.toml"], "no such config file"),
    (["train", "--resume", "/nonexistent-run"], "no such run directory"),
    (["eval", "/nonexistent-run"], "no such run directory or network file"),
])
def test_bad_input_is_one_line_exit_2(monkeypatch, capsys, tmp_path, args, expect) -> None:
    code, err = run_cli(monkeypatch, capsys, *args, *(["--run-dir", str(tmp_path / "r")] if args[0] == "train"
                                                        and "--resume" not in args else []))
    assert code == 2
    assert expect in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    assert not (tmp_path / "r" / "checkpoint.npz").exists()


def test_bad_backend_option_writes_no_run_directory(monkeypatch, capsys, tmp_path) -> None:
    code, err = run_cli(monkeypatch, capsys, "train", "--backend", "lava-sim", "--set",
                        "backend_options.tier=fuzed-k", "--run-dir", str(tmp_path / "r"))
    assert code == 2 and "tier='fuzed-k' is not one of fused-k, fused, stock" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def _run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"task": "CartPole-v1"}')
    return run


def test_corrupt_checkpoint(monkeypatch, capsys, tmp_path) -> None:
    run = _run_dir(tmp_path)
    (run / "checkpoint.npz").write_bytes(b"PK\x03\x04 this is not a zip")
    code, err = run_cli(monkeypatch, capsys, "train", "--resume", str(run))
    assert code == 2 and "corrupt or truncated" in err and "Traceback" not in err


def test_foreign_checkpoint(monkeypatch, capsys, tmp_path) -> None:
    run = _run_dir(tmp_path)
    np.savez(run / "checkpoint.npz", weights=np.zeros(3))
    code, err = run_cli(monkeypatch, capsys, "train", "--resume", str(run))
    assert code == 2 and "not an ec-neuro checkpoint" in err and "Traceback" not in err


def test_missing_checkpoint(monkeypatch, capsys, tmp_path) -> None:
    """A checkpoint deleted from a run with history past its first generation: refused, nothing replaced (a run
    killed before its first checkpoint resumes from generation 0: tests/test_robust.py)."""
    run = _run_dir(tmp_path)
    (run / "metrics.jsonl").write_text('{"generation": 0}\n{"generation": 1}\n')
    code, err = run_cli(monkeypatch, capsys, "train", "--resume", str(run))
    assert code == 2 and "checkpoint.npz is missing" in err and "restore" in err


def test_existing_run_is_not_overwritten(monkeypatch, capsys, tmp_path) -> None:
    run = _run_dir(tmp_path)
    (run / "checkpoint.npz").write_bytes(b"x")
    code, err = run_cli(monkeypatch, capsys, "train", "--run-dir", str(run))
    assert code == 2 and "--resume" in err
