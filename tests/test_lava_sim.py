"""lava-sim against the numpy backend: bit-identical states (open loop), actions, returns and training fitness.

Several networks share one population graph (block-diagonal), so each Lava start-up is paid once per case.
Lava itself is never imported in this (pytest) process: the backend runs it in a worker process.
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ec_neuro.backends.base import compare_traces
from ec_neuro.backends.toyloop import ToyLoop
from ec_neuro.compilers.common import lower
from ec_neuro.sample.masks import initial_v, random_masks
from ec_neuro.errors import MissingExtra, UserError
from ec_neuro.registry import BACKENDS, make_backend
from ec_neuro.spec import NetworkSpec

pytestmark = [pytest.mark.lava,
              pytest.mark.skipif(importlib.util.find_spec("lava") is None, reason="lava-nc not installed")]

TIERS = BACKENDS["lava-sim"].choices["tier"]
NETS = 20          # random networks per open-loop case, one population graph
CONTROL_STEPS = 31  # x 33 substeps = 1023 timesteps
SPEC = NetworkSpec(n_obs=4, n_act=2)


def _population(precision: str, seed: int = 0):
    masks = random_masks(SPEC, NETS, seed, p=0.5)
    low = lower(SPEC, masks, precision)
    v0 = initial_v(SPEC.n_neurons, seed, 0, np.arange(NETS))
    rng = np.random.default_rng(seed + 1)
    gain = rng.uniform(0.5, 3.0, (1, NETS, 1))  # members see inputs of different strength: varied activity
    bias = np.stack([low.encode(x) for x in rng.normal(size=(CONTROL_STEPS, NETS, SPEC.n_obs)) * gain])
    return low, v0, bias


@pytest.fixture(scope="module")
def numpy_traces():
    out = {}
    for precision in ("fixed", "float"):
        low, v0, bias = _population(precision)
        nb = make_backend("numpy")
        out[precision] = (low, v0, bias, nb.open_loop(nb.compile(low), v0, bias))
    return out


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_open_loop_states_identical(numpy_traces, tier: str, precision: str) -> None:
    low, v0, bias, want = numpy_traces[precision]
    backend = make_backend("lava-sim", tier=tier)
    try:
        got = backend.open_loop(backend.compile(low), v0, bias)
    finally:
        backend.close()
    assert got.u.shape == (CONTROL_STEPS * SPEC.neuron.substeps, NETS, SPEC.n_neurons) and got.u.shape[0] >= 1000
    report = compare_traces(got, want)
    assert report["identical"], report
    assert np.array_equal(got.r, want.r)
    spikes_per_net = np.abs(want.s).sum(axis=(0, 2))
    assert (spikes_per_net > 0).all(), "every network must be active for the comparison to mean something"


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_closed_loop_actions_and_returns_identical(tier: str, precision: str) -> None:
    P = 12
    low = lower(SPEC, random_masks(SPEC, P, 7, p=0.5), precision)
    v0 = initial_v(SPEC.n_neurons, 7, 0, np.arange(P))
    results = []
    for backend in (make_backend("numpy"), make_backend("lava-sim", tier=tier)):
        loop = ToyLoop(low, steps=30, seed=2)
        try:
            counts = backend.rollout(backend.compile(low), loop, v0)
        finally:
            backend.close()
        results.append((np.array(loop.actions), loop.returns, counts))
    (a0, ret0, c0), (a1, ret1, c1) = results
    assert len(set(ToyLoop(low, 30, 2).lengths)) > 1, "episodes should end at different steps"
    np.testing.assert_array_equal(a1, a0)
    np.testing.assert_array_equal(ret1, ret0)
    np.testing.assert_array_equal(c1, c0)
    assert c0.sum() > 0


def _alive(pgid: int, grace_s: float = 10.0) -> bool:
    """Does the process group still exist after `grace_s` (orphaned zombies take a moment to be reaped)?"""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.1)


class _Interrupting(ToyLoop):
    """Raises KeyboardInterrupt (as Ctrl-C would) at the third control step."""

    def step(self, r):
        if self.t == 2:
            raise KeyboardInterrupt
        return super().step(r)


@pytest.mark.parametrize("tier,reuse", [("stock", False), ("fused-k", False), ("fused-k", True)])
def test_interrupt_recycle_and_close_leave_no_processes(tier: str, reuse: bool) -> None:
    """fused-k runs free: stopping it is a different path; a live (reused) graph is never rebuilt, so its
    worker is never recycled."""
    from ec_neuro.backends.mailbox import _folder
    boxes = lambda: set(Path(_folder()).glob(f"ecneuro-lava-{os.getpid()}-*.box"))  # noqa: E731  (ours only)
    before = boxes()
    P = 2
    low = lower(SPEC, random_masks(SPEC, P, 1), "fixed")
    v0 = initial_v(SPEC.n_neurons, 1, 0, np.arange(P))
    backend = make_backend("lava-sim", tier=tier, recycle_every=2, reuse=reuse)
    try:
        with pytest.raises(KeyboardInterrupt):
            backend.rollout(backend.compile(low), _Interrupting(low, 10), v0)
        first = backend._worker
        assert first is None  # the interrupted worker was stopped and ended
        pids = []
        for _ in range(3):  # recycle_every=2: the third rollout runs in a fresh worker
            backend.rollout(backend.compile(low), ToyLoop(low, 5), v0)
            pids.append(backend._worker.proc.pid)
        if reuse:
            assert pids[0] == pids[1] == pids[2] and backend.built == 2  # the interrupted one, then one live graph
        else:
            assert pids[0] == pids[1] != pids[2]
            assert not _alive(pids[0]), "the recycled worker's session (worker + Lava processes) must be gone"
    finally:
        backend.close()
    assert not _alive(pids[2])
    assert boxes() <= before, "every shared-memory mailbox file must be removed, the interrupted one included"


def test_mailbox_doorbell_rings_both_ways_and_leaves_no_file() -> None:
    """The direct graph's doorbell: bytes cross both FIFOs in order, a wait gives up once the other side is
    gone, and unlinking removes the FIFOs with the file (`remove_of` too, for a parent that died)."""
    from ec_neuro.backends.mailbox import BELLS, Mailbox, remove_of
    a = Mailbox.create(3, 2, bell=True)
    b = Mailbox(*a.spec())
    names = [Path(a.path + end) for end in BELLS]
    assert all(p.exists() for p in names)
    a.ring(b"L")
    a.ring(b"S")
    assert b.take() == b"L" and b.take() == b"S"
    b.answer(b"D")
    assert a.wait(lambda: True) == b"D"
    t = time.monotonic()
    with pytest.raises(RuntimeError, match="ended while an answer was owed"):
        a.wait(lambda: False, poll_s=0.05)
    assert time.monotonic() - t < 5
    a.unlink()
    assert not Path(a.path).exists() and not any(p.exists() for p in names)
    a.close()
    b.close()
    c = Mailbox.create(1, 1, bell=True)
    remove_of(os.getpid())
    assert not Path(c.path).exists() and not any(Path(c.path + end).exists() for end in BELLS)
    c.close()


class _Kills(ToyLoop):
    """At the third control step ends the lava-sim worker (SIGTERM: it frees its shared memory and takes its Lava
    processes along) or SIGKILLs the graph's Lava process alone (`victim` "model")."""

    backend: Any = None
    victim = "worker"

    def step(self, r):
        if self.t == 2:  # and wait until it is gone (else the graph may answer the episode's last steps first)
            from ec_neuro.groups import running
            if self.victim == "worker":
                os.kill(self.backend._worker.proc.pid, signal.SIGTERM)
                self.backend._worker.proc.wait(timeout=20)
            else:
                pid = int(self.backend._live[1].pid[0])
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 20
                while running(pid) and time.monotonic() < deadline:
                    time.sleep(0.01)
        return super().step(r)


def test_direct_graph_failures_are_reported_not_waited_for() -> None:
    """A direct fused-k graph whose process fails answers FAILED with its traceback (here: a doorbell code it
    does not know); a worker ended, or the graph's Lava process killed alone, mid-rollout makes the rollout raise
    within seconds instead of waiting for an answer forever; none leaves a process or a shared-memory file
    behind."""
    from ec_neuro.backends.lava_core import BELL_FAILED, LavaProcessDied, fused_failure
    P = 2
    low = lower(SPEC, random_masks(SPEC, P, 1), "fixed")
    v0 = initial_v(SPEC.n_neurons, 1, 0, np.arange(P))
    shm = lambda: {p.name for p in Path("/dev/shm").glob("*")} if Path("/dev/shm").is_dir() else set()  # noqa: E731
    before = shm()
    backend = make_backend("lava-sim", tier="fused-k")
    try:
        backend.rollout(backend.compile(low), ToyLoop(low, 5), v0)
        box, pgid = backend._live[1], backend._worker.proc.pid
        assert box.bell
        box.ring(b"?")
        assert box.wait(lambda: True) == BELL_FAILED
        text = str(fused_failure(box))
        assert "the fused Lava process failed" in text and "unknown doorbell code b'?'" in text and "Traceback" in text
        backend.close()
        assert not _alive(pgid)
        nb = make_backend("numpy")
        for victim in ("worker", "model"):
            loop = _Kills(low, 10)
            loop.backend, loop.victim = backend, victim
            backend.rollout(backend.compile(low), ToyLoop(low, 5), v0)  # a live graph (with its process's pid)
            pgid = backend._worker.proc.pid
            t = time.monotonic()
            with pytest.raises(LavaProcessDied, match="ended while an answer was owed"):
                backend.rollout(backend.compile(low), loop, v0)
            assert time.monotonic() - t < 15 and backend._worker is None, victim
            assert not _alive(pgid), f"{victim} killed: the worker's session must be gone"
            counts = backend.rollout(backend.compile(low), ToyLoop(low, 5), v0)  # a new worker takes over
            assert np.array_equal(counts, nb.rollout(nb.compile(low), ToyLoop(low, 5), v0))
    finally:
        backend.close()
    deadline = time.monotonic() + 10
    while shm() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not shm() - before, f"left in /dev/shm: {sorted(shm() - before)}"


def test_mailbox_is_shared_and_unlinked() -> None:
    from ec_neuro.backends.mailbox import Mailbox
    a = Mailbox.create(3, 2)
    b = Mailbox(*a.spec())
    a.unlink()
    assert not Path(a.path).exists()
    a.inbox[:] = [1.0, 2.0, 3.0]
    b.outbox[:] = [4.0, 5.0]
    assert b.inbox.tolist() == [1.0, 2.0, 3.0] and a.outbox.tolist() == [4.0, 5.0]
    a.close()
    b.close()


def test_missing_lava_names_the_install_command(monkeypatch) -> None:
    import ec_neuro.backends.lava_sim as ls
    monkeypatch.setattr(ls.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingExtra, match=r"pip install .*\[lava\]"):
        ls.LavaSimBackend()


def test_bad_options_and_summary() -> None:
    with pytest.raises(UserError, match="tier"):
        make_backend("lava-sim", tier="turbo")
    with pytest.raises(UserError, match="recycle_every"):
        make_backend("lava-sim", recycle_every=0)
    from ec_neuro.compilers.lava import summary
    low = lower(SPEC, random_masks(SPEC, 1, 0), "fixed")
    text = summary(low)
    for key in ("du=", "dv=", "vth_mant=", "w_mant=", "w_exp=", "bias_exp=", "largest"):
        assert key in text


def _fitness(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "fitness.jsonl").read_text().splitlines()]


def test_training_writes_identical_fitness(tmp_path: Path) -> None:
    args = ["--task", "CartPole-v1", "--population", "8", "--generations", "3", "--seed", "4",
            "--precision", "fixed", "--set", "det_episodes=1", "--set", "target_return=null",
            "--set", "network.n_neurons=64"]
    runs = {}
    for backend in ("numpy", "lava-sim"):
        out = tmp_path / backend
        proc = subprocess.run([sys.executable, "-m", "ec_neuro", "train", *args, "--backend", backend,
                               "--run-dir", str(out), "--verify", "2"], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[backend] = _fitness(out)
    assert len(runs["numpy"]) == 3
    assert runs["lava-sim"] == runs["numpy"]
    # lava-sim (fused-k by default) was checked against the stock models on generations 0 and 2 (--verify 2)
    rows = [json.loads(line) for line in (tmp_path / "lava-sim" / "metrics.jsonl").read_text().splitlines()]
    assert ["verified" in r for r in rows] == [True, False, True]
    v = rows[0]["verified"]
    assert v["fast"] == "lava-sim fused-k" and v["reference"] == "stock" and v["substeps"] > 0
    assert [s["kind"] for s in v["slots"]] == ["det", "member", "member"] and v["slots"][0]["slot"] == 8
    assert all("verified" not in json.loads(line)
               for line in (tmp_path / "numpy" / "metrics.jsonl").read_text().splitlines())


def test_verify_setting() -> None:
    import ec_neuro as ecn
    assert ecn.config(backend="lava-sim").verify == "every"
    assert ecn.config(backend="lava-sim", verify="3").verify == 3
    assert ecn.config(backend="lava-sim", verify=1).verify == "every"
    assert ecn.config(backend="lava-sim", verify="off").verify == "off"
    for bad in ("sometimes", 0.5, -2):
        with pytest.raises(UserError, match="verify must be"):
            ecn.config(backend="lava-sim", verify=bad)


def test_info_reports_lava_tiers_without_importing_lava() -> None:
    code = ("import json, sys; from ec_neuro.backends.info import gather; d = gather(); "
            "print(json.dumps([d['backends']['lava-sim'], 'lava' in sys.modules, 'brian2' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    entry, lava_imported, brian2_imported = json.loads(out.stdout)
    assert entry["installed"] and entry["choices"]["tier"] == list(TIERS) and entry["precisions"] == ["fixed", "float"]
    assert not lava_imported and not brian2_imported


WARM_CHECK = r"""
import json
from ec_neuro.backends.numpy import kernels
from ec_neuro.backends import lava_core
from ec_neuro.backends.numpy import substep
from ec_neuro.spec import NetworkSpec
fns = [kernels.run_fixed.serial, kernels.run_float.serial, substep.lif_fixed, substep.lif_float, substep.count]
lava_core.warm(precisions=("fixed",), tiers=("fused-k",))  # what the worker warms for a fixed fused-k graph
narrow = [len(f.signatures) for f in fns]
lava_core.warm()
before = [len(f.signatures) for f in fns]
lava_core.warm(NetworkSpec(n_obs=3, n_act=2, n_neurons=32), population=3)  # another size, same path as the model
print(json.dumps({"narrow": narrow, "before": before, "after": [len(f.signatures) for f in fns]}))
"""


def test_warm_up_covers_the_types_a_real_population_uses() -> None:
    """The worker's warm-up must compile every kernel signature a real graph calls: otherwise each forked Lava
    model process compiles again on its first control step (~160 ms per graph before the warm-up); and only
    those of the graph's precision and tier (a fresh clone's first generation waits for them)."""
    out = subprocess.run([sys.executable, "-c", WARM_CHECK], capture_output=True, text=True, timeout=600,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert all(n >= 1 for n in got["before"]), got
    assert got["after"] == got["before"], f"a real population needed new signatures: {got}"
    assert got["narrow"][0] >= 1 and got["narrow"][1:] == [0, 0, 0, 0], f"a fixed fused-k warm-up compiles one kernel: {got}"


@pytest.mark.parametrize("tier", ["fused-k", "fused"])
def test_live_graph_loads_each_population_and_stays_bit_exact(tier: str) -> None:
    """One live graph serves every rollout of the same shape: each generation's masks, v0 and constants are
    loaded into it (no rebuild), and every rollout still equals numpy; a new shape builds a new graph."""
    from ec_neuro.spec import NeuronParams
    base = NetworkSpec(n_obs=4, n_act=2, n_neurons=64)
    other = NetworkSpec(n_obs=4, n_act=2, n_neurons=64, exc_ratio=0.625, neuron=NeuronParams(tau_syn=4.0, tau_mem=12.0))
    nb, lb = make_backend("numpy"), make_backend("lava-sim", tier=tier)
    try:
        for gen, (P, precision) in enumerate([(5, "fixed"), (5, "fixed"), (5, "fixed"), (3, "fixed"), (3, "float")]):
            spec = other if gen == 2 else base  # gen 2: other constants (du, dv, n_exc) loaded into the same graph
            low = lower(spec, random_masks(spec, P, 10 + gen, p=0.3 + 0.1 * gen), precision)
            v0 = initial_v(spec.n_neurons, 10 + gen, gen, np.arange(P))
            loops = [ToyLoop(low, 12, seed=gen), ToyLoop(low, 12, seed=gen)]
            counts = [b.rollout(b.compile(low), loop, v0) for b, loop in zip((nb, lb), loops)]
            np.testing.assert_array_equal(counts[1], counts[0])
            np.testing.assert_array_equal(np.array(loops[1].actions), np.array(loops[0].actions))
            assert counts[0].sum() > 0
            assert lb.timing["built"] == (gen in (0, 3, 4)), (gen, lb.timing)
        assert lb.built == 3
    finally:
        lb.close()


@pytest.mark.parametrize("const", ["vth", "dv", "du"])
def test_verification_stops_a_run_whose_fast_tier_has_one_constant_off_by_one(tmp_path: Path, monkeypatch,
                                                                               const: str) -> None:
    """The fast tier (fused-k, live graph) trains with one LIF constant off by one; the per-generation check
    against Intel's stock models stops the run within a few generations (dv, du: at generation 0; vth+1 only
    matters to a neuron whose v lands in the 64 units between the two thresholds) and names the slot, the
    substep and the quantity."""
    import dataclasses

    import ec_neuro as ecn
    from ec_neuro.backends.lava_sim import LavaProgram, LavaSimBackend
    from ec_neuro.compilers.lava import plan
    from ec_neuro.host.verify import VerificationError

    def perturbed(self, lowered):  # what the fast tier runs; the reference lowers the population again
        pl = plan(lowered)
        return LavaProgram(lowered, dataclasses.replace(pl, **{const: getattr(pl, const) + 1}))

    monkeypatch.setattr(LavaSimBackend, "compile", perturbed)
    run = tmp_path / "run"
    with pytest.raises(VerificationError) as err:
        ecn.train(task="CartPole-v1", backend="lava-sim", precision="fixed", population=8, generations=4,
                  det_episodes=1, target_return=None, network={"n_neurons": 64}, run_dir=run, progress=None)
    text = str(err.value)
    gen = 0 if const != "vth" else json.loads((run / "verify-failure.json").read_text())["generation"]
    assert text.startswith(f"verification failed at generation {gen}: lava-sim fused-k against Intel's stock models "
                           "(PyLifModelBitAcc + PySparseModelBitAcc)"), text
    assert ("the deterministic network (slot 8): " in text or "  member " in text) and "differs at control step" in text
    assert "substep" in text
    report = json.loads((run / "verify-failure.json").read_text())
    bad = [s for s in report["slots"] if not s["ok"]]
    assert bad and all(s["mismatch"]["stage"] == "states" for s in bad)
    first = bad[0]["mismatch"]
    assert first["quantity"] in ("u", "v", "s") and first["fast"] != first["stock"] and first["neurons"] >= 1
    rows = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
    assert len(rows) == gen  # the failing generation is not recorded as a result
    assert err.value.exit_code == 3


def test_verification_report_names_a_readout_the_live_graph_returned_wrongly() -> None:
    """Stage 1 of the check (no Lava needed): the readout a slot's graph returned in training against the fast
    tier's replay of the same bias; and the window rule tiles an episode."""
    from ec_neuro.host.verify import compare, window_of
    K, N, T = 3, 4, 6
    out = {"r": np.zeros((T, 1, N)), "fast": {q: [np.zeros((2 * K, N))] for q in ("u", "v", "s")},
           "stock": {q: [np.zeros((2 * K, N))] for q in ("u", "v", "s")}}
    out["fast"]["r_window"] = out["stock"]["r_window"] = [np.zeros((2, N))]
    trained = np.zeros((T, N))
    assert compare(70, 64, K, trained, T, 2, 4, out, 0)["ok"]
    trained[3, 2] = 0.5
    rep = compare(70, 64, K, trained, T, 2, 4, out, 0)
    assert not rep["ok"] and rep["what"] == "the deterministic network (slot 70)"
    assert rep["mismatch"]["stage"] == "readout" and rep["mismatch"]["control_step"] == 3
    assert "control step 3" in rep["mismatch"]["text"] and "neuron 2: training 0.5, replay 0.0" in rep["mismatch"]["text"]
    out["stock"]["v"][0][4, 1] = 7  # substep 4 of the window = control step 3, substep 1
    rep = compare(5, 64, K, np.zeros((T, N)), T, 2, 4, out, 0)
    assert rep["mismatch"]["text"].startswith("v differs at control step 3, substep 1 (substep 10 of the episode")
    assert [window_of(45, 20, j) for j in range(4)] == [(0, 20), (20, 40), (25, 45), (0, 20)]
    assert window_of(7, 20, 5) == (0, 7)


@pytest.mark.parametrize("tier,precision", [("fused-k", "fixed"), ("fused-k", "float"), ("fused", "fixed")])
def test_stock_replay_from_a_mid_episode_state_equals_the_fast_tier(tier: str, precision: str) -> None:
    """The verification's two replays agree bit for bit when nothing is wrong, windows starting mid-episode
    included (Intel's models seeded with the fast tier's u, v, the spikes in Sparse's buffer and r), and the
    worker's one stock replay graph takes each new population (three here, the last a longer window)."""
    P, K = 5, SPEC.neuron.substeps
    nb, lb = make_backend("numpy"), make_backend("lava-sim", tier=tier)
    try:
        for gen, T in enumerate((15, 15, 24)):
            low = lower(SPEC, random_masks(SPEC, P, 3 + gen, p=0.5), precision)
            v0 = initial_v(SPEC.n_neurons, 3, gen, np.arange(P))
            rng = np.random.default_rng(gen)
            bias = np.stack([low.encode(x) for x in rng.normal(size=(T, P, SPEC.n_obs)) * 2])
            idx, starts = np.array([4, 1, 2]), np.array([0, 5, 9])
            stops = np.minimum(starts + (10 if gen < 2 else 12), T)
            out = lb.verify_replay(lb.compile(low), idx, v0[idx], bias[:, idx], np.ones((T, 3), bool), starts, stops,
                                   capacity=10)
            want = nb.open_loop(nb.compile(low), v0, bias)
            np.testing.assert_array_equal(out["r"], want.r[:, idx])  # the fast replay is the numpy reference too
            for m, p in enumerate(idx):
                for q in ("u", "v", "s"):
                    np.testing.assert_array_equal(out["stock"][q][m], out["fast"][q][m])
                    np.testing.assert_array_equal(out["fast"][q][m], getattr(want, q)[starts[m] * K:stops[m] * K, p])
                np.testing.assert_array_equal(out["stock"]["r_window"][m], want.r[starts[m]:stops[m], p])
                assert np.abs(out["stock"]["s"][m]).sum() > 0
        assert lb._worker.graphs == 2  # one stock replay graph for 10 steps, rebuilt once for 12
    finally:
        lb.close()
