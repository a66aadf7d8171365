"""ec-neuro installed as a package (a non-editable `pip install .`), not run from the checkout: the CLI, the Lava
process files, spawned workers and the examples work from the installed copy alone."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package built and installed (no dependencies: they are this venv's) into a fresh target folder."""
    target = tmp_path_factory.mktemp("site")
    p = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--target", str(target), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return target


def run(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


def test_installed_copy_is_the_one_imported_and_has_every_module(installed: Path, tmp_path: Path) -> None:
    code = ("import ec_neuro, pathlib, ec_neuro.cli, ec_neuro.lava_procs; "
            "print(pathlib.Path(ec_neuro.__file__).parent); "
            "print(len(list(pathlib.Path(ec_neuro.lava_procs.__file__).parent.glob('*.py'))))")
    p = run(installed, tmp_path, "-c", code)
    assert p.returncode == 0, p.stderr
    where, n_procs = p.stdout.split()
    assert Path(where) == installed / "ec_neuro" and int(n_procs) == len(list((ROOT / "ec_neuro/lava_procs").glob("*.py")))


def test_installed_cli_trains_on_workers_and_reports(installed: Path, tmp_path: Path) -> None:
    for args in (["--help"], ["info"], ["tasks"], ["train", "--print-config"]):
        p = run(installed, tmp_path, "-m", "ec_neuro", *args)
        assert p.returncode == 0, (args, p.stderr[-2000:])
    p = run(installed, tmp_path, "-m", "ec_neuro", "train", "--population", "6", "--generations", "2", "--workers", "2",
            "--set", "network.n_neurons=32", "--set", "det_episodes=1", "--run-dir", "r")
    assert p.returncode == 0, p.stderr[-2000:]
    p = run(installed, tmp_path, "-m", "ec_neuro", "eval", "r", "--episodes", "3", "--backend", "lava-sim")
    assert p.returncode == 0 and "3 episodes" in p.stdout, p.stderr[-2000:]


def test_missing_extra_names_a_pip_command() -> None:
    from ec_neuro.errors import MissingExtra
    msg = str(MissingExtra("backend 'brian2'", "brian2", "brian2"))
    assert "pip install 'ec-neuro[brian2]'" in msg
