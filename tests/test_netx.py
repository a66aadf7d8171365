"""netx export on real installs: the HDF5 that lava-dl's netx.hdf5.Network loads runs under Loihi2SimCfg fixed_pt
bit for bit like `--backend lava-sim` (u, v and spikes at every substep), on the trained CartPole network and a
random one; networks netx cannot run exactly are refused with the reason."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ec_neuro.backends.numpy import NumpyBackend
from ec_neuro.compilers.common import lower
from ec_neuro.compilers.quant import LoihiFixed
from ec_neuro.deploy import export, netx
from ec_neuro.deploy.deployed import Deployed, load
from ec_neuro.deploy.loihi import from_deployed
from ec_neuro.errors import UserError
from ec_neuro.sample.masks import initial_v, random_masks
from ec_neuro.spec import NetworkSpec

pytest.importorskip("h5py")
ROOT = Path(__file__).resolve().parents[1]
TRAINED = ROOT / "docs/img/cartpole/network.npz"   # CartPole-v1, 256 neurons, solved (README)
CONTROL_STEPS = 31                                  # x 33 substeps = 1,023 substeps
needs_netx = pytest.mark.skipif(importlib.util.find_spec("lava.lib.dl") is None,
                                reason="needs lava-dl (the [dl] stack: scripts/setup-test-stacks)")


def _random(n: int, seed: int, p: float = 0.5) -> Deployed:
    base = load(TRAINED)
    spec = NetworkSpec.from_dict({**base.spec.to_dict(), "n_neurons": n})
    return Deployed(spec, random_masks(spec, 1, seed, p), base.obs_mean, base.obs_std, "CartPole-v1")


def _inputs(net: Deployed, seed: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(0.0, scale, (CONTROL_STEPS, 1, net.spec.n_obs)), -5, 5)
    return x, initial_v(net.spec.n_neurons, seed, 0, np.arange(1))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """For the trained and a random network: the netx run, `--backend lava-sim` (stock) and numpy fixed."""
    from ec_neuro.deploy.netx_lava import open_loop_subprocess
    from ec_neuro.registry import make_backend
    if importlib.util.find_spec("lava.lib.dl") is None:
        pytest.skip("needs lava-dl (the [dl] stack)")
    d = tmp_path_factory.mktemp("netx")
    lava = make_backend("lava-sim", tier="stock")
    out = {}
    try:
        for name, net, scale in (("trained", load(TRAINED), 1.0), ("random", _random(64, seed=3), 2.5)):
            path = export(net, "netx", d / f"{name}.netx.h5")
            b = netx.read(path)
            x, v01 = _inputs(net, seed=5, scale=scale)
            low = lower(net.spec, net.masks, "fixed")
            bias = np.stack([low.encode(x[t]) for t in range(CONTROL_STEPS)])
            np_be = NumpyBackend()
            ref = np_be.open_loop(np_be.compile(low), v01, bias)
            sim = lava.open_loop(lava.compile(low), v01, bias)
            mant = np.stack([netx.encode(b, x[t])[0] for t in range(CONTROL_STEPS)])
            got = open_loop_subprocess(path, b.initial_v(v01[0]), mant, b.substeps, b.sign)
            out[name] = {"net": net, "bundle": b, "path": path, "ref": ref, "sim": sim, "got": got, "mant": mant}
    finally:
        lava.close()
    return out


@needs_netx
@pytest.mark.lava
@pytest.mark.dl
@pytest.mark.parametrize("name", ["trained", "random"])
def test_netx_file_runs_bit_for_bit_like_lava_sim(runs, name):
    r = runs[name]
    sim, got = r["sim"], r["got"]
    assert got["s"].shape == (CONTROL_STEPS * r["bundle"].substeps, r["bundle"].n_neurons)   # 1,023 substeps
    assert np.abs(sim.s).sum() > 500                                  # not a silent network
    for key in ("u", "v", "s"):
        assert np.array_equal(got[key], getattr(sim, key)[:, 0]), key
        assert np.array_equal(got[key], getattr(r["ref"], key)[:, 0]), key
    assert np.abs(r["mant"]).max() <= netx.BIAS_MANT_MAX              # fits Loihi 2's 13-bit bias mantissa
    # the host readout of the netx spikes is the backend's readout
    low = lower(r["net"].spec, r["net"].masks, "fixed")
    rr = np.zeros(r["bundle"].n_neurons)
    for k, s in enumerate(got["s"]):
        rr = rr * low.flt.a_out
        rr = rr + low.flt.c_out * s
        if k % r["bundle"].substeps == r["bundle"].substeps - 1:
            assert np.array_equal(rr, sim.r[k // r["bundle"].substeps, 0])


def test_netx_file_layout_and_readback(tmp_path):
    import h5py
    net = load(TRAINED)
    path = export(net, "netx", tmp_path / "n.h5")
    b, want = netx.read(path), from_deployed(net)
    assert b.q == want.q and np.array_equal(b.W_h, want.W_h) and np.array_equal(b.W_in, want.W_in)
    with h5py.File(path) as f:
        g = f["layer/0"]
        assert g["type"][0] == b"dense_rec" and list(f["layer"]) == ["0"] and "delay" not in g
        assert int(g["neuron/iDecay"][()]) == b.q.du + 1 and int(g["neuron/vDecay"][()]) == b.q.dv
        assert int(g["neuron/vThMant"][()]) == b.q.vth_mant
        w = g["weight_rec"][()]
        assert set(np.unique(w)) == {-64, 0, 64} and not g["weight"][()].any()
        assert np.array_equal(w != 0, net.masks.W_h[0].T)


def test_netx_refuses_what_it_cannot_run_exactly(tmp_path):
    small = _random(48, seed=1)                    # bias_exp 5: netx hard-codes 6
    with pytest.raises(UserError, match="bias_exp=5.*netx hard-codes bias_exp = 6"):
        export(small, "netx", tmp_path / "s.h5")
    assert not (tmp_path / "s.h5").exists()
    net = load(TRAINED)
    q = LoihiFixed(**{**from_deployed(net).q.to_dict(), "w_mant": 68, "w_exp": -3})   # floors (cnt * 68) >> 3
    with pytest.raises(UserError, match="cannot express"):
        netx.write(from_deployed(net, q), tmp_path / "w.h5")
    ok = LoihiFixed(**{**from_deployed(net).q.to_dict(), "w_mant": 64, "w_exp": -1})   # = 32 exactly
    assert netx.netx_weights(from_deployed(net, ok)).max() == 32
    src = tmp_path / "small.npz"
    from ec_neuro.deploy.deployed import save
    save(src, small)
    res = subprocess.run([sys.executable, "-m", "ec_neuro", "export", str(src), "--format", "netx", "--output",
                          str(tmp_path / "x.h5")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr and "--format loihi" in res.stderr
