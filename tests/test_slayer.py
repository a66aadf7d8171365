"""The SLAYER baseline on real lava-dl: it learns a small synthetic event task, and its trained network exported with
lava-dl's export_hdf5 runs in netx under Loihi2SimCfg fixed_pt spike for spike like SLAYER's own forward."""
from __future__ import annotations

import copy
import importlib.util

import numpy as np
import pytest

pytestmark = [pytest.mark.dl, pytest.mark.skipif(importlib.util.find_spec("lava.lib.dl") is None,
                                                 reason="needs lava-dl (the [dl] stack: scripts/setup-test-stacks)")]


@pytest.fixture(scope="module")
def trained():
    from ec_neuro.baselines import slayer as sl
    data = sl.synthetic(channels=24, steps=16, train_per_class=64, test_per_class=12, seed=1)
    cfg = sl.SlayerConfig(hidden=24, epochs=6, batch=16, seed=0)
    model, log = sl.train(data, cfg)
    return sl, data, model, log


def test_slayer_learns_the_synthetic_task(trained):
    sl, data, model, log = trained
    assert data.x_train.shape == (256, 24, 16) and set(np.unique(data.x_train)) == {0.0, 1.0}
    assert len(log) == 6 and all(r["train_s"] > 0 for r in log)
    assert log[-1]["test_acc"] >= 0.6 > 1.5 / data.n_classes        # chance is 0.25
    assert log[-1]["test_acc"] == sl.accuracy(model, data.x_test, data.y_test)


def test_slayer_network_runs_in_netx_spike_for_spike(trained, tmp_path):
    sl, data, model, _ = trained
    path = model.export_hdf5(tmp_path / "slayer.net")
    res = sl.netx_check(model, path, data.x_test[:12], data.y_test[:12], gap=4)
    assert res["layers"][0]["spikes_slayer"] > 100 and res["layers"][1]["spikes_slayer"] > 10
    assert res["identical"], res
    assert res["netx_acc"] == res["slayer_acc"]


def test_each_block_gets_its_own_neuron_dict():
    from lava.lib.dl import slayer
    from ec_neuro.baselines.slayer import SlayerConfig, SlayerRSNN
    cfg = SlayerConfig(hidden=8)
    shared = copy.deepcopy(cfg.neuron)
    slayer.block.cuba.Recurrent(shared, 4, 8, weight_norm=False)
    assert shared["persistent_state"] is True                       # the pitfall: the block writes into the dict
    model = SlayerRSNN(4, 3, cfg)
    assert model.blocks[0].neuron.persistent_state and not model.blocks[1].neuron.persistent_state
    assert "persistent_state" not in cfg.neuron


def test_frames_adapter_gives_slayer_layout():
    from ec_neuro.baselines.slayer import DATASETS, EventData
    rng = np.random.default_rng(0)
    frames = rng.poisson(0.3, (5, 7, 2, 3, 3))                       # (S, T, polarity, H, W) event counts
    d = EventData.from_frames("toy", frames, np.arange(5) % 3, frames[:2], np.array([0, 2]))
    assert d.x_train.shape == (5, 18, 7) and d.n_classes == 3 and d.x_train.dtype == np.float32
    assert np.array_equal(d.x_train[1, :, 4], (frames[1, 4].reshape(-1) > 0).astype(np.float32))
    assert "synthetic" in DATASETS


def test_digits_events_dataset_is_the_tasks_split(tmp_path, monkeypatch):
    """SLAYER's digits-events are the classification task's train and test samples, one spike per non-empty bin."""
    monkeypatch.setenv("ECNEURO_CACHE", str(tmp_path / "cache"))
    from ec_neuro.baselines.slayer import dataset
    from ec_neuro.tasks.events.dataset import digits_splits
    d = dataset("digits-events", n_bins=5, pool=2, limit=1)
    ref = digits_splits(n_bins=5, pool=2, limit=1)
    assert d.x_train.shape == (len(ref.labels["train"]), 578, 5) and d.n_classes == 10
    assert np.array_equal(d.y_test, ref.labels["test"])
    assert np.array_equal(d.x_test, (ref.counts["test"] > 0).transpose(0, 2, 1).astype(np.float32))
