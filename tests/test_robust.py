"""Run directories and processes under stress: one run per directory, stale locks named, memory refused with its
figure, history files that never lose a complete row, and children that die with their parent even while
their main thread is busy in compiled code."""
from __future__ import annotations

import io
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ec_neuro import files
from ec_neuro.cli import main
from ec_neuro.errors import UserError
from ec_neuro.host.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--population", "6", "--set", "det_episodes=1", "--set", "target_return=null",
        "--set", "network.n_neurons=32", "--set", "task_options.max_steps=100"]


def cli(*args: str) -> tuple[int, str, str]:
    """`ecneuro ARGS` in this process: (exit code, stdout, stderr)."""
    argv = sys.argv
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    sys.argv = ["ecneuro", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = argv
        for s, h in handlers.items():
            signal.signal(s, h)
    return code, out.getvalue(), err.getvalue()  # type: ignore[return-value]


def spawn(*args: str, fault: str | None = None, log: Path | None = None, cwd: Path | None = None,
          pythonpath: list[str] = ()) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *pythonpath])}
    env.pop("ECNEURO_FAULT", None)
    if fault:
        env.update(ECNEURO_FAULT=fault, ECNEURO_FAULT_LOG=str(log))
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=cwd, start_new_session=True)


def wait_for(cond, proc: subprocess.Popen, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while not cond():
        assert proc.poll() is None, f"exited {proc.returncode}: {proc.stderr.read()[-1500:]}"  # type: ignore[union-attr]
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.02)


def stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    return proc.communicate(timeout=60)[1]


def one_error_line(code: int, err: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_two_trains_or_two_resumes_on_one_run_directory(tmp_path: Path) -> None:
    """While a run trains (or resumes), a second train or resume of its directory is refused in one line naming
    the holder, and writes nothing."""
    run, log = tmp_path / "run", tmp_path / "faults.log"
    first = spawn("-m", "ec_neuro", "train", *ARGS, "--generations", "100000", "--run-dir", str(run),
                  fault="append:metrics.jsonl#2:LOG", log=log)
    try:
        wait_for(log.exists, first)
        before = {p.name: p.read_bytes() for p in run.iterdir() if p.suffix != ".jsonl"}
        for args in (["train", *ARGS, "--generations", "3", "--run-dir", str(run)], ["train", "--resume", str(run)],
                     ["train", "--resume", str(run), "--generations", "200000"]):
            line = one_error_line(*cli(*args)[::2])
            assert f"is in use by pid {first.pid}" in line and "ecneuro train" in line, line
        assert (run / ".lock").read_text().startswith(f"pid {first.pid} ")
        assert {p: before[p] for p in before if p in ("config.json", "versions.json")} == \
            {p: (run / p).read_bytes() for p in ("config.json", "versions.json")}
    finally:
        err = stop(first)
    assert first.returncode == 143 and f"ecneuro train --resume {run}" in err.strip().splitlines()[-1]
    log.unlink()
    second = spawn("-m", "ec_neuro", "train", "--resume", str(run), fault="append:metrics.jsonl#1:LOG", log=log)
    try:
        wait_for(log.exists, second)
        line = one_error_line(*cli("train", "--resume", str(run))[::2])
        assert f"is in use by pid {second.pid}" in line
    finally:
        stop(second)


def test_a_stale_lock_is_named_and_taken_over(tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, _, err = cli("train", *ARGS, "--generations", "1", "--run-dir", str(run))
    assert code == 0, err
    assert (run / ".lock").read_text() == ""  # a clean exit names no holder
    dead = "pid 999999 (`ecneuro train --run-dir x`, since 2024-01-01 00:00:00)"
    (run / ".lock").write_text(dead)
    code, _, err = cli("train", "--resume", str(run), "--generations", "2")
    assert code == 0, err
    assert f"note: {run / '.lock'} was left by {dead}, which is no longer running; taking the run over" in err


def test_memory_is_estimated_before_anything_is_allocated(tmp_path: Path, monkeypatch) -> None:
    import ec_neuro as ecn
    with pytest.raises(UserError, match=r"needs ~\d[\d.]* (GiB|TiB) of memory; this machine has .* available"):
        ecn.train(population=1 << 20, run_dir=tmp_path / "big", progress=None)
    with pytest.raises(UserError, match=r"100000-neuron networks .* needs ~\d[\d.]* TiB"):
        ecn.train(network={"n_neurons": 100_000}, run_dir=tmp_path / "big", progress=None)
    monkeypatch.setenv("ECNEURO_MEMORY_LIMIT", str(100 << 20))  # a machine with 100 MiB to spare
    with pytest.raises(UserError, match="this machine has 100 MiB available"):
        ecn.train(population=8, run_dir=tmp_path / "big", progress=None)
    monkeypatch.delenv("ECNEURO_MEMORY_LIMIT")
    line = one_error_line(*cli("crosscheck", "--random", "1", "--neurons", "10000000", "--out",
                               str(tmp_path / "big"))[::2])
    assert "10000000-neuron network" in line and "PiB of memory" in line
    assert not (tmp_path / "big").exists()


def test_a_run_killed_before_its_first_checkpoint_says_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "metrics.jsonl").write_text('{"generation": 0}\n')
    line = one_error_line(*cli("train", *ARGS, "--run-dir", str(run))[::2])
    assert f"stopped before its first checkpoint; start it again with `ecneuro train --resume {run}`" in line


# ---------------------------------------------------------------- history files
def test_a_torn_last_line_is_skipped_and_a_glued_row_kept(tmp_path: Path) -> None:
    p = tmp_path / "metrics.jsonl"
    rows = [{"generation": g, "best": float(g)} for g in range(3)]
    full = "".join(json.dumps(r) + "\n" for r in rows)
    p.write_text(full + '{"generation": 3, "be')
    assert files.read_jsonl(p) == rows and files.torn(p)
    # a torn row followed, on the same line, by a complete one (an append after a kill, unrepaired)
    p.write_text(full[:-1].rsplit("\n", 1)[0] + "\n" + '{"generation": 2, "be' + json.dumps(rows[2]) + "\n")
    assert files.read_jsonl(p) == rows


@pytest.mark.parametrize("content,why", [
    (b'{"generation": 0}\n{"generation": 1, "be\n{"generation": 2}\n', "line 2 is not a JSON object"),
    (b'{"generation": 0}\n\x00\xff\xfe\n{"generation": 2}\n', "line 2 is not text (binary data)"),
    (bytes(range(256)), "is not text (binary data)"),
    (b"garbage without a brace", "line 1 is not a JSON object"),
])
def test_damage_is_refused_never_silently_dropped(tmp_path: Path, content: bytes, why: str) -> None:
    p = tmp_path / "metrics.jsonl"
    p.write_bytes(content)
    with pytest.raises(UserError, match=re.escape(why)):
        files.read_jsonl(p)


def test_keep_history_drops_only_rows_after_the_checkpoint_and_is_atomic(tmp_path: Path, monkeypatch) -> None:
    rd = RunDir(tmp_path)
    for name in ("metrics.jsonl", "fitness.jsonl"):
        (tmp_path / name).write_text("".join(json.dumps({"generation": g}) + "\n" for g in range(5)) + '{"gen')
    untouched = {n: (tmp_path / n).read_bytes() for n in ("metrics.jsonl", "fitness.jsonl")}

    def boom(path, data):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", boom)  # the rewrite fails at its rename: nothing may change
    with pytest.raises(UserError, match="cannot write \\(No space left on device\\)"):
        rd.keep_history(3)
    assert {n: (tmp_path / n).read_bytes() for n in untouched} == untouched
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert [r["generation"] for r in rd.keep_history(3)] == [0, 1, 2]
    assert files.read_jsonl(tmp_path / "fitness.jsonl") == [{"generation": g} for g in range(3)]
    assert not files.torn(tmp_path / "metrics.jsonl")


# ---------------------------------------------------------------- children
CHILD = """
import sys
from numba import njit
from ec_neuro.child import connect, die_with_parent, serve

@njit(nogil=True, cache=True)
def spin(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s

if __name__ == "__main__":
    die_with_parent()
    spin(10)
    serve(connect(sys.argv[1]), lambda req: spin(req[1]))
"""

PARENT = """
import sys, time
from ec_neuro.child import Child
c = Child("busy_child")
c.call("spin", 10)
c.send("spin", 10**14)   # minutes of compiled code, the GIL released, no signal handler can run
print(c.proc.pid, flush=True)
if sys.argv[1] == "kill":
    time.sleep(1.0)
    t = time.monotonic()
    c.kill()
    print(f"killed {time.monotonic() - t:.2f}", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("how", ["parent SIGKILLed", "Child.kill"])
def test_a_busy_child_dies_with_its_parent(tmp_path: Path, how: str) -> None:
    """The child's lifeline (its stdin) ends it even while its main thread runs compiled code for minutes."""
    (tmp_path / "busy_child.py").write_text(textwrap.dedent(CHILD))
    (tmp_path / "parent.py").write_text(textwrap.dedent(PARENT))
    parent = spawn("parent.py", "kill" if how == "Child.kill" else "wait", cwd=tmp_path, pythonpath=[str(tmp_path)])
    try:
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        time.sleep(0.3)
        assert _alive(child)
        if how == "Child.kill":
            took = float(parent.stdout.readline().split()[1])  # type: ignore[union-attr]
            assert took < 1.0, f"Child.kill took {took} s"
        else:
            os.killpg(parent.pid, signal.SIGKILL)
        t0 = time.monotonic()
        while _alive(child) and time.monotonic() - t0 < 5:
            time.sleep(0.02)
        assert not _alive(child), f"the child outlived its parent by 5 s ({how})"
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
        parent.communicate(timeout=30)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
