"""Every file in examples/ runs (at tiny sizes, EC_NEURO_TINY=1), so none of them rots."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ec_neuro as ecn

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if p.name != "point_target.py")  # a module, not a script


def test_every_example_is_covered() -> None:
    names = {p.name for p in EXAMPLES.iterdir() if not p.name.startswith((".", "_"))}
    assert names == {*SCRIPTS, "point_target.py", "config.toml"}, "a new example needs a case here"


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs(name: str, tmp_path: Path) -> None:
    env = {**os.environ, "EC_NEURO_TINY": "1", "PYTHONPATH": str(EXAMPLES)}
    p = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=900,
                       cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.strip(), "an example prints what it did"


def test_config_toml_is_complete_and_valid() -> None:
    cfg = ecn.config(file=EXAMPLES / "config.toml")
    assert cfg.backend == "lava-sim" and cfg.network["n_neurons"] == 128 and cfg.task_options["max_steps"] == 500
    text = (EXAMPLES / "config.toml").read_text()
    assert all(line.split("#")[1].strip() for line in text.splitlines() if " = " in line and "#" in line)
