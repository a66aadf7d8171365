"""SLAYER baseline: lava-dl's surrogate-gradient training of a recurrent CUBA-LIF network, deployed through netx.

The standard lava-dl path, end to end:

    data = dataset("synthetic")                        # EventData: x (S, C, T) 0/1 events, labels (S,)
    model, log = train(data, SlayerConfig(hidden=64, epochs=20))
    model.export_hdf5("slayer.net")                    # lava-dl's own per-block export_hdf5
    res = netx_check(model, "slayer.net", data.x_test[:32], gap=4)   # netx.hdf5.Network under Loihi2SimCfg
                                                       # fixed_pt, sample by sample, spikes vs SLAYER's

Network: `slayer.block.cuba.Recurrent` (C -> H, with H x H recurrent weights) + `slayer.block.cuba.Dense`
(H -> n_classes), the paper's SG-RSNN topology; loss `slayer.loss.SpikeRate`, prediction
`slayer.classifier.Rate` (the class whose output neuron spikes most), Adam.  SLAYER's forward is already
Loihi's fixed point (8-bit weights in steps of 2/64, integer decays, trunc0 state), which is why netx runs the
exported network spike for spike (measured: tests/test_slayer.py; docs/export.md "netx").

Pitfalls handled here (measured in lava-dl 0.6.0):
* each block gets its own copy of the neuron-parameter dict: `cuba.Recurrent` sets `persistent_state = True`
  in the dict it is given, which would make a Dense block built from the same dict keep its state too;
* the recurrent block always keeps its state between forward calls: `reset_state()` before every batch;
* per-sample evaluation in netx pauses after every window and zeroes u, v and the synapses' spikes in flight.

Datasets: `DATASETS` maps a name to a function returning `EventData`: `synthetic`, and `digits-events`, the
offline stand-in for N-MNIST (ec_neuro/tasks/events, docs/events.md), whose splits and binning are the
classification tasks' own (train on the task's train split, test on its test split); a bin with any event is one
input spike (`EventData.from_frames`).  Command line:

    python -m ec_neuro.baselines.slayer --dataset synthetic --epochs 20 --hidden 64 --json slayer.json
    python -m ec_neuro.baselines.slayer --dataset digits-events --bins 30 --pool 2 --epochs 20 --json s.json
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import MissingExtra, UserError

try:
    import torch
    from lava.lib.dl import slayer
except ModuleNotFoundError as _e:  # pragma: no cover - the [dl] extra is missing
    raise MissingExtra("the SLAYER baseline", _e.name or "torch", "dl") from None


@dataclass(frozen=True)
class EventData:
    """Event classification data in SLAYER's NCT layout: x (S, C, T) float32 0/1 events, y (S,) int64."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def steps(self) -> int:
        return int(self.x_train.shape[2])

    @classmethod
    def from_frames(cls, name: str, frames_train: np.ndarray, y_train: np.ndarray, frames_test: np.ndarray,
                    y_test: np.ndarray, n_classes: int | None = None) -> "EventData":
        """Frames (S, T, ...) of event counts per time bin (e.g. (S, T, 2, 34, 34)) -> (S, C, T) unary events
        (a bin with any event is a spike: netx's input spikes are unary)."""
        def nct(f: np.ndarray) -> np.ndarray:
            f = np.asarray(f)
            if f.ndim < 3:
                raise UserError(f"{name}: frames must be (samples, time bins, ...), got shape {f.shape}")
            return np.ascontiguousarray((f.reshape(f.shape[0], f.shape[1], -1) > 0).transpose(0, 2, 1),
                                        dtype=np.float32)
        y_tr, y_te = np.asarray(y_train, np.int64), np.asarray(y_test, np.int64)
        k = int(n_classes if n_classes is not None else max(y_tr.max(), y_te.max()) + 1)
        return cls(name, nct(frames_train), y_tr, nct(frames_test), y_te, k)


def synthetic(n_classes: int = 4, channels: int = 32, steps: int = 24, train_per_class: int = 128,
              test_per_class: int = 16, rate: float = 0.5, background: float = 0.05, seed: int = 0) -> EventData:
    """A tiny event dataset: class k drives its own random quarter of the channels (overlapping between classes)
    at rate `rate` in one half of the time window (the first half for even k, the second for odd k); every channel
    has background events at rate `background`."""
    rng = np.random.default_rng(seed)
    groups = [rng.choice(channels, max(1, channels // 4), replace=False) for _ in range(n_classes)]

    def make(per_class: int, r: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        y = np.repeat(np.arange(n_classes), per_class)
        p = np.full((y.size, channels, steps), background)
        half = steps // 2
        for i, k in enumerate(y):
            t = slice(0, half) if k % 2 == 0 else slice(half, steps)
            p[i, groups[k], t] = rate
        x = (r.random(p.shape) < p).astype(np.float32)
        order = r.permutation(y.size)
        return x[order], y[order]

    x_tr, y_tr = make(train_per_class, np.random.default_rng([seed, 1]))
    x_te, y_te = make(test_per_class, np.random.default_rng([seed, 2]))
    return EventData("synthetic", x_tr, y_tr, x_te, y_te, n_classes)


# name -> function returning EventData.  HOOK: "digits-events": "<the events module>:<loader>" goes here.
def digits_events(n_bins: int = 30, pool: int = 2, realisations: int = 1, limit: int | None = None) -> EventData:
    """digits-events as SLAYER's (S, C, T) events: the classification task's train and test splits, C = 2*34*34
    / pool^2 channels, T = n_bins bins of the 315 ms sample."""
    from ..tasks.events.dataset import digits_splits
    d = digits_splits(n_bins=n_bins, pool=pool, realisations=realisations, limit=limit)
    return EventData.from_frames("digits-events", d.counts["train"], d.labels["train"], d.counts["test"],
                                 d.labels["test"], 10)


DATASETS: dict[str, Callable[..., EventData]] = {"synthetic": synthetic, "digits-events": digits_events}


def dataset(name: str, **kw: Any) -> EventData:
    from ..registry import lookup
    return lookup(DATASETS, "SLAYER dataset", name)(**kw)


@dataclass(frozen=True)
class SlayerConfig:
    """Model and training settings (neuron values are SLAYER's units: threshold 1.25, decays of 1)."""

    hidden: int = 64
    epochs: int = 20
    batch: int = 32
    lr: float = 3e-3
    seed: int = 0
    threads: int = 1                 # torch CPU threads (2 shared cores on the project's machine)
    neuron: dict[str, Any] = field(default_factory=lambda: {
        "threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03, "tau_grad": 0.03, "scale_grad": 3,
        "requires_grad": False})
    true_rate: float = 0.2
    false_rate: float = 0.03
    weight_scale: float = 2.0


class SlayerRSNN(torch.nn.Module):
    """cuba.Recurrent (n_in -> hidden, recurrent) + cuba.Dense readout (hidden -> n_out)."""

    def __init__(self, n_in: int, n_out: int, cfg: SlayerConfig) -> None:
        super().__init__()
        # each block its own copy: cuba.Recurrent writes persistent_state = True into the dict it is given
        self.blocks = torch.nn.ModuleList([
            slayer.block.cuba.Recurrent(copy.deepcopy(cfg.neuron), n_in, cfg.hidden,
                                        weight_scale=cfg.weight_scale, weight_norm=False),
            slayer.block.cuba.Dense(copy.deepcopy(cfg.neuron), cfg.hidden, n_out,
                                    weight_scale=cfg.weight_scale, weight_norm=False),
        ])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Spikes (batch, C, T) -> the spikes of every block [(batch, hidden, T), (batch, n_out, T)]."""
        outs = []
        for b in self.blocks:
            x = b(x)
            outs.append(x)
        return outs

    def reset_state(self) -> None:
        """Zero the neuron state (the Recurrent block keeps it between calls: persistent_state is forced on)."""
        for b in self.blocks:
            b.neuron.current_state = torch.zeros(1)
            b.neuron.voltage_state = torch.zeros(1)

    def export_hdf5(self, path: str | Path) -> Path:
        """lava-dl's own export of every block, in the layout netx.hdf5.Network reads (written atomically)."""
        import h5py
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with h5py.File(tmp, "w") as h:
            layer = h.create_group("layer")
            for i, b in enumerate(self.blocks):
                b.export_hdf5(layer.create_group(str(i)))
        tmp.replace(path)
        return path

    @torch.no_grad()
    def spikes(self, x: np.ndarray) -> list[np.ndarray]:
        """Every block's spikes (S, n, T) int8 for inputs (S, C, T), from a clean state (eval mode)."""
        self.eval()
        self.reset_state()
        return [o.numpy().astype(np.int8) for o in self(torch.from_numpy(np.ascontiguousarray(x, np.float32)))]


def predict(out_spikes: np.ndarray) -> np.ndarray:
    """The class whose output neuron spikes most, (S,) (slayer.classifier.Rate on counts)."""
    return slayer.classifier.Rate.predict(torch.from_numpy(np.asarray(out_spikes, np.float32))).numpy()


def accuracy(model: SlayerRSNN, x: np.ndarray, y: np.ndarray, batch: int = 256) -> float:
    correct = 0
    for i in range(0, len(y), batch):
        correct += int(np.sum(predict(model.spikes(x[i:i + batch])[-1]) == y[i:i + batch]))
    return correct / max(len(y), 1)


def train(data: EventData, cfg: SlayerConfig = SlayerConfig(),
          progress: Callable[[dict[str, Any]], None] | None = None) -> tuple[SlayerRSNN, list[dict[str, Any]]]:
    """Train by surrogate gradients; one log row per epoch (train_s: the epoch's training time only)."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = SlayerRSNN(data.channels, data.n_classes, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loss_fn = slayer.loss.SpikeRate(true_rate=cfg.true_rate, false_rate=cfg.false_rate, reduction="sum")
    rng = np.random.default_rng(cfg.seed)
    log: list[dict[str, Any]] = []
    for epoch in range(cfg.epochs):
        model.train()
        t0 = time.perf_counter()
        order = rng.permutation(len(data.y_train))
        total, correct = 0.0, 0
        for i in range(0, len(order), cfg.batch):
            idx = order[i:i + cfg.batch]
            x, y = torch.from_numpy(data.x_train[idx]), torch.from_numpy(data.y_train[idx])
            model.reset_state()
            out = model(x)[-1]
            loss = loss_fn(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss)
            correct += int((slayer.classifier.Rate.predict(out) == y).sum())
        row = {"epoch": epoch + 1, "train_s": time.perf_counter() - t0, "loss": total / len(order),
               "train_acc": correct / len(order), "test_acc": accuracy(model, data.x_test, data.y_test)}
        log.append(row)
        if progress:
            progress(row)
    return model, log


def pad(x: np.ndarray, gap: int) -> np.ndarray:
    """(S, C, T) -> (S, C, T + gap): silent bins after each sample, so its last spikes reach the output."""
    return np.concatenate([x, np.zeros(x.shape[:2] + (gap,), x.dtype)], axis=2)


def stream(x: np.ndarray) -> np.ndarray:
    """(S, C, W) samples -> one (C, S*W) stream, sample after sample."""
    return np.ascontiguousarray(np.asarray(x).transpose(1, 0, 2).reshape(x.shape[1], -1))


def netx_check(model: SlayerRSNN, path: str | Path, x: np.ndarray, y: np.ndarray | None = None,
               gap: int = 4) -> dict[str, Any]:
    """Run the exported file with netx under lava-sim, sample by sample (windows of T + gap, state zeroed in
    between), against SLAYER on the same padded samples: spikes of every layer identical?  Accuracies."""
    from ..deploy.netx_lava import run_subprocess
    xp = pad(np.asarray(x, np.float32), gap)
    S, _, W = xp.shape
    ref = model.spikes(xp)                                            # [(S, n_i, W)]
    t0 = time.perf_counter()
    got = run_subprocess("spikes", path, x=stream(xp).astype(np.int8), window=W)
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {"samples": int(S), "window": int(W), "netx_wall_s": wall, "layers": []}
    same = True
    for i, r in enumerate(ref):
        s = got[f"s{i}"].reshape(S, W, -1).transpose(0, 2, 1)            # (S, n_i, W)
        bad = np.flatnonzero((s != r).any(axis=(1, 2)))
        same &= bad.size == 0
        out["layers"].append({"spikes_slayer": int(r.sum()), "spikes_netx": int(s.sum()),
                              "samples_differing": int(bad.size)})
        if i == len(ref) - 1:
            pred_netx, pred_slayer = predict(s), predict(r)
    out["identical"] = bool(same)
    if y is not None:
        y = np.asarray(y)
        out["netx_acc"] = float(np.mean(pred_netx == y))
        out["slayer_acc"] = float(np.mean(pred_slayer == y))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ec_neuro.baselines.slayer", description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="synthetic", help=f"one of {', '.join(DATASETS)}")
    ap.add_argument("--bins", type=int, default=30, help="digits-events: time bins per sample")
    ap.add_argument("--pool", type=int, default=2, help="digits-events: 2x2 sum-pooling of the 34x34 field (1: none)")
    ap.add_argument("--epochs", type=int, default=SlayerConfig.epochs)
    ap.add_argument("--hidden", type=int, default=SlayerConfig.hidden)
    ap.add_argument("--batch", type=int, default=SlayerConfig.batch)
    ap.add_argument("--lr", type=float, default=SlayerConfig.lr)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--netx-samples", type=int, default=64, help="test samples run through netx (0: skip)")
    ap.add_argument("--gap", type=int, default=4)
    ap.add_argument("--out", default=".", help="folder for slayer.net")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    data = dataset(a.dataset, **({"n_bins": a.bins, "pool": a.pool} if a.dataset == "digits-events" else {}))
    cfg = SlayerConfig(hidden=a.hidden, epochs=a.epochs, batch=a.batch, lr=a.lr, seed=a.seed, threads=a.threads)
    t0 = time.perf_counter()
    model, log = train(data, cfg, progress=lambda r: print(json.dumps(r), file=sys.stderr, flush=True))
    report: dict[str, Any] = {
        "dataset": data.name, "train": int(len(data.y_train)), "test": int(len(data.y_test)),
        "channels": data.channels, "steps": data.steps, "classes": data.n_classes,
        "config": {k: v for k, v in asdict(cfg).items()}, "torch": torch.__version__,
        "train_total_s": time.perf_counter() - t0,
        "train_s_sum": sum(r["train_s"] for r in log), "test_acc_final": log[-1]["test_acc"] if log else None,
        "test_acc_best": max((r["test_acc"] for r in log), default=None), "epochs": log}
    if a.netx_samples:
        path = model.export_hdf5(Path(a.out) / "slayer.net")
        k = min(a.netx_samples, len(data.y_test))
        report["netx"] = netx_check(model, path, data.x_test[:k], data.y_test[:k], gap=a.gap)
    text = json.dumps(report, indent=1)
    print(json.dumps({k: v for k, v in report.items() if k != "epochs"}, indent=1))
    if a.json:
        Path(a.json).write_text(text)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as e:  # a user's mistake: one line, exit status 2, no traceback
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
