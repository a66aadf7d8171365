"""The framework as a user meets it: any gymnasium id and their own tasks (also on spawned workers), the task checker,
the public Python surface, resolved configs, Python-named errors, and a layout without import cycles."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ec_neuro as ecn
from ec_neuro.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--population", "6", "--generations", "2", "--set", "det_episodes=1", "--set", "network.n_neurons=32"]


def cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    import os
    return subprocess.run([sys.executable, "-m", "ec_neuro", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env={**os.environ, **(env or {})})


def test_any_gymnasium_id_trains_on_two_workers(tmp_path: Path) -> None:
    p = cli("train", "--task", "Acrobot-v1", "--workers", "2", *TINY, "--set", "task_options.max_steps=50",
            "--set", "target_return=null",
            "--run-dir", str(tmp_path / "run"))
    assert p.returncode == 0, p.stderr[-2000:]
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["task_entry"] == {"target": "ec_neuro.tasks.gym:GymTask", "kwargs": {"env_id": "Acrobot-v1"}}
    assert [json.loads(r)["generation"] for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()] == [0, 1]


def test_unknown_task_suggests_ours_and_gymnasiums() -> None:
    with pytest.raises(UserError, match="Did you mean 'CartPole-v1'"):
        ecn.config(task="CartPol-v1")
    with pytest.raises(UserError, match="Did you mean 'Acrobot-v1'"):
        ecn.config(task="Acrobat-v1")


SCRIPT = """
import ec_neuro as ecn
ecn.register("Target-v0", entry_point="point_target:PointTarget", population=6, generations=2)
run = ecn.train(task="Target-v0", workers=2, network={"n_neurons": 32}, det_episodes=1, run_dir="run")
print("RESULT", run.last["generation"], run.config.task_entry["target"])
"""


def test_registered_task_trains_on_two_workers_from_a_script_without_main_guard(tmp_path: Path) -> None:
    """Workers import the task by its entry point; the script (no __main__ guard) is never re-run by them."""
    import os
    (tmp_path / "train_it.py").write_text(SCRIPT)
    (tmp_path / "point_target.py").write_text((ROOT / "examples" / "point_target.py").read_text())
    p = subprocess.run([sys.executable, "train_it.py"], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": ""})
    assert p.returncode == 0, p.stderr[-2000:]
    assert "RESULT 1 point_target:PointTarget" in p.stdout and p.stdout.count("RESULT") == 1
    # a new process that never registered the name resumes the run from the recorded entry point
    r = cli("train", "--resume", str(tmp_path / "run"), "--generations", "3", cwd=tmp_path,
            env={"PYTHONPATH": str(tmp_path)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.splitlines()[-1])["generation"] == 2


def test_module_class_task_on_the_command_line(tmp_path: Path) -> None:
    p = cli("train", "--task", "point_target:PointTarget", "--workers", "2", *TINY, "--run-dir", str(tmp_path / "r"),
            env={"PYTHONPATH": str(ROOT / "examples")})
    assert p.returncode == 0, p.stderr[-2000:]


class WrongWidth:
    """reset gives 2 observations where n_obs says 3."""

    def __init__(self, population: int) -> None:
        self.P, self.n_obs, self.n_act, self.max_steps = population, 3, 2, 10

    def reset(self, seeds):  # type: ignore[no-untyped-def]
        self.returns, self.lengths = np.zeros(self.P), np.zeros(self.P, np.int64)
        return np.zeros((self.P, 2))

    def step(self, actions, active):  # type: ignore[no-untyped-def]
        self.lengths += active
        return np.zeros((self.P, 3)), ~active

    def metrics(self):  # type: ignore[no-untyped-def]
        return {}

    def close(self) -> None:
        pass


class IntDone(WrongWidth):
    """done is an int array."""

    def reset(self, seeds):  # type: ignore[no-untyped-def]
        super().reset(seeds)
        return np.zeros((self.P, 3))

    def step(self, actions, active):  # type: ignore[no-untyped-def]
        self.lengths += active
        return np.zeros((self.P, 3)), np.zeros(self.P, int)


class ThreeFaults(IntDone):
    """steps inactive copies, never reports them done, and a metric that is not an array."""

    def step(self, actions, active):  # type: ignore[no-untyped-def]
        self.lengths += 1
        return np.zeros((self.P, 3)), np.zeros(self.P, bool)

    def metrics(self):  # type: ignore[no-untyped-def]
        return {"x": 1.0}


def test_task_checker_gives_one_line_per_fault() -> None:
    assert ecn.check_task(WrongWidth) == ["reset(seeds) has shape (3, 2), expected (3, 3)"]
    assert ecn.check_task(IntDone) == ["step(...)[1] (done) has dtype int64, expected bool"]
    problems = ecn.check_task(ThreeFaults)
    assert problems == ["done must be True for a copy that is not active",
                        "step advanced a copy that was not active (its length grew)",
                        "metrics()['x'] must be a numpy array of shape (3,), got float"], problems


def test_good_tasks_pass_the_checker(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    assert ecn.check_task("CartPole-v1") == []
    assert ecn.check_task("point_target:PointTarget") == []


def test_checker_on_the_command_line(tmp_path: Path) -> None:
    ok = cli("tasks", "--check", "point_target:PointTarget", env={"PYTHONPATH": str(ROOT / "examples")})
    assert ok.returncode == 0 and "satisfies the task interface" in ok.stdout, ok.stderr
    (tmp_path / "bad_task.py").write_text("import numpy as np\n" + textwrap.dedent(
        "class T:\n    n_obs = 0\n    n_act = 1\n    max_steps = 5\n    def __init__(self, population): pass\n"))
    bad = cli("tasks", "--check", "bad_task:T", env={"PYTHONPATH": str(tmp_path)})
    assert bad.returncode == 2 and "n_obs must be a positive integer, got 0" in bad.stderr
    assert "has no method reset()" in bad.stderr and "Traceback" not in bad.stderr
    listed = cli("tasks")
    assert listed.returncode == 0 and "CartPole-v1" in listed.stdout and "475" in listed.stdout


def test_public_surface() -> None:
    for name in ("train", "resume", "load_run", "evaluate", "export", "import_nir", "crosscheck", "plot",
                 "NetworkSpec", "EC", "register", "check_task", "Policy", "config"):
        assert callable(getattr(ecn, name)), name
    assert set(ecn.__all__) <= set(dir(ecn))
    code = "import sys, ec_neuro; print(sorted(m for m in ('lava', 'brian2', 'gymnasium', 'numba') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_config_is_fully_resolved_and_printed(tmp_path: Path) -> None:
    cfg = ecn.config(task="CartPole-v1", backend="lava-sim")
    assert cfg.precision == "fixed" and cfg.population == 64 and cfg.backend_options["tier"]
    assert cfg.network["n_obs"] == 4 and cfg.network["neuron"]["tau_syn"] == 5.0 and cfg.strategy["lr"] == 0.15
    p = cli("train", "--backend", "lava-sim", "--print-config")
    assert p.returncode == 0, p.stderr
    (tmp_path / "printed.toml").write_text(p.stdout)
    again = ecn.config(file=tmp_path / "printed.toml")
    assert again == cfg
    help_text = cli("train", "--help").stdout
    assert "[default: CartPole-v1]" in help_text and "[default: the task's]" in help_text


def test_python_errors_name_arguments_and_cli_names_flags() -> None:
    with pytest.raises(UserError) as e:
        ecn.config(population=1)
    assert str(e.value).startswith("population must be")
    p = cli("train", "--population", "1")
    assert p.stderr.startswith("error: --population must be") and p.returncode == 2
    p = cli("train", "--set", "strategy.lr=-1")
    assert "strategy.lr" in p.stderr and p.returncode == 2


def test_evaluate_defaults_to_the_runs_precision(tmp_path: Path) -> None:
    run = ecn.train(task="CartPole-v1", precision="fixed", population=6, generations=1, det_episodes=1,
                    network={"n_neurons": 32}, run_dir=tmp_path / "run", progress=None)
    report = ecn.evaluate(run, episodes=2)
    assert report["precision"] == "fixed" and report["backend"] == "numpy"
    assert ecn.evaluate(tmp_path / "run", episodes=2) == report  # a run directory gives the same episodes


def _imports(path: Path, module: str) -> set[str]:
    """ec_neuro modules `path` imports (top level and inside functions), each with its parent packages."""
    pkg = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")[:len(pkg.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for n in names:
            if n.startswith("ec_neuro"):
                out.add(n)
    return out


def test_no_import_cycle() -> None:
    """Every `import` between ec_neuro's modules (lazy ones inside functions included) forms an acyclic graph."""
    modules = {}
    for path in (ROOT / "ec_neuro").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        modules[".".join(parts)] = path
    # an edge to one's own parent package is not a cycle (the parent is imported first, by Python itself), and
    # ec_neuro/__init__ (the lazy public surface) imports nothing
    graph = {m: {n for n in _imports(p, m) if n in modules and n != m and not m.startswith(n + ".")}
             for m, p in modules.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1 and not cycle:
                cycle.extend(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycle, " -> ".join(cycle)


def test_readme_python_snippet_runs_as_written(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\nimport ec_neuro as ecn")
    code = text[start + len("```python\n"):text.index("```", start + 10)]
    (tmp_path / "snippet.py").write_text(code)
    p = subprocess.run([sys.executable, "snippet.py"], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (tmp_path / "cartpole.nir").is_file()
