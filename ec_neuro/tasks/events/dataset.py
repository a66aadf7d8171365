"""Event datasets as frames: train / validation / test splits of event counts (n, T, D) and labels, cached.

    data = digits_splits(n_bins=3, pool=2, realisations=4)       # the offline stand-in (digits.py)
    data = nmnist_splits("/data/nmnist", n_bins=3, pool=2)         # N-MNIST from a local tree (nmnist.py)
    data.counts["train"] (n, T, D) uint16, data.labels["train"] (n,) int64, data.scale

D = 2 * H * W (polarity, y, x flattened in that order). `scale` is one data-derived constant with
E_t ||scale * counts_t||^2 = 1 over the training split; the tasks hand out `counts * scale` as float32.
Frames are cached as atomic .npz files keyed by every parameter, in $ECNEURO_CACHE or ~/.cache/ec-neuro, and
rebuilt whenever missing or unreadable: nothing a fresh machine lacks is required.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ... import files
from ...errors import UserError
from . import digits, nmnist
from .frames import center_crop, denoise, pool as pool_frames, to_frames

SPLITS = ("train", "val", "test")
CACHE_VERSION = 1


@dataclass(frozen=True)
class EventData:
    """Counts (n, T, D) uint16 and labels (n,) int64 per split, and the input scale (E||scale x_t||^2 = 1)."""

    counts: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    scale: float
    shape: tuple[int, int, int]   # (P, H, W) of one bin before flattening


class _Lazy(dict):
    """A dict whose missing keys are built on first use by the given functions (the training realisations of
    digits-events are not built to evaluate on val and test)."""

    def __init__(self, **builders: Callable[[], np.ndarray]) -> None:
        super().__init__()
        self._builders = builders

    def __missing__(self, key: str) -> np.ndarray:
        if key not in self._builders:
            raise KeyError(key)
        self[key] = value = self._builders[key]()
        return value


def cache_dir() -> Path:
    """Where frames are cached: $ECNEURO_CACHE, else ~/.cache/ec-neuro."""
    return Path(os.environ.get("ECNEURO_CACHE") or Path.home() / ".cache" / "ec-neuro")


def cached(prefix: str, key: dict[str, Any], build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays `build()` makes, from <cache>/<prefix>-<hash of key>.npz when it is there and readable (an
    unwritable cache folder only costs the rebuild next time)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    path = cache_dir() / f"{prefix}-{digest}.npz"
    try:
        with np.load(path) as z:
            if str(z["key"]) == json.dumps(key, sort_keys=True):
                return {k: z[k] for k in z.files if k != "key"}
    except (OSError, KeyError, ValueError, EOFError):
        pass
    arrays = build()
    try:
        files.atomic_write(path, lambda f: np.savez_compressed(f, key=np.array(json.dumps(key, sort_keys=True)),
                                                               **arrays))
    except UserError:
        pass
    return arrays


def _flatten(frames: np.ndarray, pool: int) -> np.ndarray:
    """(n, T, P, H, W) counts -> pooled (n, T, D) uint16."""
    f = pool_frames(frames, pool) if pool > 1 else frames
    return np.ascontiguousarray(f.reshape(f.shape[0], f.shape[1], -1).astype(np.uint16))


def input_scale(train_counts: np.ndarray) -> float:
    """1 / sqrt(E_{sample, bin} ||counts_t||^2) over the training split."""
    sq = (train_counts.astype(np.float64) ** 2).sum(-1).mean()
    return float(1.0 / np.sqrt(sq)) if sq > 0 else 1.0


def _check_pool(pool: int, size: int) -> None:
    if not isinstance(pool, int) or isinstance(pool, bool) or pool < 1 or size % pool:
        raise UserError(f"task option pool must be a positive integer dividing the {size}x{size} field, got {pool!r}",
                        "task_options.pool")


def digits_splits(n_bins: int = 3, pool: int = 2, realisations: int = 1, split_seed: int = 0,
                  event_seed: int = 0, limit: int | None = None) -> EventData:
    """digits-events: train (its digits in `realisations` event realisations, seeds event_seed, event_seed + 1,
    ...), val and test (their own digits, realisation event_seed); stratified 70/10/20 by split_seed; `limit`
    keeps the first `limit` digits of each class in each split (quick runs and tests)."""
    _check_pool(pool, digits.FIELD)
    prm = digits.DVSParams()
    _, labels = digits.load_images()
    idx = dict(zip(SPLITS, digits.split_indices(split_seed)))
    if limit is not None:
        idx = {s: np.sort(np.concatenate([v[labels[v] == c][:limit] for c in range(10)])) for s, v in idx.items()}
    need = np.arange(digits.N_SAMPLES) if limit is None else np.unique(np.concatenate(list(idx.values())))
    row = np.full(digits.N_SAMPLES, -1)
    row[need] = np.arange(need.size)

    def realisation(seed: int) -> np.ndarray:
        key = {"kind": "digits-events", "version": CACHE_VERSION, "n_bins": n_bins, "event_seed": seed,
               "dvs": dataclasses.asdict(prm), "duration_us": nmnist.DEFAULT_DURATION_US,
               "samples": "all" if limit is None else hashlib.sha256(need.tobytes()).hexdigest()[:16]}
        return cached("digits-events", key, lambda: {"frames": digits.make_frames(n_bins, seed, need, prm)[0]})["frames"]

    base = _flatten(realisation(event_seed), pool)
    train = row[idx["train"]]
    counts = _Lazy(train=lambda: np.concatenate([base[train]] + [_flatten(realisation(event_seed + k), pool)[train]
                                                               for k in range(1, realisations)]))
    out_labels = {"train": np.tile(labels[idx["train"]], realisations)}
    for s in ("val", "test"):
        counts[s], out_labels[s] = base[row[idx[s]]], labels[idx[s]]
    side = digits.FIELD // pool
    return EventData(counts, out_labels, input_scale(base[train]), (2, side, side))


def _signature(samples: list[nmnist.Sample]) -> list[Any]:
    """What identifies a located split on disk: its files with their sizes and modification times."""
    seen: dict[str, Any] = {}
    for s in samples:
        if s.source not in seen:
            st = os.stat(s.source)
            seen[s.source] = [st.st_size, st.st_mtime_ns]
    h = hashlib.sha256(json.dumps([[s.name, s.label] for s in samples] + sorted(seen.items())).encode())
    return [len(samples), h.hexdigest()]


def _read_split(samples: list[nmnist.Sample], n_bins: int, crop: int | None, denoise_us: float | None) -> np.ndarray:
    """Read, transform and bin located samples: (n, T, 2, H, W) uint8 (a bin count above 255 is an error)."""
    size = nmnist.SENSOR_SIZE if crop is None else (crop, crop, 2)
    out = np.zeros((len(samples), n_bins, 2, size[1], size[0]), np.uint8)
    zips: dict = {}
    try:
        for i, s in enumerate(samples):
            ev = nmnist.read_sample(s, zips)
            if denoise_us:
                ev = denoise(ev, denoise_us)
            if crop is not None:
                ev = center_crop(ev, crop)
            f = to_frames(ev, n_bins, nmnist.DEFAULT_DURATION_US, size, dtype=np.int32)
            if f.max(initial=0) > 255:
                raise nmnist.DataError(f"{s.name}: a time bin holds {f.max()} events of one pixel, more than 255; "
                                       f"use more time bins (task option n_bins)")
            out[i] = f
    finally:
        for zf in zips.values():
            zf.close()
    return out


def _n_val(frac: float, n: int) -> int:
    """Validation samples of a class of n: round(frac * n), at least 1 and at most n - 1 when frac > 0 and n > 1."""
    if frac <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, int(round(frac * n))))


def nmnist_splits(data: str, n_bins: int = 3, pool: int = 2, crop: int | None = None,
                  denoise_us: float | None = None, val_frac: float = 0.1, split_seed: int = 0,
                  limit: int | None = None) -> EventData:
    """N-MNIST under `data`: its Train split less a stratified val_frac validation part, and its Test split;
    `limit` keeps the first `limit` files of each class folder (quick runs)."""
    side = nmnist.SENSOR_SIZE[0] if crop is None else crop
    _check_pool(pool, side)
    if crop is not None and not (isinstance(crop, int) and 1 <= crop <= nmnist.SENSOR_SIZE[0]):
        raise UserError(f"task option crop must be an integer from 1 to 34, got {crop!r}", "task_options.crop")
    located = {s: nmnist.locate(data, s) for s in ("train", "test")}
    if limit is not None:
        located = {s: [x for c in range(10) for x in [y for y in v if y.label == c][:limit]] for s, v in located.items()}
    params = {"n_bins": n_bins, "crop": crop, "denoise_us": denoise_us, "duration_us": nmnist.DEFAULT_DURATION_US}
    raw = {}
    for s, samples in located.items():
        key = {"kind": "nmnist", "version": CACHE_VERSION, "split": s, "data": os.path.abspath(data),
               "files": _signature(samples), **params}
        raw[s] = cached("nmnist", key, lambda samples=samples: {"frames": _read_split(samples, n_bins, crop,
                                                                                      denoise_us)})["frames"]
    labels = {s: np.array([x.label for x in v], np.int64) for s, v in located.items()}
    rng = np.random.default_rng([int(split_seed), 0x5717])
    val = np.sort(np.concatenate([rng.permutation(idx)[:_n_val(val_frac, idx.size)]
                                  for idx in (np.flatnonzero(labels["train"] == c) for c in range(10))]))
    train = np.setdiff1d(np.arange(len(labels["train"])), val)
    tr_counts = _flatten(raw["train"], pool)
    counts = {"train": tr_counts[train], "val": tr_counts[val], "test": _flatten(raw["test"], pool)}
    out_labels = {"train": labels["train"][train], "val": labels["train"][val], "test": labels["test"]}
    if not len(train):
        raise UserError(f"{data}: no training samples left after the validation split", "data")
    return EventData(counts, out_labels, input_scale(counts["train"]), (2, side // pool, side // pool))
