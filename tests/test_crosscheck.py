"""`ecneuro crosscheck` and `ecneuro plot` through the CLI: pass on real networks, fail on a perturbed copy."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from ec_neuro.cli import cli

pytestmark = pytest.mark.brian2
HAS_BRIAN2 = importlib.util.find_spec("brian2") is not None
HAS_LAVA_SIM = importlib.util.find_spec("lava") is not None and \
    importlib.util.find_spec("ec_neuro.backends.lava_sim") is not None


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny trained CartPole run directory (population 8, 2 generations)."""
    run_dir = tmp_path_factory.mktemp("cc") / "run"
    res = _invoke("train", "--task", "CartPole-v1", "--population", "8", "--generations", "2", "--workers", "1",
                  "--run-dir", str(run_dir))
    assert res.exit_code == 0, res.output
    return run_dir


def _expected_runs() -> set[str]:
    runs = {"numpy/float", "numpy/fixed"}
    if HAS_BRIAN2:
        runs.add("brian2/float")
    if HAS_LAVA_SIM:
        from ec_neuro.registry import BACKENDS
        runs |= {f"lava-sim/{p}" for p in BACKENDS["lava-sim"].precisions}
    return runs


def test_crosscheck_trained_network_passes(trained, tmp_path):
    out = tmp_path / "cc"
    res = _invoke("crosscheck", str(trained), "--steps", "30", "--out", str(out))
    assert res.exit_code == 0, res.output
    report = json.loads((out / "crosscheck.json").read_text())
    assert report["passed"] and report["stimulus"]["kind"] == "task"
    assert _expected_runs() <= set(report["runs"])
    kinds = {(p["a"], p["kind"]) for p in report["pairs"]}
    assert ("numpy/fixed", "statistical") in kinds
    for p in report["pairs"]:
        if p["kind"] == "bit-exact":
            assert p["identical"] and p["max_abs_du"] == 0 and p["max_abs_dv"] == 0 and p["max_abs_count_diff"] == 0
    assert (out / "crosscheck.png").stat().st_size > 10_000


def test_crosscheck_random_network_passes(tmp_path):
    res = _invoke("crosscheck", "--random", "5", "--neurons", "32", "--steps", "20", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert "PASSED" in res.output
    assert json.loads((tmp_path / "crosscheck.json").read_text())["stimulus"]["kind"] == "random"


@pytest.mark.skipif(not HAS_BRIAN2, reason="brian2 not installed")
def test_crosscheck_perturbed_copy_fails(tmp_path):
    res = _invoke("crosscheck", "--random", "5", "--neurons", "32", "--steps", "20", "--out", str(tmp_path),
                  "--perturb", "brian2/float")
    assert res.exit_code == 1, res.output
    assert "FAIL brian2/float vs numpy/float [bit-exact]: DIFFERS from substep" in res.output
    report = json.loads((tmp_path / "crosscheck.json").read_text())
    assert not report["passed"]
    bad = [p for p in report["pairs"] if not p["passed"]]
    assert [p["a"] for p in bad] == ["brian2/float"]
    flipped = report["runs"]["brian2/float"]["flipped"]
    assert bad[0]["first_divergence_substep"] is not None
    assert flipped["post"] in bad[0]["first_divergence_neurons"]["u"]


def test_crosscheck_bad_input_is_one_line(tmp_path):
    for args in (["crosscheck", str(tmp_path / "nope.npz")], ["crosscheck", "--random", "-3"],
                 ["crosscheck", "--random", "1", "--perturb", "numpy/float"]):
        p = subprocess.run([sys.executable, "-c", "from ec_neuro.cli import main; main()", *args],
                           capture_output=True, text=True)
        assert p.returncode == 2, p.stderr
        assert p.stderr.startswith("error: ") and "Traceback" not in p.stderr


def test_plot_run_dir(trained, tmp_path):
    res = _invoke("plot", str(trained), "--out", str(tmp_path), "--steps", "50")
    assert res.exit_code == 0, res.output
    for name in ("learning_curves", "raster", "rho_hist", "connectivity"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000, name
    p = subprocess.run([sys.executable, "-c", "from ec_neuro.cli import main; main()", "plot", str(tmp_path / "x")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("error: ")
