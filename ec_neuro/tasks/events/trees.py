"""N-MNIST trees besides the reader: hand-made ones in the original format (tests), and tonic over a local tree.

    make_tree(root, 2, layout="zip")     root/Train.zip, root/Test.zip: 2 samples per class and split
    tonic_dataset(root, "train")         a tonic.datasets.NMNIST that never downloads (tonic is optional, GPL-3.0)
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .nmnist import DEFAULT_DURATION_US, SPLITS, DataError, encode, locate


def tonic_dataset(root: str | os.PathLike, split: str, transform: object = None) -> object:
    """A tonic.datasets.NMNIST over a local tree that never downloads (tonic's own reader and transforms).

    tonic 1.7.0's constructor calls download() unless <save_to>/NMNIST/<train|test>.zip exists (lower case, any
    content: no md5 check) AND <save_to>/NMNIST/<Train|Test>/ holds >= 10,000 .bin files (so a partial tree
    always triggers a download, which fails here with URLError). Its folder is <save_to>/<class name>, so a
    subclass under another name looks elsewhere. We therefore validate with locate(), create the object
    without running tonic's __init__, and fill tonic's own fields (data = file paths, targets = labels)."""
    import tonic

    samples = locate(root, split)
    if samples[0].member:
        raise DataError(f"{samples[0].source}: tonic reads extracted folders only; extract the zip (or use "
                        f"read_sample, which reads zips in place)")
    ds = tonic.datasets.NMNIST.__new__(tonic.datasets.NMNIST)
    tonic.dataset.Dataset.__init__(ds, str(Path(samples[0].source).parents[2]), transform=transform)
    ds.train, ds.first_saccade_only, ds.stabilize = split == "train", False, False
    ds.folder_name = SPLITS[split]
    ds.data = [s.source for s in samples]
    ds.targets = [s.label for s in samples]
    return ds


def make_tree(root: str | os.PathLike, n_per_class: dict | int = 2, seed: int = 0, layout: str = "folders",
              events_fn: object = None, n_events: int = 200) -> Path:
    """Write a tiny N-MNIST-shaped tree in the original format (for tests): root/Train/<d>/NNNNN.bin and
    root/Test/<d>/NNNNN.bin; layout 'folders', 'tonic' (root/NMNIST/...) or 'zip' (root/Train.zip, root/Test.zip).

    events_fn(label, split, index, rng) -> (x, y, p, t) supplies events (default: n_events random ones)."""
    root = Path(root)
    per = {"train": n_per_class, "test": n_per_class} if isinstance(n_per_class, int) else dict(n_per_class)
    rng = np.random.default_rng(seed)
    base = root / "NMNIST" if layout == "tonic" else root
    k = 0
    for split, folder in SPLITS.items():
        files = {}
        for c in range(10):
            for j in range(per[split]):
                k += 1
                if events_fn is None:
                    t = np.sort(rng.integers(0, DEFAULT_DURATION_US, n_events))
                    ev = (rng.integers(0, 34, n_events), rng.integers(0, 34, n_events), rng.integers(0, 2, n_events), t)
                else:
                    ev = events_fn(c, split, j, rng)
                files[f"{folder}/{c}/{k:05d}.bin"] = encode(*ev)
        if layout == "zip":
            root.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(root / f"{folder}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
                for name, b in files.items():
                    zf.writestr(name, b)
        else:
            for name, b in files.items():
                (base / name).parent.mkdir(parents=True, exist_ok=True)
                (base / name).write_bytes(b)
    return root
