"""Ray workers: the same seed gives the same ρ and fitness at any worker count (serial, 1-3 processes, 1-3 Ray
actors), through actor kills and hangs, on numpy, lava-sim and brian2; a killed driver resumed reattaches.

Every Ray here is started by the test on 127.0.0.1 and stopped by it: one private in-process Ray for the module
(`cluster`, 3 CPUs: ray.init/ray.shutdown), and for the driver test a `ray start --head --block` with its own
temp dir and ports, stopped by SIGTERM to its PID.  Nothing runs `ray stop`.  Every process these tests start
carries a marker in its environment, so that any of them left running (Ray services, actors, Lava workers
re-parented to init) is found and fails the module.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ec_neuro import registry
from ec_neuro.errors import MissingExtra, UserError
from ec_neuro.host import train as train_mod
from ec_neuro.host.checkpoint import load as load_checkpoint
from ec_neuro.host.config import resolve
from ec_neuro.host.normalizer import RunningNorm
from ec_neuro.host.rollout import EvalRequest
from ec_neuro.host.workers import ProcessWorkers, SerialWorkers
from ec_neuro.strategies.ec import EC

pytestmark = pytest.mark.ray
HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason="ray not installed (the ray extra)")
MARK = "EC_RAY_TEST_MARK"
TINY = ["target_return=null", "network.n_neurons=32", "det_episodes=1"]


# ------------------------------------------------------------------------------------------------ process helpers
def marked() -> set[int]:
    """Live processes (other than this one) whose environment carries this module's marker."""
    token = f"{MARK}={os.environ.get(MARK, '-')}".encode()
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            if token in open(f"/proc/{d}/environ", "rb").read().split(b"\0") and \
                    open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
                out.add(int(d))
        except OSError:
            pass
    return out


def cmdline(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/cmdline").read().replace("\0", " ").strip()
    except OSError:
        return ""


def actors() -> set[int]:
    return {p for p in marked() if cmdline(p).startswith("ray::EvalActor")}


def wait_gone(pids: set[int], timeout: float = 30.0) -> set[int]:
    t = time.time() + timeout
    while True:
        left = {p for p in pids if os.path.exists(f"/proc/{p}") and
                open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"}
        if not left or time.time() > t:
            return left
        time.sleep(0.2)


def listeners(pids: set[int]) -> list[str]:
    """Local addresses of the TCP listeners owned by pids."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    return [line.split()[3] for line in out.splitlines() if any(f"pid={p}," in line for p in pids)]


def loopback(addr: str) -> bool:
    return addr.rsplit(":", 1)[0] in ("127.0.0.1", "[::ffff:127.0.0.1]", "[::1]")


# ------------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def cluster():
    """One private Ray for the module, 3 CPUs on 127.0.0.1, in this process; gone, with all it started, after."""
    if not HAVE_RAY:
        pytest.skip("ray not installed (the ray extra)")
    saved = dict(os.environ)
    os.environ[MARK] = os.urandom(8).hex()
    auth_file = Path.home() / ".ray" / "auth_token"
    had_auth_file = auth_file.exists()
    from ec_neuro.host.ray_workers import start_local
    temp = start_local(3, log_to_driver=False)
    import ray
    try:
        yield ray
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
        left = wait_gone(marked(), 30)
        for p in left:
            os.kill(p, signal.SIGKILL)
        os.environ.clear()
        os.environ.update(saved)
        assert not left, f"processes left running: {[(p, cmdline(p)) for p in left]}"
        assert had_auth_file or not auth_file.exists(), "~/.ray/auth_token was written"


def train_run(tmp: Path, name: str, settings: dict, overrides=TINY) -> tuple[list, np.ndarray, list]:
    cfg = resolve({"population": 8, "generations": 3, "seed": 5, **settings}, overrides=list(overrides))
    run = train_mod.train(cfg, tmp / name, progress=None)
    fit = [json.loads(x) for x in (run.path / "fitness.jsonl").read_text().splitlines()]
    return fit, load_checkpoint(run.path / "checkpoint.npz").state.rho, run.metrics


def same_run(a, b) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1])


# ------------------------------------------------------------------------------------------ config, no Ray needed
def test_ray_settings_are_validated_with_their_names() -> None:
    for settings, key in (({"ray_local": 0}, "ray_local"), ({"ray_local": True}, "ray_local"),
                          ({"ray_address": "nohost"}, "ray_address"), ({"ray_address": "h:99999"}, "ray_address"),
                          ({"ray_address": ":6379"}, "ray_address"), ({"ray_address": 6379}, "ray_address"),
                          ({"ray_timeout": -1}, "ray_timeout"), ({"ray_timeout": "1"}, "ray_timeout"),
                          ({"ray_replay": "yes"}, "ray_replay"),
                          ({"ray_local": 2, "ray_address": "auto"}, "ray_local"),
                          ({"ray_local": 2, "workers": 2}, "workers")):
        with pytest.raises(UserError) as e:
            resolve(settings)
        assert e.value.key == key, (settings, e.value)
    for ok in ({"ray_address": "auto"}, {"ray_address": "10.0.0.1:6379", "workers": 8}, {"ray_local": 3},
               {"ray_local": 1, "ray_timeout": 30}):
        resolve(ok)
    p = subprocess.run([sys.executable, "-m", "ec_neuro", "train", "--ray-local", "0", "--print-config"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.startswith("error: --ray-local must be an integer"), p.stderr


def test_missing_ray_names_the_extra_before_any_file(tmp_path: Path, monkeypatch) -> None:
    from ec_neuro.host.ray_workers import RayWorkers
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without the extra looks like
    with pytest.raises(MissingExtra, match=r"ec-neuro\[ray\]"):
        RayWorkers(local=1)
    with pytest.raises(MissingExtra):
        train_mod.train(resolve({"ray_local": 1, "generations": 1}), tmp_path / "run", progress=None)
    assert not (tmp_path / "run").exists()


@needs_ray
def test_an_address_where_no_head_answers_is_one_line_before_any_file(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    p = subprocess.run([sys.executable, "-m", "ec_neuro", "train", "--ray-address", f"127.0.0.1:{port}",
                        "--run-dir", str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and f"error: --ray-address 127.0.0.1:{port}: no Ray head answers" in p.stderr, p.stderr
    assert not (tmp_path / "run").exists()


def test_machine_probe_measures_both_kinds_and_leaves_no_process() -> None:
    """The workers bench's ceiling (bench/machine.py): one rate per kind and repetition, from processes that are
    all gone afterwards."""
    from ec_neuro.bench.machine import _rate, scaling
    out = scaling(kinds=("env", "alu"), seconds=0.3, reps=2, env_id="CartPole-v1")
    for kind in ("env", "alu"):
        assert len(out[kind]["ratios"]) == 2 and all(0.2 < r < 3.0 for r in out[kind]["ratios"]), out
    assert _rate("alu", "CartPole-v1", 1, 0.2) > 0
    left = [d for d in os.listdir("/proc") if d.isdigit() and "ec_neuro.bench.machine" in cmdline(int(d))]
    assert not left, [cmdline(int(d)) for d in left]


@needs_ray
def test_workers_bench_quick_is_identical_everywhere_and_sends_seeds_not_masks(tmp_path: Path) -> None:
    """`ecneuro bench --suite workers --quick` in a process of its own (its own loopback Ray): every evaluator's
    fitness identical, a generation's messages a few kB whatever the population (CartPole's 18 slots here: ~1 %
    of their masks; Hopper's 258 in the full bench: 0.17 %), the machine probe reported, and nothing of it left
    running."""
    env = {**os.environ, MARK: os.urandom(8).hex()}
    out = tmp_path / "workers.json"
    p = subprocess.run([sys.executable, "-m", "ec_neuro", "bench", "--suite", "workers", "--quick", "--json",
                        str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    w = json.loads(out.read_text())["workers"]
    assert w["identical"] and {r["workers"] for r in w["rows"]} == {"process1", "process2", "ray1", "ray2",
                                                                     "ray2-rho"}
    assert 0 < w["bytes"]["per_generation"] < 4096 and w["bytes"]["ratio_vs_masks"] < 0.03, w["bytes"]
    assert w["process_2_over_1"] > 0 and w["ray_2_over_1"] > 0 and w["machine"]["alu"]["median"] > 0
    saved = os.environ.get(MARK)
    os.environ[MARK] = env[MARK]
    try:
        left = wait_gone(marked(), 30)
    finally:
        if saved is None:
            os.environ.pop(MARK)
        else:
            os.environ[MARK] = saved
    assert not left, [(q, cmdline(q)) for q in left]


# -------------------------------------------------------------------------------------------- on the module's Ray
@needs_ray
def test_every_socket_is_on_loopback(cluster) -> None:
    addrs = listeners(marked() | {os.getpid()})
    assert addrs and all(loopback(a) for a in addrs), addrs


@needs_ray
def test_same_seed_same_rho_and_fitness_at_any_worker_count(cluster, tmp_path: Path, monkeypatch) -> None:
    ref = train_run(tmp_path, "serial", {})
    assert len(ref[0]) == 3
    runs = {}
    for n in (1, 2, 3):
        with monkeypatch.context() as m:
            m.setattr(train_mod, "make_workers", lambda *a, n=n, **k: ProcessWorkers(n))  # 1 process, not serial
            runs[f"process{n}"] = train_run(tmp_path, f"p{n}", {})
    for n in (1, 2, 3):
        runs[f"ray{n}"] = train_run(tmp_path, f"r{n}", {"ray_local": n})
        assert runs[f"ray{n}"][2][-1]["ray_workers"] == n and not any(r["ray_faults"] for r in runs[f"ray{n}"][2])
        assert not wait_gone(actors(), 30), "a run's actors outlived it"
    runs["ray2, rho sent"] = train_run(tmp_path, "r2-center", {"ray_local": 2, "ray_replay": False})
    for name, run in runs.items():
        assert same_run(run, ref), name


@needs_ray
def test_resume_may_move_a_run_between_ray_and_processes(cluster, tmp_path: Path) -> None:
    ref = train_run(tmp_path, "serial", {"generations": 4})
    train_run(tmp_path, "moved", {"ray_local": 2, "generations": 2})
    train_mod.resume(tmp_path / "moved", 3, progress=None, workers=2)  # Ray -> 2 processes
    cfg = json.loads((tmp_path / "moved" / "config.json").read_text())
    assert (cfg["workers"], cfg["ray_local"], cfg["ray_address"]) == (2, None, None)
    run = train_mod.resume(tmp_path / "moved", 4, progress=None, ray_local=3)  # and back, on 3 actors
    assert [r.get("ray_workers") for r in run.metrics] == [2, 2, None, 3]
    fit = [json.loads(x) for x in (tmp_path / "moved" / "fitness.jsonl").read_text().splitlines()]
    assert same_run((fit, load_checkpoint(tmp_path / "moved" / "checkpoint.npz").state.rho), ref)


@needs_ray
def test_any_chunking_gives_the_serial_result(cluster) -> None:
    from ec_neuro.host.ray_workers import RayWorkers
    req = request(population=13, det=2, generation=4)
    ser = SerialWorkers()
    ref = ser.evaluate(req)
    ser.close()
    for k in (1, 2, 3):
        w = RayWorkers(local=k, log_to_driver=False)
        try:
            for cpw in (1, 2, 5):
                w.chunks_per_worker = cpw
                assert same_result(w.evaluate(req), ref), (k, cpw)
                assert w.last["chunks"] == min(15, k * cpw)
            w.chunks_per_worker = 2
            assert same_result(w.evaluate(replace(req, slots=np.array([14, 0, 3, 9]))), ser_eval(req, [14, 0, 3, 9]))
        finally:
            w.close()


@needs_ray
def test_actor_killed_mid_generation_leaves_the_result_identical(cluster, tmp_path: Path, monkeypatch,
                                                                 caplog) -> None:
    from ec_neuro.host import ray_workers
    ref = train_run(tmp_path, "serial", {}, TINY)
    orig = ray_workers.RayWorkers.evaluate
    victims: list[int] = []

    def evaluate(self, req, delays=None):  # generation 1: chunk 0 sleeps 30 s and its actor is SIGKILLed at 2 s
        if req.population.generation == 1 and not victims:
            victims.append(self._slots[0].pid)
            threading.Timer(2.0, os.kill, (victims[0], signal.SIGKILL)).start()
            t = time.perf_counter()
            out = orig(self, req, delays={0: 30.0})
            assert time.perf_counter() - t < 25, "the chunk was waited for, not re-run elsewhere"
            return out
        return orig(self, req, delays)

    monkeypatch.setattr(ray_workers.RayWorkers, "evaluate", evaluate)
    with caplog.at_level(logging.WARNING, logger="ec_neuro.ray"):
        got = train_run(tmp_path, "ray", {"ray_local": 2}, TINY)
    assert same_run(got, ref)
    assert [r["ray_faults"] for r in got[2]] == [0, 1, 0] and got[2][1]["ray_retried"] == ["[0, 2)"], got[2]
    assert any(f"actor pid {victims[0]} died" in r.message and "re-running slots [0, 2)" in r.message
               for r in caplog.records), caplog.text


@needs_ray
def test_hung_chunk_is_abandoned_and_rerun(cluster) -> None:
    from ec_neuro.host.ray_workers import RayWorkers
    req = request(population=12, det=2, generation=2)
    ref = ser_eval(req)
    w = RayWorkers(local=2, timeout_s=3.0, log_to_driver=False)
    try:
        hung = w.actor_pids()[0]
        t = time.perf_counter()
        assert same_result(w.evaluate(req, delays={0: 300.0}), ref)
        assert time.perf_counter() - t < 60
        m = w.metrics()
        assert m["timeouts"] == 1 and m["faults"] == 1 and m["actors_started"] == 3, m
        assert w.generation_metrics()["ray_faults"] == 1
        assert not wait_gone({hung}, 20), "the hung actor was not killed"
    finally:
        w.close()


class DriftingEC(EC):
    """EC whose tell is one ulp off anywhere but in the driver: the replay must be caught, not trusted."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.home = os.getpid()

    def tell(self, state, population, fitness):  # type: ignore[no-untyped-def]
        new, m = super().tell(state, population, fitness)
        if os.getpid() != self.home:
            new = replace(new, rho=np.nextafter(new.rho, 1.0))
        return new, m


def mini_loop(workers, generations: int = 4, population: int = 32, strategy_cls=EC, overrides=()):
    """train's loop without files: ask -> evaluate -> tell -> sync -> normaliser; fitness per generation, ρ."""
    cfg = resolve({"population": population, "seed": 5}, overrides=["target_return=null", "det_episodes=2",
                                                                    *overrides])
    spec = registry.network_spec(cfg.network)
    strategy = strategy_cls(spec.n_connections, population, cfg.strategy_params())
    state, norm = strategy.init(cfg.seed), RunningNorm.empty(spec.n_obs)
    workers.sync(strategy, state)
    fits, sent = [], []
    for _ in range(generations):
        pop = strategy.ask(state)
        before = dict(getattr(workers, "t", None).__dict__) if hasattr(workers, "t") else {}
        res = workers.evaluate(EvalRequest(pop, cfg.network, cfg.task_ref, cfg.backend, cfg.backend_options,
                                           cfg.precision, norm.mean, norm.std, np.arange(population + 2)))
        state, _ = strategy.tell(state, pop, res.fitness[:population])
        workers.sync(strategy, state)
        norm.update(res.obs_count, res.obs_sum, res.obs_sumsq)
        fits.append(res.fitness)
        if before:
            after = workers.t.__dict__
            sent.append({k: after[k] - before[k] for k in after if k.startswith("bytes_")})
    return fits, state.rho, sent, spec.n_connections


@needs_ray
def test_replay_sends_under_one_percent_of_the_masks_and_survives_drift(cluster) -> None:
    from ec_neuro.host.ray_workers import RayWorkers
    import ray.cloudpickle
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the actors cannot import this test module
    ser = SerialWorkers()
    ref = mini_loop(ser)
    drift_ref = mini_loop(ser, strategy_cls=DriftingEC)
    ser.close()
    w = RayWorkers(local=2, log_to_driver=False)
    try:
        got = mini_loop(w)
        assert all(np.array_equal(a, b) for a, b in zip(got[0], ref[0])) and np.array_equal(got[1], ref[1])
        m = w.metrics()
        assert m["full_syncs"] == 2 and m["need"] == 0 and m["bytes_center"] == 0, m  # the state once per actor
        masks = (32 + 2) * got[3] / 8  # what sending every member's masks, one bit per connection, would take
        for gen, sent in enumerate(got[2][1:], 1):  # after the first generation: no vector of length D
            per_gen = sent["bytes_put"] + sent["bytes_args"] + sent["bytes_advance"]
            assert sent["bytes_full"] == 0 and per_gen < 0.01 * masks, (gen, sent, masks)
    finally:
        w.close()
    w = RayWorkers(local=2, log_to_driver=False)
    try:
        got = mini_loop(w, strategy_cls=DriftingEC)
        assert all(np.array_equal(a, b) for a, b in zip(got[0], drift_ref[0])) and np.array_equal(got[1], drift_ref[1])
        m = w.metrics()  # each generation after the first, the drifted copies were refused and the state re-sent
        assert m["need"] >= 3 and m["full_syncs"] >= 2 + 3, m
    finally:
        w.close()


@needs_ray
@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.skipif(importlib.util.find_spec("lava") is None, reason="lava-nc not installed")
def test_lava_sim_on_two_ray_workers_equals_serial(cluster, tmp_path: Path) -> None:
    tiny = ["target_return=null", "network.n_neurons=16", "det_episodes=1", "task_options.max_steps=20"]
    ref = train_run(tmp_path, "serial", {"backend": "lava-sim", "population": 4, "generations": 2}, tiny)
    got = train_run(tmp_path, "ray", {"backend": "lava-sim", "population": 4, "generations": 2, "ray_local": 2}, tiny)
    assert same_run(got, ref)
    assert not wait_gone({p for p in marked() if "lava_worker" in cmdline(p)}, 30), "a Lava runtime was left"


@needs_ray
@pytest.mark.slow
@pytest.mark.brian2
@pytest.mark.skipif(importlib.util.find_spec("brian2") is None, reason="brian2 not installed")
def test_brian2_on_two_ray_workers_equals_serial(cluster, tmp_path: Path) -> None:
    tiny = ["target_return=null", "network.n_neurons=16", "det_episodes=1", "task_options.max_steps=20"]
    ref = train_run(tmp_path, "serial", {"backend": "brian2", "population": 4, "generations": 2}, tiny)
    got = train_run(tmp_path, "ray", {"backend": "brian2", "population": 4, "generations": 2, "ray_local": 2}, tiny)
    assert same_run(got, ref)


# ------------------------------------------------------------------------------------- a `ray start` cluster
def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture
def head(tmp_path: Path):
    """`ray start --head --block` on 127.0.0.1 (own temp dir and ports, token auth); stopped by its PID."""
    if not HAVE_RAY:
        pytest.skip("ray not installed (the ray extra)")
    mark = os.urandom(8).hex()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0",
                "RAY_AUTH_TOKEN": os.urandom(16).hex(), MARK: mark})
    temp = Path(f"/tmp/ecray-h{os.getpid()}")
    port, om, nm, rea, agrpc, alisten, metrics = free_ports(7)
    cmd = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
           f"--port={port}", "--num-cpus=2", "--include-dashboard=false", f"--temp-dir={temp}",
           "--disable-usage-stats", f"--object-manager-port={om}", f"--node-manager-port={nm}",
           f"--runtime-env-agent-port={rea}", f"--dashboard-agent-grpc-port={agrpc}",
           f"--dashboard-agent-listen-port={alisten}", f"--metrics-export-port={metrics}",
           "--object-store-memory=300000000"]
    log = tmp_path / "head.log"
    proc = subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    saved = os.environ.get(MARK)
    os.environ[MARK] = mark  # marked() finds this cluster's processes
    try:
        t = time.time() + 120
        while "Ray runtime started" not in log.read_text():
            assert proc.poll() is None and time.time() < t, log.read_text()[-3000:]
            time.sleep(0.3)
        yield f"127.0.0.1:{port}", env, proc
    finally:
        proc.send_signal(signal.SIGTERM)  # `ray start --block` drains and ends every process it started
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        left = wait_gone(marked(), 30)
        for p in left:
            os.kill(p, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)
        if saved is None:
            os.environ.pop(MARK, None)
        else:
            os.environ[MARK] = saved
        assert not left, f"cluster processes left: {[(p, cmdline(p)) for p in left]}"


@needs_ray
@pytest.mark.slow
def test_driver_killed_and_resumed_reattaches(head, tmp_path: Path) -> None:
    address, env, proc = head
    assert all(loopback(a) for a in listeners(marked())), listeners(marked())
    settings = ["--task", "CartPole-v1", "--population", "12", "--generations", "30", "--seed", "3",
                "--set", "det_episodes=1", "--set", "target_return=null", "--set", "network.n_neurons=128",
                "--set", "task_options.max_steps=100"]
    run = tmp_path / "ray"
    drv = subprocess.Popen([sys.executable, "-m", "ec_neuro", "train", *settings, "--ray-address", address,
                            "--run-dir", str(run)], env=env, stdout=subprocess.DEVNULL,
                           stderr=open(tmp_path / "d1.log", "w"))
    t = time.time() + 300
    while not (run / "metrics.jsonl").exists() or len((run / "metrics.jsonl").read_text().splitlines()) < 2:
        assert drv.poll() is None and time.time() < t, (tmp_path / "d1.log").read_text()[-3000:]
        time.sleep(0.05)
    running = actors()
    assert len(running) == 2, running  # one per CPU of the cluster
    drv.kill()  # SIGKILL: no clean-up at all
    drv.wait()
    done = len((run / "metrics.jsonl").read_text().splitlines())
    assert 2 <= done < 30, f"kill landed after {done} generations; the test needs it mid-run"
    assert not wait_gone(running, 30), "the killed driver's actors were left running"
    again = subprocess.run([sys.executable, "-m", "ec_neuro", "train", "--resume", str(run)], env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    ref = tmp_path / "serial"
    p = subprocess.run([sys.executable, "-m", "ec_neuro", "train", *settings, "--run-dir", str(ref)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert (run / "fitness.jsonl").read_text() == (ref / "fitness.jsonl").read_text()
    np.testing.assert_array_equal(load_checkpoint(run / "checkpoint.npz").state.rho,
                                  load_checkpoint(ref / "checkpoint.npz").state.rho)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["generation"] for r in rows] == list(range(30)) and all(r["ray_workers"] == 2 for r in rows)
    assert not wait_gone(actors(), 30)


# ------------------------------------------------------------------------------------------------------ helpers
def request(population: int, det: int, generation: int, seed: int = 3) -> EvalRequest:
    cfg = resolve({"population": population, "seed": seed}, overrides=["network.n_neurons=32"])
    spec = registry.network_spec(cfg.network)
    rho = np.random.default_rng(generation + 100).uniform(0.2, 0.8, spec.n_connections)
    pop = EC(spec.n_connections, population).ask(replace(EC(spec.n_connections, population).init(seed),
                                                         rho=rho, generation=generation))
    return EvalRequest(pop, cfg.network, cfg.task_ref, cfg.backend, cfg.backend_options, cfg.precision,
                       np.zeros(spec.n_obs), np.ones(spec.n_obs), np.arange(population + det))


def ser_eval(req: EvalRequest, slots=None):
    w = SerialWorkers()
    try:
        return w.evaluate(req if slots is None else replace(req, slots=np.asarray(slots)))
    finally:
        w.close()


def same_result(a, b) -> bool:
    names = ("fitness", "length", "spike_rate", "obs_count", "obs_sum", "obs_sumsq")
    return all(np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True) for k in names) and \
        a.extra.keys() == b.extra.keys() and all(np.array_equal(a.extra[k], b.extra[k]) for k in a.extra) and \
        a.bias_saturated == b.bias_saturated
