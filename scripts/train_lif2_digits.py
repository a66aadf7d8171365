"""Train the lif-classifier on the digits-events stand-in with the framework's ES / EGGROLL and classify().

A local driver until the classification task (`ecneuro train --task digits-events`) lands: the data are the
cached frames of /work/scratch/events (digits_T30_s<k>.npz: 1,797 sklearn digits rendered as N-MNIST-like events,
T = 30 fixed 10.5 ms bins, event seed k), the split is digits_events.split_indices(0) (train 1,259 / val 179 /
test 359, stratified), the strategies are ec_neuro.strategies (ES, EGGROLL: ask / tell), the forward is
ec_neuro.networks.lif2.classify, the fitness minus the mean cross-entropy of a mini-batch that every member
shares and that is a pure function of (seed, generation).

    frames   the T=30 bins summed into --T bins; --pool 2 sums 2x2 pixel blocks (578 inputs, else 2312); scaled by
             one constant so that E ||x_t||^2 = 1 over the training digits
    train    the training digits under --aug event realisations (event seeds 0..aug-1); val/test: event seed 0
    eval     the center (slot pop.size) on val and test every --eval-every generations

    PYTHONPATH=$PWD .venv/bin/python scripts/train_lif2_digits.py --method eggroll --pop 1024 --batch 64 \\
        --gens 2000 --pool 2 --aug 4 --out run.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ec_neuro import registry
from ec_neuro.networks.lif2 import classify, neg_cross_entropy

CACHE = Path("/work/scratch/events/cache")


def split_indices(labels: np.ndarray, split_seed: int = 0, val_frac: float = 0.1, test_frac: float = 0.2):
    """digits_events.split_indices, on the cached labels (the same labels as sklearn's load_digits)."""
    rng = np.random.default_rng([int(split_seed), 0x5717])
    tr, va, te = [], [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_te, n_va = int(round(test_frac * idx.size)), int(round(val_frac * idx.size))
        te.append(idx[:n_te])
        va.append(idx[n_te:n_te + n_va])
        tr.append(idx[n_te + n_va:])
    return tuple(np.sort(np.concatenate(a)) for a in (tr, va, te))


def load(T: int, event_seed: int, pool: int, cache_T: int = 30) -> tuple[np.ndarray, np.ndarray]:
    z = np.load(CACHE / f"digits_T{cache_T}_s{event_seed}.npz")
    F, y = z["frames"], z["labels"]
    if cache_T % T:
        raise SystemExit(f"--T {T} must divide {cache_T}")
    X = F.reshape(len(F), T, cache_T // T, 2, 34, 34).sum(2, dtype=np.float32)
    if pool > 1:
        X = X.reshape(len(F), T, 2, 34 // pool, pool, 34 // pool, pool).sum((4, 6))
    return X.reshape(len(F), T, -1), y.astype(np.int64)


def batch_indices(seed: int, gen: int, n_train: int, batch: int) -> np.ndarray:
    return np.random.default_rng([seed, gen, 0xBA7C]).choice(n_train, size=batch, replace=False)


def center_accuracy(spec, pop, X: np.ndarray, y: np.ndarray, chunk: int = 512) -> float:
    hits = 0
    for a in range(0, len(X), chunk):
        lg, _ = classify(spec, pop, np.array([pop.size]), X[a:a + chunk])
        hits += int((lg[0].argmax(-1) == y[a:a + chunk]).sum())
    return hits / len(X)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--method", choices=["eggroll", "es"], default="eggroll")
    ap.add_argument("--T", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--pop", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--gens", type=int, default=2000)
    ap.add_argument("--sigma", type=float, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--lr-decay", type=float, default=None)
    ap.add_argument("--rank", type=int, default=None)
    ap.add_argument("--shaping", default=None)
    ap.add_argument("--optimizer", default=None)
    ap.add_argument("--readout", default="membrane")
    ap.add_argument("--w1-gain", type=float, default=1.0)
    ap.add_argument("--w2-gain", type=float, default=3.0)
    ap.add_argument("--pool", type=int, default=2)
    ap.add_argument("--aug", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--time-limit", type=float, default=1e9, help="stop after this many seconds")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)

    X, y = load(a.T, 0, a.pool)
    tr, va, te = split_indices(y)
    scale = np.float32(1.0 / np.sqrt((X[tr] ** 2).sum(-1).mean()))
    X *= scale
    Xtr = np.concatenate([X[tr]] + [load(a.T, k, a.pool)[0][tr] * scale for k in range(1, a.aug)])
    ytr = np.concatenate([y[tr]] * a.aug)
    spec = registry.network_spec({"kind": "lif-classifier", "n_obs": X.shape[-1], "n_act": 10, "hidden": a.hidden,
                                  "readout": a.readout, "w1_gain": a.w1_gain, "w2_gain": a.w2_gain})
    cls = registry.method_class(a.method)
    settings = dict(type(spec).strategy_defaults[a.method])
    for k in ("sigma", "lr", "lr_decay", "rank", "shaping", "optimizer"):
        if getattr(a, k) is not None:
            settings[k] = getattr(a, k)
    strategy = cls.for_network(spec, a.pop, cls.Params(**settings))
    state = strategy.init(a.seed)
    P = a.pop
    log = {"args": vars(a), "argv": sys.argv, "spec": spec.to_dict(), "strategy": settings, "n_params": spec.n_params,
           "input_scale": float(scale), "n_train": len(Xtr), "evals": []}
    print(f"# {a.method} inputs={spec.n_obs} params={spec.n_params} T={a.T} H={a.hidden} pop={P} batch={a.batch} "
          f"strategy={settings} train={len(Xtr)} val={len(va)} test={len(te)}", flush=True)
    t_start = time.perf_counter()
    t_train = 0.0
    best = (-1.0, None)
    gen = 0
    for gen in range(a.gens + 1):
        out_of_time = time.perf_counter() - t_start > a.time_limit
        if gen % a.eval_every == 0 or gen == a.gens or out_of_time:
            pop = strategy.ask(state)
            rec = {"gen": gen, "train_time_s": round(t_train, 2), "wall_s": round(time.perf_counter() - t_start, 2),
                   "train512_acc": center_accuracy(spec, pop, Xtr[:512], ytr[:512]),
                   "val_acc": center_accuracy(spec, pop, X[va], y[va]),
                   "test_acc": center_accuracy(spec, pop, X[te], y[te])}
            if rec["val_acc"] > best[0]:
                best = (rec["val_acc"], rec)
            log["evals"].append(rec)
            print(json.dumps(rec), flush=True)
            if a.out:
                Path(a.out).write_text(json.dumps(log, indent=1))
        if gen == a.gens or out_of_time:
            break
        t0 = time.perf_counter()
        pop = strategy.ask(state)
        idx = batch_indices(a.seed, gen, len(Xtr), a.batch)
        logits, spikes = classify(spec, pop, np.arange(P), Xtr[idx])
        f = neg_cross_entropy(logits, ytr[idx])
        state, _ = strategy.tell(state, pop, f)
        t_train += time.perf_counter() - t0
        if gen % 10 == 0:
            acc = (logits.argmax(-1) == ytr[idx][None]).mean()
            print(f"gen {gen} fit mean {f.mean():.4f} max {f.max():.4f} batch-acc {acc:.3f} spike rate "
                  f"{spikes.mean() / (a.batch * a.T * a.hidden):.3f} {t_train / (gen + 1):.3f} s/gen", flush=True)
    ev = log["evals"]
    log["summary"] = {"generations": gen, "s_per_gen": t_train / max(1, gen), "train_time_s": t_train,
                      "wall_s": time.perf_counter() - t_start, "final_test_acc": ev[-1]["test_acc"],
                      "final_val_acc": ev[-1]["val_acc"], "best_val": best[1],
                      "max_test_acc": max(r["test_acc"] for r in ev)}
    print(json.dumps(log["summary"]), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(log, indent=1))
        np.save(Path(a.out).with_suffix(".center.npy"), state.center)
    return log


if __name__ == "__main__":
    main()
