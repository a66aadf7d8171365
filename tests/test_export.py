"""Export/import: npz round trip, NIR export + readback (spike-identical), Loihi bundle vs numpy fixed (Lava), bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ec_neuro.backends.base import Trace, compare_traces
from ec_neuro.backends.numpy import NumpyBackend
from ec_neuro.compilers.common import lower
from ec_neuro.sample.masks import random_masks
from ec_neuro.deploy.deployed import Deployed, save
from ec_neuro.errors import UserError
from ec_neuro.deploy import export, import_nir, loihi, npz
from ec_neuro.spec import NetworkSpec, NeuronParams

nir = pytest.importorskip("nir")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def net() -> Deployed:
    spec = NetworkSpec(n_obs=4, n_act=2, n_neurons=48, in_scale=0.4, neuron=NeuronParams(control_dt=5.0))
    return Deployed(spec, random_masks(spec, 1, seed=7), np.array([0.1, -0.2, 0.3, 0.0]),
                    np.array([1.0, 2.0, 0.5, 1.5]), "CartPole-v1", {"generation": 3})


def _run(net: Deployed, precision: str, T: int = 8, seed: int = 1) -> Trace:
    low = lower(net.spec, net.masks, precision)
    rng = np.random.default_rng(seed)
    bias = np.stack([low.encode(rng.standard_normal((1, net.spec.n_obs))) for _ in range(T)])
    be = NumpyBackend()
    return be.open_loop(be.compile(low), rng.random((1, net.spec.n_neurons)), bias)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from ec_neuro.cli import main; main()", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_npz_round_trips_exactly(net, tmp_path):
    back = npz.read(export(net, "npz", tmp_path / "n.npz"))
    assert back.spec == net.spec and back.task == net.task and back.meta == net.meta
    for name, arr in net.masks.groups().items():
        assert np.array_equal(getattr(back.masks, name), arr)
    assert np.array_equal(back.obs_mean, net.obs_mean) and np.array_equal(back.obs_std, net.obs_std)


@pytest.mark.parametrize("precision", ["float", "fixed"])
def test_nir_type_checks_and_reads_back_spike_identical(net, tmp_path, precision):
    path = export(net, "nir", tmp_path / "n.nir")
    graph = nir.read(str(path), type_check=True)
    assert graph.metadata["dt"] == net.spec.neuron.dt and {"w_rec", "lif"} <= set(graph.nodes)
    assert ("lif", "w_rec") in graph.edges and ("w_rec", "lif") in graph.edges
    back = import_nir(path)
    assert back.spec == net.spec
    for name, arr in net.masks.groups().items():
        assert np.array_equal(getattr(back.masks, name), arr)
    a, b = _run(net, precision), _run(back, precision)
    assert np.abs(a.s).sum() > 20  # the comparison is not vacuous
    assert compare_traces(a, b)["identical"] and np.array_equal(a.r, b.r)


def _foreign(weights_rec: np.ndarray, nested: bool = True, w_in=None) -> "nir.NIRGraph":
    """An snnTorch-RSynaptic-shaped graph: input -> fc -> {lif <-> w_rec} -> fc_out -> li -> output."""
    n = weights_rec.shape[0]
    w_in = np.array([[0.5, 0, -0.5]] * n) if w_in is None else w_in
    full = lambda v: np.full(n, float(v))  # noqa: E731
    lif = nir.CubaLIF(tau_syn=full(2.0), tau_mem=full(4.0), r=full(1.0), v_leak=full(0.0), v_threshold=full(1.0),
                      w_in=full(1.0))
    rec = {"input": nir.Input(input_type={"input": np.array([n])}), "lif": lif,
           "w_rec": nir.Linear(weight=weights_rec), "output": nir.Output(output_type={"output": np.array([n])})}
    rec_edges = [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")]
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    nodes = {"input": nir.Input(input_type={"input": np.array([3])}), "fc": nir.Linear(weight=w_in),
             "rsyn": nir.NIRGraph(nodes=rec, edges=rec_edges, type_check=False),
             "fc_out": nir.Linear(weight=0.25 * np.ones((2, n)) * sign), "li": nir.LI(
                 tau=np.full(2, 3.0), r=np.ones(2), v_leak=np.zeros(2)),
             "output": nir.Output(output_type={"output": np.array([2])})}
    edges = [("input", "fc"), ("fc", "rsyn"), ("rsyn", "fc_out"), ("fc_out", "li"), ("li", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def test_foreign_nested_rsynaptic_graph_imports_with_reordering(tmp_path):
    from ec_neuro.deploy.nir_import import from_graph
    n = 6
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)  # E/I interleaved: must be reordered E first
    mask = (np.random.default_rng(0).random((n, n)) < 0.5)
    net = from_graph(_foreign(0.3 * mask * sign[None, :]), dt=0.5, substeps=4)
    perm = net.meta["neuron_permutation"]
    assert perm == [0, 2, 4, 1, 3, 5] and net.spec.n_exc == 3 and net.spec.neuron.substeps == 4
    assert np.array_equal(net.masks.W_h[0], mask.T[np.ix_(perm, perm)])
    a_syn = np.exp(-0.5 / 2.0)
    assert net.spec.R == pytest.approx(0.3 * (1 - a_syn), rel=1e-12)
    assert net.spec.R_out == pytest.approx(0.25 * 0.5, rel=1e-12)
    assert net.masks.W_in[0].shape == (6, n) and net.masks.W_in[0][0].all() and net.masks.W_in[0][5].all()
    _run(net, "float", T=2)  # any backend runs it


@pytest.mark.parametrize("mutate, needle", [
    ("real_weights", "non-binary weights"),
    ("dale", "Dale's law"),
    ("no_dt", "no dt"),
])
def test_foreign_graph_errors_name_the_problem(mutate, needle):
    from ec_neuro.deploy.nir_import import from_graph
    n = 4
    w = 0.3 * np.ones((n, n))
    if mutate == "real_weights":
        w = np.random.default_rng(0).normal(size=(n, n))
    if mutate == "dale":
        w[0, 1] = -0.3
    with pytest.raises(UserError, match=needle):
        from_graph(_foreign(w), dt=None if mutate == "no_dt" else 0.5)


def test_nir_with_unsupported_node_is_a_clear_cli_error(net, tmp_path):
    graph = nir.read(str(export(net, "nir", tmp_path / "n.nir")))
    graph.nodes["w_out"] = nir.Conv1d(input_shape=48, weight=np.ones((2, 1, 1)), stride=1, padding=0, dilation=1,
                                      groups=1, bias=np.zeros(2))
    nir.write(str(tmp_path / "bad.nir"), graph)
    res = cli("import", str(tmp_path / "bad.nir"), "--output", str(tmp_path / "x.npz"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "'w_out' is a Conv1d" in res.stderr and "supported:" in res.stderr


@pytest.mark.parametrize("fmt", ["nir", "loihi", "npz"])
def test_truncated_files_are_clear_cli_errors(net, tmp_path, fmt):
    path = export(net, fmt, tmp_path / f"n.{fmt}")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    if fmt == "nir":
        res = cli("import", str(path), "--output", str(tmp_path / "x.npz"))
        needle = "not a readable NIR graph"
    else:
        res = cli("export", str(path), "--report") if fmt == "npz" else None
        if fmt == "loihi":
            with pytest.raises(UserError, match="corrupt or truncated, not a Loihi bundle"):
                loihi.read(path)
            return
        needle = "corrupt or truncated, not an ec-neuro network file"
    assert res.returncode == 2 and needle in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("field, value, needle", [
    (("lif", "du"), 5000, "du=5000 does not fit: it must be a 12-bit"),
    (("synapse", "w_mant"), 300, "w_mant=300 does not fit"),
    (("lif", "bias_exp"), 9, "bias_exp=9 does not fit: it must be a 3-bit"),
    (("lif", "vth_mant"), 2**17, "vth_mant=131072 does not fit: it must be a 17-bit"),
])
def test_bundle_exceeding_loihi_bit_widths_is_rejected(net, tmp_path, field, value, needle):
    path = export(net, "loihi", tmp_path / "b.npz")
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    h = json.loads(str(data["header"]))
    h[field[0]][field[1]] = value
    data["header"] = np.array(json.dumps(h))
    np.savez(path, **data)
    with pytest.raises(UserError, match=needle):
        loihi.read(path)


def test_bundle_round_trip_and_encoder_match_numpy_fixed(net, tmp_path):
    b = loihi.read(export(net, "loihi", tmp_path / "b.npz"))
    assert np.array_equal(b.W_h, net.masks.W_h[0].astype(bool)) and b.n_exc == net.spec.n_exc
    low = lower(net.spec, net.masks, "fixed")
    assert b.q == low.fixed
    x = np.random.default_rng(3).standard_normal((5, net.spec.n_obs))
    for row in x:
        assert np.array_equal(b.encode(row[None]) << b.q.bias_exp, low.encode(row[None]))


def test_cli_export_report_and_formats(net, tmp_path):
    src = save(tmp_path / "net.npz", net)
    res = cli("export", str(src), "--report", "--json")
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["neurons"] == 48 and r["loihi2_cores"] == 1 and r["control_period_ms"] == 20.0
    assert r["synaptic_ops_per_second"] == pytest.approx(r["synaptic_ops_per_control_step"] * 50)
    assert cli("export", str(src), "--format", "loihi", "--output", str(tmp_path / "b.npz")).returncode == 0
    res = cli("export", str(tmp_path / "missing"), "--format", "nir", "--output", str(tmp_path / "x.nir"))
    assert res.returncode == 2 and "no such run directory" in res.stderr


@pytest.mark.lava
def test_loihi_bundle_in_lava_matches_numpy_fixed_bit_for_bit(net, tmp_path):
    pytest.importorskip("lava")
    from ec_neuro.deploy.loihi_lava import open_loop_subprocess
    path = export(net, "loihi", tmp_path / "b.npz")
    b = loihi.read(path)
    T, rng = 6, np.random.default_rng(11)
    x = rng.standard_normal((T, 1, net.spec.n_obs))
    v01 = rng.random((1, net.spec.n_neurons))
    low = lower(net.spec, net.masks, "fixed")
    be = NumpyBackend()
    ref = be.open_loop(be.compile(low), v01, np.stack([low.encode(x[t]) for t in range(T)]))
    out = open_loop_subprocess(path, b.initial_v(v01[0]), np.stack([b.encode(x[t])[0] for t in range(T)]))
    got = Trace(out["u"][:, None], out["v"][:, None], out["s"][:, None], ref.r)
    assert np.abs(ref.s).sum() > 20
    assert compare_traces(ref, got)["identical"]


def test_trained_run_exports_and_imports_back_through_the_cli(tmp_path):
    from ec_neuro.deploy.deployed import load, load_run
    run = tmp_path / "run"
    res = cli("train", "--task", "CartPole-v1", "--population", "8", "--generations", "3", "--run-dir", str(run))
    assert res.returncode == 0, res.stderr
    assert cli("export", str(run), "--format", "nir", "--output", str(tmp_path / "t.nir")).returncode == 0
    res = cli("import", str(tmp_path / "t.nir"), "--output", str(tmp_path / "t.npz"))
    assert res.returncode == 0, res.stderr
    a, b = load_run(run), load(tmp_path / "t.npz")
    assert a.spec == b.spec and np.array_equal(a.obs_mean, b.obs_mean) and np.array_equal(a.obs_std, b.obs_std)
    for name, arr in a.masks.groups().items():
        assert np.array_equal(getattr(b.masks, name), arr)
    assert compare_traces(_run(a, "fixed"), _run(b, "fixed"))["identical"]
    res = cli("export", str(run), "--report", "--json")
    rep = json.loads(res.stdout)
    assert res.returncode == 0 and rep["control_period_ms"] == 20.0
    # energy from the network's own activity on its task, not from random inputs
    assert rep["spike_stats"]["source"].startswith("task CartPole-v1, 5 episodes closed loop")
    from ec_neuro.deploy.resources import spike_stats, task_spike_stats
    on_task = task_spike_stats(a, "CartPole-v1")
    assert on_task["rate_hz"] == rep["spike_stats"]["rate_hz"] and on_task["rate_hz"] != spike_stats(a)["rate_hz"]


def test_spyx_consumer_runs_our_file(net, tmp_path):
    """Only where Spyx is installed (see docs/export.md): its equations with reset-to-zero are ours exactly."""
    pytest.importorskip("spyx")
    sys.path.insert(0, str(ROOT / "scripts"))
    import nir_consumer_spyx
    path = export(net, "nir", tmp_path / "n.nir")
    out = nir_consumer_spyx.main(["--nir", str(path), "--control-steps", "5"])
    assert out["spyx_equations_numpy_reset_zero"]["spike_bit_agreement"] == 1.0
    assert out["euler_matched_tau"]["per_neuron_count_correlation"] > 0.5
