"""Property-based fuzz of the command line: refused input is one line on stderr, exit 2, no traceback, no file
changed, over every subcommand and every class of argument.

Each generated case takes a valid command and makes exactly one argument wrong, drawn from its class:
output paths (an existing directory, a path under a regular file, a folder nobody can write, a run's own
files), input files (missing, a directory, text, binary, truncated, foreign .npz, a NIR file where a network
is expected and the reverse, a NaN normaliser), integers and numbers (out of range, non-finite, not numbers),
names (typos, empty, unknown module:Class), config files (binary, UTF-16, not TOML, a directory), `--set KEY=VALUE`
over every table (top level, strategy, network, network.neuron, backend_options, task_options, task_entry), and
resume flags.  The CLI runs in this process (`ec_neuro.cli.main`), so a case costs milliseconds.

Cases in CI: TRAIN_EXAMPLES for train, EXAMPLES for each other subcommand and for a mistyped command (fewer where
a subcommand has fewer distinct wrong inputs: info, tasks), about 750 distinct cases in ~15 s, plus the explicit
list of the messages the issue quotes; hypothesis is derandomized (the same cases every run) and keeps no
database.  `pytest -s tests/test_fuzz.py` prints the count.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import string
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ec_neuro.cli import main

EXAMPLES = 60  # per subcommand; train, with the most argument classes, gets TRAIN_EXAMPLES
TRAIN_EXAMPLES = 250
CASE_LIMIT_S = 20
RAN: dict[str, int] = {}  # distinct refused cases run per subcommand (printed by -s)


def SETTINGS(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))


# ---------------------------------------------------------------- the workspace every case runs in
class WS:
    root: Path


def _unwritable(root: Path) -> Path:
    """A folder this process cannot create files in (root: /sys, which refuses even root)."""
    if os.geteuid() != 0:
        ro = root / "readonly"
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    for cand in (Path("/sys"), Path("/proc/self")):
        try:
            (cand / "ecneuro-probe").touch()
        except OSError:
            return cand
    pytest.skip("no unwritable folder on this machine")


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> WS:
    from ec_neuro import files
    from ec_neuro.deploy import export
    from ec_neuro.host.train import train
    root = tmp_path_factory.mktemp("fuzz")
    train(population=6, generations=2, det_episodes=1, target_return=None, network={"n_neurons": 32},
          run_dir=root / "run", progress=None)
    export(root / "run", "npz", root / "net.npz")
    export(root / "run", "nir", root / "net.nir")
    (root / "afile").write_text("a regular file\n")
    (root / "adir").mkdir()
    (root / "bin.toml").write_bytes(bytes(range(256)) * 4)
    (root / "utf16.toml").write_bytes("population = 8\n".encode("utf-16"))
    (root / "bad.toml").write_text("population = = 8 [\n")
    (root / "types.toml").write_text('population = "many"\n')
    (root / "text.npz").write_text("not an archive\n")
    (root / "bin.npz").write_bytes(np.random.default_rng(0).bytes(4096))
    raw = (root / "net.npz").read_bytes()
    (root / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    (root / "empty.npz").write_bytes(b"")
    np.savez(root / "foreign.npz", weights=np.zeros(3))
    header, arrays = files.read(root / "net.npz", "a network", "ec-neuro/deployed-network")
    arrays["obs_std"] = np.full_like(arrays["obs_std"], np.nan)
    files.write(root / "nan.npz", header, arrays)
    bad = root / "badrun"  # a run whose metrics.jsonl is binary
    bad.mkdir()
    for name in ("config.json", "checkpoint.npz", "best.npz", "fitness.jsonl"):
        (bad / name).write_bytes((root / "run" / name).read_bytes())
    (bad / "metrics.jsonl").write_bytes(b"\x00\x01\x02binary\n\xff\xfe\n" + bytes(range(200)))
    nockpt = root / "nockpt"  # a finished run whose checkpoint was deleted
    nockpt.mkdir()
    for name in ("config.json", "versions.json", "metrics.jsonl", "fitness.jsonl", "best.npz"):
        (nockpt / name).write_bytes((root / "run" / name).read_bytes())
    half = root / "halfrun"  # stopped before its config was written
    half.mkdir()
    (half / ".lock").write_text("")
    (root / "cwd").mkdir()
    w = WS()
    w.root = root
    w.unwritable = _unwritable(root)
    return w


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirs, names in os.walk(root):
        for d in dirs:
            out[os.path.join(dirpath, d) + "/"] = "dir"
        for n in names:
            p = os.path.join(dirpath, n)
            try:
                out[p] = hashlib.sha1(Path(p).read_bytes()).hexdigest()
            except OSError:
                out[p] = "unreadable"
    return out


def run_cli(ws: WS, args: list[str]) -> tuple[int, str, str]:
    """Run `ecneuro ARGS` in this process, in ws/cwd; (exit code, stdout, stderr)."""
    argv, cwd = sys.argv, os.getcwd()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    sys.argv = ["ecneuro", *args]
    os.chdir(ws.root / "cwd")

    def too_long(signum: int, frame: object) -> None:
        raise TimeoutError(f"ecneuro {' '.join(args)} ran for {CASE_LIMIT_S} s: it was not refused")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(CASE_LIMIT_S)  # a case that is accidentally valid fails fast instead of training or benchmarking
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as e:
        code = e.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        sys.argv = argv
        os.chdir(cwd)
        for s, h in handlers.items():
            signal.signal(s, h)
    return code, out.getvalue(), err.getvalue()  # type: ignore[return-value]


def assert_refused(ws: WS, args: list[str], expect: str | None = None) -> str:
    before = _snapshot(ws.root)
    code, out, err = run_cli(ws, args)
    lines = err.strip().splitlines()
    shown = f"ecneuro {' '.join(map(repr, args))} -> exit {code}, stderr {err[-2000:]!r}"
    assert code == 2, shown
    assert len(lines) == 1 and lines[0].startswith("error: "), shown
    assert "Traceback" not in err, shown
    assert _snapshot(ws.root) == before, f"files changed: {shown}"
    if expect is not None:
        assert expect in lines[0], shown
    return lines[0]


# ---------------------------------------------------------------- argument classes
NOT_INT = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.text(string.ascii_letters + "-_.,", min_size=1, max_size=8).filter(lambda t: t.strip("-") != ""),
                    st.sampled_from(["", " ", "1e3", "0x10", "2.5", "nan", "--", "1,2", "1_000x"]))


def ints_outside(low: int | None, high: int | None) -> st.SearchStrategy[str]:
    """Integer text outside [low, high], or no integer at all."""
    parts = [NOT_INT]
    if low is not None:
        parts.append(st.integers(max_value=low - 1).map(str))
    if high is not None:
        parts.append(st.integers(min_value=high + 1).map(str))
    return st.one_of(*parts)


def floats_not_positive() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["nan", "inf", "-inf", "0", "-0.0", "-1", "abc", ""]),
                     st.floats(max_value=0.0, allow_nan=False).map(repr))


NAME = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=12).map(lambda t: "zz" + t)
VALID_NAMES = {"numpy", "lava-sim", "brian2", "float", "fixed", "ec", "ei-rsnn", "adam", "sgd", "stock", "fused",
               "fused-k", "cython", "auto", "task", "random", "nir", "loihi", "npz", "core", "lava", "all"}
BAD_NAME = st.one_of(NAME, st.sampled_from(["", " ", "CartPol-v1", "lava", "nump", "pkg:", ":Cls", "Adam",
                                            "no_such_module_ecneuro:Task", "ec_neuro:nothing", "os:path",
                                            "ec_neuro.files:RUN_FILES", "a b c"])).filter(
    lambda n: n not in VALID_NAMES)  # never a name that works somewhere (a valid suite would run a benchmark)


def out_files(ws: WS) -> st.SearchStrategy[str]:
    """Output files that cannot or must not be written."""
    r = ws.root
    return st.sampled_from([str(r / "adir"), str(r / "afile" / "x.out"), str(ws.unwritable / "x.out"),
                            str(ws.unwritable / "no" / "x.out"), str(r / "run" / "checkpoint.npz"),
                            str(r / "run" / "best.npz"), str(r / "run" / "metrics.jsonl"),
                            str(r / "run" / "config.json")])


def out_dirs(ws: WS) -> st.SearchStrategy[str]:
    r = ws.root
    return st.sampled_from([str(r / "afile"), str(r / "afile" / "sub"), str(ws.unwritable / "sub")])


def bad_networks(ws: WS) -> st.SearchStrategy[str]:
    """Sources that are not a network (file) or run directory."""
    r = ws.root
    return st.sampled_from([str(r / n) for n in ("missing", "adir", "afile", "text.npz", "bin.npz", "trunc.npz",
                                                  "empty.npz", "foreign.npz", "net.nir", "nan.npz", "bin.toml",
                                                  "halfrun")])


def bad_configs(ws: WS) -> st.SearchStrategy[str]:
    r = ws.root
    return st.sampled_from([str(r / n) for n in ("bin.toml", "utf16.toml", "bad.toml", "types.toml", "adir",
                                                  "missing.toml", "net.npz")])


# --set KEY -> its bad values (each a JSON text or a bare string)
NUM_BAD = st.sampled_from(["NaN", "Infinity", "-Infinity", "\"abc\"", "abc", "[1]", "{}", "true", "null"])
SET_KEYS: dict[str, st.SearchStrategy[str]] = {
    "population": st.one_of(ints_outside(2, 1 << 20), st.just("true")),
    "generations": ints_outside(1, 10**9),
    "seed": ints_outside(0, 2**63 - 1),
    "workers": ints_outside(1, 1024),
    "det_episodes": ints_outside(1, 10**6),
    "episodes": ints_outside(1, 10**6),
    "confirm_episodes": st.one_of(ints_outside(0, 100_000), st.just("\"100\"")),
    "network.in_gain": st.one_of(BAD_NAME, st.sampled_from(["3", "[1]"])),
    "verify": st.sampled_from(["sometimes", "0", "-1", "2.5", "[1]", "{}"]),
    "verify_members": ints_outside(0, 1024),
    "verify_window": ints_outside(1, 10**6),
    "time_budget": st.sampled_from(["0", "-5", "NaN", "Infinity", "abc", "true", "[1]"]),
    "ray_address": st.sampled_from(["nohost", ":6379", "host:0", "host:99999", "host:port", "3", "true"]),
    "ray_local": ints_outside(1, 1024),
    "ray_timeout": st.sampled_from(["0", "-1", "NaN", "abc", "true"]),
    "ray_replay": st.sampled_from(["1", "\"yes\"", "null", "[1]"]),
    "target_return": st.sampled_from(["abc", "NaN", "Infinity", "[1]", "{}", "true"]),
    "task": BAD_NAME,
    "method": BAD_NAME,
    "backend": BAD_NAME,
    "precision": BAD_NAME,
    "strategy": st.sampled_from(["3", "abc", "[1]"]),
    "strategy.lr": st.one_of(NUM_BAD, st.sampled_from(["0", "-0.1"])),
    "strategy.eps": st.one_of(NUM_BAD, st.sampled_from(["0", "0.5", "0.7", "-1"])),
    "strategy.init": st.one_of(NUM_BAD, st.sampled_from(["0", "1", "2", "-1"])),
    "strategy.optimizer": st.one_of(BAD_NAME, st.sampled_from(["3", "adamw"])),
    "strategy.nope": st.just("1"),
    "network": st.sampled_from(["3", "abc"]),
    "network.n_neurons": st.one_of(ints_outside(1, None), NUM_BAD, st.sampled_from(["100000", "1000000000"])),
    "network.n_obs": st.sampled_from(["5", "0", "abc"]),
    "network.n_act": st.sampled_from(["3", "-1", "abc"]),
    "network.exc_ratio": st.one_of(NUM_BAD, st.sampled_from(["0", "1", "1.5", "0.001"])),
    "network.in_scale": st.one_of(NUM_BAD, st.sampled_from(["0", "-1"])),
    "network.rec_scale": st.one_of(NUM_BAD, st.sampled_from(["0", "-1"])),
    "network.out_scale": st.one_of(NUM_BAD, st.sampled_from(["0", "-1"])),
    "network.kind": BAD_NAME,
    "network.nope": st.just("1"),
    "network.neuron": st.sampled_from(["3", "abc", "[1]"]),
    "network.neuron.dt": st.one_of(NUM_BAD, st.sampled_from(["0", "-0.5", "1e-300", "100"])),
    "network.neuron.control_dt": st.one_of(NUM_BAD, st.sampled_from(["0", "0.1", "1e300"])),
    "network.neuron.tau_syn": st.one_of(NUM_BAD, st.sampled_from(["0", "-5"])),
    "network.neuron.tau_mem": st.one_of(NUM_BAD, st.sampled_from(["0", "-5"])),
    "network.neuron.tau_out": st.one_of(NUM_BAD, st.sampled_from(["0", "-5"])),
    "network.neuron.v_th": st.one_of(NUM_BAD, st.sampled_from(["0", "-1"])),
    "network.neuron.v_reset": st.one_of(NUM_BAD, st.sampled_from(["0.5", "-1"])),
    "network.neuron.nope": st.just("1"),
    "backend_options": st.sampled_from(["3", "abc"]),
    "backend_options.tier": st.one_of(BAD_NAME, st.just("fused")),
    "task_options": st.sampled_from(["3", "abc"]),
    "task_options.max_steps": st.one_of(ints_outside(1, None), NUM_BAD.filter(lambda v: v != "null")),
    "task_options.nope": st.just("1"),
    "task_entry": st.sampled_from(["3", "abc", "[1]"]),
    "task_entry.target": BAD_NAME,
    "task_entry.kwargs": st.sampled_from(["3", "abc"]),
    "nope": st.just("1"),
    "populaton": st.just("8"),
}
LAVA_KEYS = {"backend_options.tier": st.one_of(BAD_NAME, st.just("fuzed-k")),
             "backend_options.recycle_every": st.one_of(ints_outside(1, None), NUM_BAD),
             "backend_options.nope": st.just("1")}
BRIAN2_KEYS = {"backend_options.target": st.one_of(BAD_NAME, st.just("cpp"))}


@st.composite
def set_item(draw) -> list[str]:
    """--set KEY=VALUE with one bad value (or a malformed item)."""
    kind = draw(st.sampled_from(["plain", "plain", "plain", "plain", "lava", "brian2", "malformed"]))
    if kind == "malformed":
        return ["--set", draw(st.sampled_from(["novalue", "=3", "a..b=3", ".=1", "strategy.lr.x=1",
                                               "population.x=1"]))]
    keys = {"plain": SET_KEYS, "lava": LAVA_KEYS, "brian2": BRIAN2_KEYS}[kind]
    key = draw(st.sampled_from(sorted(keys)))
    extra = {"lava": ["--backend", "lava-sim"], "brian2": ["--backend", "brian2"]}.get(kind, [])
    return [*extra, "--set", f"{key}={draw(keys[key])}"]


# ---------------------------------------------------------------- one strategy per subcommand
TINY = ["--population", "6", "--generations", "2", "--set", "det_episodes=1", "--set", "network.n_neurons=32"]


@st.composite
def train_case(draw, ws: WS) -> list[str]:
    new = ["--run-dir", str(ws.root / "new-run")]
    slot = draw(st.sampled_from(["task", "backend", "population", "generations", "seed", "workers", "set", "set",
                                 "set", "config", "backend-option", "run-dir", "resume", "resume-flag",
                                 "resume-generations", "resume-workers", "choice", "print-config", "flag",
                                 "placement", "data", "classify"]))
    if slot == "task":
        return ["train", "--task", draw(BAD_NAME), *TINY, *new]
    if slot == "backend":
        return ["train", "--backend", draw(BAD_NAME), *TINY, *new]
    if slot in ("population", "generations", "seed", "workers"):
        bounds = {"population": (2, 1 << 20), "generations": (1, 10**9), "seed": (0, 2**63 - 1),
                  "workers": (1, 1024)}[slot]
        val = draw(ints_outside(*bounds))
        base = [a for a in TINY if a not in ("--population", "6")] if slot == "population" else TINY
        if slot == "generations":
            base = [a for a in TINY if a not in ("--generations", "2")]
        return ["train", f"--{slot}", val, *base, *new]
    if slot == "set":
        return ["train", *TINY, *draw(set_item()), *new]
    if slot == "config":
        return ["train", "--config", draw(bad_configs(ws)), *new]
    if slot == "backend-option":
        return ["train", *TINY, "--backend-option", draw(st.sampled_from(["tier", "=x", "tier=fused", "nope=1"])),
                *new]
    if slot == "run-dir":
        return ["train", *TINY, "--run-dir", draw(st.one_of(out_dirs(ws), st.sampled_from(
            [str(ws.root / n) for n in ("run", "badrun", "nockpt")])))]
    if slot == "resume":
        return ["train", "--resume", draw(st.sampled_from([str(ws.root / n) for n in (
            "missing", "afile", "adir", "badrun", "halfrun", "nockpt")]))]
    if slot == "resume-flag":
        flag = draw(st.sampled_from([["--seed", "3"], ["--population", "8"], ["--task", "Pendulum-v1"],
                                     ["--set", "strategy.lr=0.1"], ["--config", str(ws.root / "bad.toml")],
                                     ["--backend", "numpy"], ["--run-dir", str(ws.root / "x")],
                                     ["--print-config"], ["--backend-option", "tier=stock"],
                                     ["--network", "ei-rsnn"], ["--precision", "fixed"], ["--method", "ec"]]))
        return ["train", "--resume", str(ws.root / "run"), *flag]
    if slot == "resume-generations":
        return ["train", "--resume", str(ws.root / "run"), "--generations",
                draw(st.one_of(st.integers(max_value=2).map(str), NOT_INT))]
    if slot == "resume-workers":
        return ["train", "--resume", str(ws.root / "run"), "--generations", "3", "--workers",
                draw(ints_outside(1, 1024))]
    if slot == "choice":
        flag = draw(st.sampled_from(["--method", "--network", "--precision"]))
        return ["train", flag, draw(BAD_NAME), *new]
    if slot == "placement":
        return ["train", *TINY, *new, *draw(st.sampled_from([
            ["--verify", "sometimes"], ["--verify", "0"], ["--ray-address", "nohost"], ["--ray-address", "h:0"],
            ["--ray-local", "0"], ["--ray-local", "2000"], ["--ray-local", "2", "--workers", "2"],
            ["--ray-local", "2", "--ray-address", "auto"]]))]
    if slot == "data":  # N-MNIST from a folder that is not one (missing, a file, empty, a wrong layout)
        return ["train", "--task", "nmnist", "--data", draw(st.sampled_from(
            [str(ws.root / n) for n in ("missing", "afile", "adir", "run")])), *TINY, *new]
    if slot == "classify":  # a classification task's options out of range or unknown
        return ["train", "--task", "digits-events", *TINY, *new, "--set", draw(st.sampled_from([
            "task_options.batch_size=0", "task_options.n_bins=-1", "task_options.pool=3", "task_options.loss=x",
            "task_options.output=y", "task_options.batch_size=abc", "task_options.bogus=1"]))]
    if slot == "print-config":  # sizes only too big for this machine are printable: not drawn here
        item = draw(set_item().filter(lambda a: not any(k in a[-1] for k in ("n_neurons=1", "population="))))
        return ["train", "--print-config", *item]
    return ["train", draw(st.sampled_from(["--bogus", "--populaton=3", "-x", "extra-arg"])), *new]


@st.composite
def eval_case(draw, ws: WS) -> list[str]:
    run = str(ws.root / "run")
    slot = draw(st.sampled_from(["source", "episodes", "seed", "max-steps", "backend", "precision", "task",
                                 "json", "backend-option", "flag"]))
    if slot == "source":
        return ["eval", draw(bad_networks(ws)), "--episodes", "2"]
    if slot == "episodes":
        return ["eval", run, "--episodes", draw(ints_outside(1, 100_000))]
    if slot == "seed":
        return ["eval", run, "--episodes", "2", "--seed", draw(ints_outside(0, 2**63 - 1))]
    if slot == "max-steps":
        return ["eval", run, "--episodes", "2", "--max-steps", draw(ints_outside(1, 10**9))]
    if slot == "backend":
        return ["eval", run, "--episodes", "2", "--backend", "numpy", "--backend", draw(BAD_NAME)]
    if slot == "precision":
        return ["eval", run, "--precision", draw(BAD_NAME)]
    if slot == "task":
        return ["eval", run, "--episodes", "2", "--task", draw(st.one_of(BAD_NAME, st.just("Pendulum-v1")))]
    if slot == "json":
        return ["eval", run, "--episodes", "2", "--json", draw(out_files(ws))]
    if slot == "backend-option":
        return ["eval", run, "--episodes", "2", "--backend-option", draw(st.sampled_from(["tier", "tier=stock",
                                                                                          "=1", "x=1"]))]
    return ["eval", draw(st.sampled_from(["--bogus", "-z"])), run]


@st.composite
def tasks_case(draw, ws: WS) -> list[str]:
    slot = draw(st.sampled_from(["check", "flag"]))
    if slot == "check":
        return ["tasks", "--check", draw(BAD_NAME)]
    return ["tasks", draw(st.sampled_from(["--bogus", "extra", "--check"]))]


@st.composite
def plot_case(draw, ws: WS) -> list[str]:
    run, out = str(ws.root / "run"), ["--out", str(ws.root / "plots-new")]
    slot = draw(st.sampled_from(["source", "out", "steps", "seed", "backend", "backend-option", "flag"]))
    if slot == "source":
        return ["plot", draw(st.one_of(bad_networks(ws), st.just(str(ws.root / "badrun")))), *out]
    if slot == "out":
        return ["plot", run, "--out", draw(out_dirs(ws))]
    if slot == "steps":
        return ["plot", run, *out, "--steps", draw(st.one_of(ints_outside(1, 10**7), st.just("9000000")))]
    if slot == "seed":
        return ["plot", run, *out, "--seed", draw(ints_outside(0, 2**63 - 1))]
    if slot == "backend":
        return ["plot", run, *out, "--backend", draw(BAD_NAME)]
    if slot == "backend-option":
        return ["plot", run, *out, "--backend-option", draw(st.sampled_from(["tier=stock", "x", "=1"]))]
    return ["plot", run, draw(st.sampled_from(["--bogus", "extra"]))]


@st.composite
def crosscheck_case(draw, ws: WS) -> list[str]:
    out = ["--out", str(ws.root / "cc-new")]
    rnd = ["--random", "1", "--neurons", "16", "--steps", "5"]
    slot = draw(st.sampled_from(["source", "random", "neurons", "steps", "input-scale", "seed", "stimulus",
                                 "backend", "backend-option", "out", "both", "none"]))
    if slot == "source":
        return ["crosscheck", draw(bad_networks(ws)), *out]
    if slot == "random":
        return ["crosscheck", "--random", draw(ints_outside(0, 2**63 - 1)), *out]
    if slot == "neurons":
        return ["crosscheck", "--random", "1", "--neurons", draw(st.one_of(ints_outside(2, 10**9),
                                                                           st.just("10000000"))), *out]
    if slot == "steps":
        return ["crosscheck", "--random", "1", "--steps", draw(st.one_of(ints_outside(1, 10**7),
                                                                         st.just("9000000"))), *out]
    if slot == "input-scale":
        return ["crosscheck", *rnd, "--stimulus", "random", "--input-scale", draw(floats_not_positive()), *out]
    if slot == "seed":
        return ["crosscheck", *rnd, "--seed", draw(ints_outside(0, 2**63 - 1)), *out]
    if slot == "stimulus":
        return ["crosscheck", *rnd, "--stimulus", draw(BAD_NAME), *out]
    if slot == "backend":
        return ["crosscheck", *rnd, "--backend", draw(BAD_NAME), *out]
    if slot == "backend-option":
        return ["crosscheck", *rnd, "--backend-option", draw(st.sampled_from(
            ["nope=1", "numpy.tier=x", "nobackend.tier=x", "x", "lava-sim.tier=fuzed", "tier=fuzed"])), *out]
    if slot == "out":
        return ["crosscheck", *rnd, "--out", draw(out_dirs(ws))]
    if slot == "both":
        return ["crosscheck", str(ws.root / "run"), *rnd, *out]
    return ["crosscheck", *out]


@st.composite
def export_case(draw, ws: WS) -> list[str]:
    run = str(ws.root / "run")
    slot = draw(st.sampled_from(["source", "output", "format", "missing", "flag"]))
    if slot == "source":
        return ["export", draw(bad_networks(ws)), "--format", "npz", "-o", str(ws.root / "exp.npz")]
    if slot == "output":
        return ["export", run, "--format", draw(st.sampled_from(["npz", "nir", "loihi"])), "-o",
                draw(out_files(ws))]
    if slot == "format":
        return ["export", run, "--format", draw(BAD_NAME), "-o", str(ws.root / "exp.x")]
    if slot == "missing":
        return ["export", run, *draw(st.sampled_from([[], ["--format", "npz"], ["-o", str(ws.root / "e.npz")],
                                                      ["--json"]]))]
    return ["export", run, draw(st.sampled_from(["--bogus", "extra"]))]


@st.composite
def import_case(draw, ws: WS) -> list[str]:
    nir, out = str(ws.root / "net.nir"), ["-o", str(ws.root / "imp.npz")]
    slot = draw(st.sampled_from(["file", "output", "dt", "substeps", "missing", "flag"]))
    if slot == "file":
        return ["import", draw(st.sampled_from([str(ws.root / n) for n in (
            "missing.nir", "adir", "afile", "net.npz", "bin.npz", "text.npz", "empty.npz", "bin.toml")])), *out]
    if slot == "output":
        return ["import", nir, "-o", draw(out_files(ws))]
    if slot == "dt":
        return ["import", nir, *out, "--dt", draw(floats_not_positive())]
    if slot == "substeps":
        return ["import", nir, *out, "--substeps", draw(ints_outside(1, 10**6))]
    if slot == "missing":
        return ["import", nir]
    return ["import", nir, *out, draw(st.sampled_from(["--bogus", "extra"]))]


@st.composite
def info_case(draw, ws: WS) -> list[str]:
    return ["info", draw(st.sampled_from(["--bogus", "extra", "--check=yes", "-q"]))]


@st.composite
def bench_case(draw, ws: WS) -> list[str]:
    slot = draw(st.sampled_from(["suite", "json", "flag"]))
    if slot == "suite":
        return ["bench", "--suite", draw(BAD_NAME)]
    if slot == "json":
        return ["bench", "--quick", "--json", draw(out_files(ws))]
    return ["bench", draw(st.sampled_from(["--bogus", "extra"]))]


@st.composite
def compare_case(draw, ws: WS) -> list[str]:
    base = {"--task": "CartPole-v1", "--methods": "ec", "--generations": "1", "--population": "6",
            "--out": str(ws.root / "cmp-new")}
    slot = draw(st.sampled_from(["--task", "--methods", "--budget", "--generations", "--out", "--population",
                                 "--workers", "--seed", "--set", "--eval-episodes", "neither", "flag"]))
    bad = {"--task": BAD_NAME,
           "--methods": st.sampled_from(["nope", "es/nope", "ec,ec", ",", "ec/gru", "/ei-rsnn"]),
           "--budget": st.sampled_from(["abc", "-5", "0", "15x", "1e3h", ""]),
           "--generations": ints_outside(1, 10**9), "--out": out_dirs(ws),
           "--population": ints_outside(2, 1 << 20), "--workers": ints_outside(1, 1024),
           "--seed": ints_outside(0, 2**63 - 1),
           "--set": st.sampled_from(["nolabel:strategy.lr=1", "strategy.lr=abc", "novalue", "populaton=3"]),
           "--eval-episodes": ints_outside(0, 100_000)}
    if slot == "neither":
        base.pop("--generations")
    elif slot == "flag":
        return ["compare", *[x for kv in base.items() for x in kv], draw(st.sampled_from(["--bogus", "extra"]))]
    else:
        base[slot] = draw(bad[slot])
    return ["compare", *[x for kv in base.items() for x in kv]]


@st.composite
def top_case(draw, ws: WS) -> list[str]:
    return [draw(st.one_of(st.sampled_from(["trian", "evaluate", "--bogus", "import_", "bench2"]), NAME))]


CASES = {"train": train_case, "eval": eval_case, "tasks": tasks_case, "plot": plot_case,
         "crosscheck": crosscheck_case, "export": export_case, "import": import_case, "info": info_case,
         "bench": bench_case, "compare": compare_case, "(no command)": top_case}


@pytest.mark.parametrize("command", sorted(CASES))
def test_fuzz_refused_input(ws: WS, command: str) -> None:
    """EXAMPLES cases of this subcommand, each with one wrong argument."""
    @SETTINGS(TRAIN_EXAMPLES if command == "train" else EXAMPLES)
    @given(CASES[command](ws))
    def check(args: list[str]) -> None:
        assert_refused(ws, args)
        seen.add(tuple(args))

    seen: set[tuple[str, ...]] = set()
    check()
    assert seen
    RAN[command] = len(seen)


# ---------------------------------------------------------------- the messages the issue quotes
def _quoted(ws: WS) -> list[tuple[list[str], str]]:
    r = ws.root
    return [
        (["train", "--seed", "-1", "--run-dir", str(r / "n")], "--seed must be an integer from 0 to"),
        (["train", "--set", "target_return=abc", "--run-dir", str(r / "n")], "target_return"),
        (["train", "--set", "task_options.max_steps=-5", "--run-dir", str(r / "n")],
         "max_steps must be a positive integer, got -5"),
        (["train", "--config", str(r / "bin.toml"), "--run-dir", str(r / "n")], "is binary data, not UTF-8 text"),
        (["train", "--config", str(r / "utf16.toml"), "--run-dir", str(r / "n")], "is UTF-16 text, not UTF-8"),
        (["train", "--config", str(r / "bad.toml"), "--run-dir", str(r / "n")], "not valid TOML"),
        (["train", "--population", "1048576", "--run-dir", str(r / "n")], "needs ~"),
        (["train", "--set", "network.n_neurons=100000", "--run-dir", str(r / "n")], "this machine has"),
        (["train", "--run-dir", str(r / "run")], f"resume it with `ecneuro train --resume {r / 'run'}`"),
        (["train", "--resume", str(r / "run"), "--seed", "3"], "--seed cannot change it (only --generations, --workers"),
        (["train", "--run-dir", str(r / "nockpt")], "checkpoint.npz is missing; it cannot be resumed, and starting "
                                                    "over would replace its files"),
        (["train", "--resume", str(r / "nockpt")], "checkpoint.npz is missing, but the run's history goes past"),
        (["train", "--resume", str(r / "run"), "--generations", "1"],
         "--generations must be more than the 2 generations this run has done"),
        (["train", "--resume", str(r / "halfrun")], f"start it again with `ecneuro train --run-dir {r / 'halfrun'}"),
        (["train", "--resume", str(r / "badrun")], "line 1 is not text (binary data); the file is damaged"),
        (["crosscheck", "--random", "1", "--input-scale", "nan"], "--input-scale must be a positive finite number"),
        (["export", str(r / "run"), "--format", "npz", "-o", str(r / "run" / "checkpoint.npz")],
         "belongs to the run"),
        (["import", str(r / "net.nir"), "-o", str(r / "run" / "best.npz")], "belongs to the run"),
        (["import", str(r / "net.nir"), "-o", str(r / "x.npz"), "--dt", "-1"],
         "--dt must be a positive finite number of milliseconds, got -1.0"),
        (["import", str(r / "net.npz"), "-o", str(r / "x.npz")], "needs no import: give it to eval"),
        (["eval", str(r / "net.nir")], f"convert a NIR graph first with `ecneuro import {r / 'net.nir'}"),
        (["eval", str(r / "text.npz")], "this is a text file, not an ec-neuro network file"),
        (["eval", str(r / "nan.npz")], "NaN or infinite values"),
        (["eval", str(r / "run"), "--max-steps", "0"], "--max-steps must be an integer from 1 to"),
        (["plot", str(r / "run"), "--out", str(ws.unwritable / "p")], "cannot write there"),
        (["bench", "--json", str(ws.unwritable / "b.json")], "cannot write there"),
        (["train", "--populaton", "3"], "(see `ecneuro train --help`)"),
        (["train", "--bogus"], "No such option"),
    ]


def test_quoted_messages_say_what_would_be_right(ws: WS) -> None:
    for args, expect in _quoted(ws):
        assert_refused(ws, args, expect)


def test_resuming_a_finished_run_says_so(ws: WS) -> None:
    code, out, err = run_cli(ws, ["train", "--resume", str(ws.root / "run")])
    assert code == 0 and "this run is finished (2 of 2 generations" in err and "--generations N with N > 2" in err
    assert len(err.strip().splitlines()) == 1 and '"generation": 1' in out


def test_permission_problem_is_not_called_corrupt(ws: WS, monkeypatch) -> None:
    from ec_neuro.deploy import deployed
    from ec_neuro.errors import UserError
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self.name == "best.npz":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(UserError, match="cannot read \\(permission denied\\)") as e:
        deployed.load_run(ws.root / "run")
    assert "corrupt" not in str(e.value)


def test_fuzz_report() -> None:
    """How many distinct cases ran (visible with -s; the Must-show count)."""
    if RAN:
        print(f"\nfuzz: {sum(RAN.values())} distinct refused cases: " +
              ", ".join(f"{k} {v}" for k, v in sorted(RAN.items())))
