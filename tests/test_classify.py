"""Classification tasks (digits-events, nmnist) through the train loop, eval and the CLI; tiny sizes throughout.

The real-weight classifier contract (spec.classify) is exercised with a stand-in defined here only.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from ec_neuro.cli import main
from ec_neuro.host import classify as hc
from ec_neuro.host.rollout import EvalRequest
from ec_neuro.host.train import resume, train
from ec_neuro.tasks.events import digits, nmnist
from ec_neuro.tasks.events.classify import DigitsEventsTask, NMNISTTask, neg_ce

TINY = {"limit": 2, "realisations": 2, "batch_size": 4}
NET = {"n_neurons": 16}


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("ECNEURO_CACHE", str(tmp_path_factory.getbasetemp() / "ecneuro-cache"))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A tiny N-MNIST tree in the original format: 2 train and 2 test digits-events samples per class."""
    return digits.write_tree(tmp_path_factory.mktemp("nm") / "NMNIST-local", seed=0, per_class=2)


def _train(run_dir, **kw):
    settings = dict(task="digits-events", population=4, generations=3, network=NET, task_options=TINY, progress=None)
    settings.update(kw)
    return train(run_dir=run_dir, **settings)


def _fitness(run_dir):
    return [json.loads(line) for line in (run_dir / "fitness.jsonl").read_text().splitlines()]


def test_task_interface_and_batch_purity():
    a, b = DigitsEventsTask(**TINY), DigitsEventsTask(**TINY)
    assert (a.kind, a.n_classes, a.n_obs, a.n_bins) == ("classify", 10, 578, 3)
    x, y = a.batch(7, 3)
    assert x.shape == (4, 3, 578) and x.dtype == np.float32 and y.dtype == np.int64
    x2, y2 = b.batch(7, 3)  # a fresh instance (another process, a resumed run): the same batch
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(a.batch_indices(7, 4), a.batch_indices(7, 3))
    for name, n in (("train", 40), ("val", 20), ("test", 20)):
        f, lab = a.split(name)
        assert f.shape == (n, 3, 578) and f.dtype == np.float32 and sorted(set(lab.tolist())) == list(range(10))
    tr = a.split("train")[0][:20]  # realisation 0 of the training digits: the scale is defined on it
    assert abs(float((tr.astype(np.float64) ** 2).sum(-1).mean()) - 1.0) < 1e-5


def test_neg_ce_and_accuracy():
    logits = np.array([[[2.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]])
    f, acc = neg_ce(logits, np.array([0, 0]))
    ce = [np.log(1 + np.exp(-2.0)), np.log(1 + np.exp(1.0))]
    np.testing.assert_allclose(f, [-np.mean(ce), -np.log(2)])
    np.testing.assert_allclose(acc, [0.5, 1.0])  # a tie goes to the first class (argmax)


def tiny_classify(spec, pop, slots, frames):
    """A stand-in real-weight classifier (tests only): logits = mean_t frames . w_k, w_k from the slot."""
    w = np.stack([np.random.default_rng(int(k)).normal(size=(frames.shape[-1], 10)) for k in slots])
    logits = np.einsum("btd,sdc->sbc", frames.astype(np.float64), w) / frames.shape[1]
    return logits, np.full(len(slots), 0.5)


def test_real_weight_path_calls_spec_classify():
    task = DigitsEventsTask(**TINY)
    spec = SimpleNamespace(classify=f"{__name__}:tiny_classify", kind="tiny", hidden=4)
    pop = SimpleNamespace(size=3, seed=5, generation=2)
    req = EvalRequest(pop, {}, None, "numpy", {}, "float", np.zeros(578), np.ones(578), np.arange(3))
    res = hc.run_classify(req, spec, task, backend=None)  # members only: the batch of (5, 2)
    frames, labels = task.batch(5, 2)
    want, acc = neg_ce(tiny_classify(spec, pop, np.arange(3), frames)[0], labels)
    np.testing.assert_allclose(res.fitness, want, rtol=1e-6)
    np.testing.assert_allclose(res.extra["accuracy"], acc)
    np.testing.assert_allclose(res.spike_rate, 0.5 / (frames.shape[0] * frames.shape[1] * 4))  # per unit per bin


def test_workers_and_resume_give_identical_fitness(tmp_path):
    _train(tmp_path / "one")
    _train(tmp_path / "two", workers=2)
    _train(tmp_path / "half", generations=2)
    resume(tmp_path / "half", generations=3, progress=None)
    ref = _fitness(tmp_path / "one")
    assert len(ref) == 3 and len({f for row in ref for f in row["fitness"]}) > 1
    assert _fitness(tmp_path / "two") == ref
    assert _fitness(tmp_path / "half") == ref
    rows = [json.loads(line) for line in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    assert all(0.0 <= r["det_accuracy"] <= 1.0 and 0.0 <= r["mean_accuracy"] <= 1.0 for r in rows)


def test_target_is_a_validation_accuracy(tmp_path):
    run = _train(tmp_path / "t", generations=5, target_return=0.0)  # any accuracy reaches 0: stops after one
    assert len(run.metrics) == 1 and run.metrics[0]["det_accuracy"] >= 0.0


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["ecneuro", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_nmnist_train_and_eval_end_to_end(monkeypatch, capsys, tmp_path, tree):
    run = tmp_path / "run"
    code, out, err = run_cli(monkeypatch, capsys, "train", "--task", "nmnist", "--data", str(tree), "--population",
                             "4", "--generations", "2", "--set", "network.n_neurons=16", "--set",
                             "task_options.batch_size=4", "--run-dir", str(run))
    assert code == 0, err
    assert "val" in err and json.loads(out.strip().splitlines()[-1])["generation"] == 1
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["task_options"]["data"] == str(tree) and cfg["network"]["n_obs"] == 578
    code, out, err = run_cli(monkeypatch, capsys, "eval", str(run))
    assert code == 0, err
    assert "test accuracy" in out and "(20 samples)" in out and (run / "confusion.png").stat().st_size > 1000


def test_nmnist_task_reads_the_tree_exactly(tree):
    task = NMNISTTask(data=str(tree), batch_size=4, val_frac=0.5)
    f, lab = task.split("test")
    assert f.shape == (20, 3, 578) and lab.tolist() == [c for c in range(10) for _ in range(2)]
    counts = task.split_counts("test")[0]
    ev = nmnist.read_sample(nmnist.locate(tree, "test")[0])
    assert int(counts[0].sum()) == len(ev)  # binning and pooling conserve the events
    assert len(task.split("train")[1]) == 10 and len(task.split("val")[1]) == 10


@pytest.mark.parametrize("damage,expect", [
    ("missing", "no N-MNIST train split"),
    ("layout", "unexpected folder"),
    ("truncated", "truncated or corrupt"),
    ("nodata", "needs its data folder: --data DIR"),
])
def test_bad_data_is_one_line_exit_2(monkeypatch, capsys, tmp_path, tree, damage, expect):
    import shutil
    root = tmp_path / "copy"
    shutil.copytree(tree, root)
    bad = None
    if damage == "missing":
        shutil.rmtree(root / "Train")
    elif damage == "layout":
        (root / "Train" / "3").rename(root / "Train" / "three")
    elif damage == "truncated":
        bad = sorted((root / "Test" / "5").iterdir())[0]
        bad.write_bytes(bad.read_bytes()[:-3])
    args = ["train", "--task", "nmnist", "--population", "4", "--generations", "1", "--set",
            "network.n_neurons=16", "--run-dir", str(tmp_path / "r")] + (["--data", str(root)] if damage != "nodata"
                                                                          else [])
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 2 and expect in err and "Traceback" not in err
    assert len(err.strip().splitlines()[-1]) > 20 and (bad is None or bad.name in err)
    if damage != "nodata":
        assert "garrickorchard" in err or bad is not None or damage == "layout"


@pytest.mark.lava
@pytest.mark.skipif(importlib.util.find_spec("lava") is None, reason="lava-nc not installed")
def test_lava_sim_gives_the_numpy_fixed_fitness(tmp_path):
    kw = dict(generations=2, precision="fixed", task_options={**TINY, "realisations": 1, "batch_size": 2},
              network={"n_neurons": 8})
    _train(tmp_path / "np", backend="numpy", **kw)
    _train(tmp_path / "lava", backend="lava-sim", **kw)
    ref = _fitness(tmp_path / "np")
    assert _fitness(tmp_path / "lava") == ref and len({f for row in ref for f in row["fitness"]}) > 1


@pytest.mark.brian2
@pytest.mark.skipif(importlib.util.find_spec("brian2") is None, reason="brian2 not installed")
def test_brian2_gives_the_numpy_float_fitness(tmp_path):
    kw = dict(generations=2, precision="float", task_options={**TINY, "realisations": 1, "batch_size": 2},
              network={"n_neurons": 8})
    _train(tmp_path / "np", backend="numpy", **kw)
    _train(tmp_path / "b2", backend="brian2", **kw)
    assert _fitness(tmp_path / "b2") == _fitness(tmp_path / "np")
