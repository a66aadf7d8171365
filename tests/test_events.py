"""N-MNIST's reader/writer, layouts and binning, and digits-events: exact, fast, no dataset needed.

Every event file here is hand-made in the original 40-bit format; tonic (GPL-3.0, an optional extra) is only the
reference our reader and transforms are compared with, where it is installed.
"""
import io
import os
import zipfile

import numpy as np
import pytest

from ec_neuro.errors import UserError
from ec_neuro.tasks.events import dataset, digits as de, frames as fm, nmnist as nm, trees


# ------------------------------------------------------------------------------- the 40-bit format, exactly

def test_decode_bit_layout():
    # x = 33, y = 5, polarity 1, timestamp 0x123456 = bits 22..0
    rec = bytes([0x21, 0x05, 0x80 | 0x12, 0x34, 0x56, 0x00, 0x21, 0x7F, 0xFF, 0xFF])
    ev = nm.decode(rec)
    assert ev.tolist() == [(33, 5, 0x123456, 1), (0, 33, (1 << 23) - 1, 0)]


def test_overflow_marker_adds_8192_to_every_later_event():
    # event, marker (y = 240), event, marker, marker, event: raw timestamps 100, 5, 7
    raw = bytes([1, 2, 0, 0, 100,   0, 240, 0, 0, 9,   3, 4, 0x80, 0, 5,
                 0, 240, 0, 0, 0,   0, 240, 0x80, 1, 1,   5, 6, 0, 0, 7])
    ev = nm.decode(raw)
    assert ev["t"].tolist() == [100, 5 + 8192, 7 + 3 * 8192]
    assert ev["x"].tolist() == [1, 3, 5] and ev["y"].tolist() == [2, 4, 6] and ev["p"].tolist() == [0, 1, 0]


def test_encode_decode_round_trip_with_markers():
    rng = np.random.default_rng(1)
    n = 300
    k = (np.arange(n) >= 100).astype(int) + (np.arange(n) >= 200)
    t = np.sort(rng.integers(0, 8000, n)) + 8192 * k
    x, y, p = rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n)
    b = nm.encode(x, y, p, t, markers_before=[100, 200])
    assert len(b) == 5 * (n + 2)
    ev = nm.decode(b)
    for a, f in ((x, "x"), (y, "y"), (p, "p"), (t, "t")):
        np.testing.assert_array_equal(ev[f], a)


def test_matches_tonic_reader():
    tonic = pytest.importorskip("tonic")
    rng = np.random.default_rng(2)
    n = 500
    t = np.sort(rng.integers(0, 8000, n)) + 8192 * (np.arange(n) >= 250)
    b = nm.encode(rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n), t, markers_before=[250])
    ours = nm.decode(b)
    theirs = tonic.io.read_mnist_file(io.BytesIO(b), dtype=tonic.datasets.NMNIST.dtype, is_stream=True)
    for f in "xytp":
        np.testing.assert_array_equal(ours[f], theirs[f])


@pytest.mark.parametrize("cut", [1, 2, 3, 4])
def test_truncated_file_is_a_clear_error_naming_the_file(tmp_path, cut):
    f = tmp_path / "Train" / "3" / "00007.bin"
    nm.write_bin(f, [1, 2], [3, 4], [0, 1], [10, 20])
    f.write_bytes(f.read_bytes()[:-cut])
    with pytest.raises(nm.DataError, match=r"00007\.bin: truncated"):
        nm.read_bin(f)


def test_corrupt_and_empty_files_are_clear_errors(tmp_path):
    f = tmp_path / "junk.bin"
    f.write_bytes(bytes([200, 7, 0, 0, 1]))
    with pytest.raises(nm.DataError, match=r"junk\.bin: corrupt: record 0 .* x=200"):
        nm.read_bin(f)
    f.write_bytes(b"")
    with pytest.raises(nm.DataError, match=r"junk\.bin: empty"):
        nm.read_bin(f)


# ------------------------------------------------------------------------------- binning

def test_binning_conserves_event_counts():
    rng = np.random.default_rng(3)
    n = 4000
    ev = np.empty(n, nm.EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n)
    ev["t"] = np.sort(rng.integers(0, 330_000, n))          # some beyond 315 ms: clipped into the last bin
    for T in (1, 3, 7, 10, 30):
        for dur in (nm.DEFAULT_DURATION_US, None):
            fr = fm.to_frames(ev, T, dur)
            assert fr.shape == (T, 2, 34, 34) and fr.sum() == n
    # per-pixel, per-polarity totals are conserved too, and the layout is [bin, p, y, x]
    fr = fm.to_frames(ev, 5)
    tot = np.zeros((2, 34, 34), int)
    np.add.at(tot, (ev["p"], ev["y"], ev["x"]), 1)
    np.testing.assert_array_equal(fr.sum(0), tot)


def test_bins_are_a_fixed_grid():
    ev = np.zeros(4, nm.EVENT_DTYPE)
    ev["t"] = [0, 104_999, 105_000, 400_000]
    fr = fm.to_frames(ev, 3)
    assert fr.sum((1, 2, 3)).tolist() == [2, 1, 1]


def test_transforms_match_tonic():
    tonic = pytest.importorskip("tonic")
    T = tonic.transforms
    rng = np.random.default_rng(4)
    n = 3000
    ev = np.zeros(n, tonic.datasets.NMNIST.dtype)
    ev["x"], ev["y"], ev["p"] = rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n)
    ev["t"] = np.sort(rng.integers(0, 315_000, n))
    ours = nm.decode(nm.encode(ev["x"], ev["y"], ev["p"], ev["t"]))
    pairs = [(T.Denoise(filter_time=10_000)(ev.copy()), fm.denoise(ours, 10_000)),
             (T.CenterCrop(sensor_size=(34, 34, 2), size=28)(ev.copy()), fm.center_crop(ours, 28)),
             (T.Downsample(spatial_factor=0.5)(ev.copy()), fm.downsample(ours, 0.5))]
    for a, b in pairs:
        for f in "xytp":
            np.testing.assert_array_equal(a[f], b[f])


# ------------------------------------------------------------------------------- layout

def _tree(tmp_path, layout="folders"):
    return trees.make_tree(tmp_path / "nm", 2, seed=5, layout=layout, n_events=50)


@pytest.mark.parametrize("layout", ["folders", "tonic", "zip"])
def test_layouts_are_found(tmp_path, layout):
    root = _tree(tmp_path, layout)
    for split in ("train", "test"):
        s = nm.locate(root, split)
        assert len(s) == 20 and [x.label for x in s] == [c for c in range(10) for _ in range(2)]
        ev = nm.read_sample(s[0])
        assert len(ev) == 50
    fr = dataset._read_split(nm.locate(root, "test"), 5, None, None)
    assert fr.shape == (20, 5, 2, 34, 34) and fr.reshape(20, -1).sum(1).tolist() == [50] * 20


def test_wrong_layouts_are_clear_errors(tmp_path):
    root = _tree(tmp_path)
    with pytest.raises(nm.DataError, match="no N-MNIST train split"):
        nm.locate(tmp_path, "train")
    (root / "Train" / "7" / "00001.bin").parent.mkdir(exist_ok=True)
    os.rename(root / "Train" / "7", root / "Train" / "seven")
    with pytest.raises(nm.DataError, match=r"Train/seven: unexpected folder"):
        nm.locate(root, "train")
    os.rename(root / "Train" / "seven", root / "Train" / "7")
    (root / "Train" / "stray.bin").write_bytes(b"")
    with pytest.raises(nm.DataError, match=r"stray\.bin: not inside a class folder"):
        nm.locate(root, "train")
    os.remove(root / "Train" / "stray.bin")
    for f in (root / "Test" / "4").iterdir():
        f.unlink()
    with pytest.raises(nm.DataError, match=r"Test/4: no \.bin files"):
        nm.locate(root, "test")
    (root / "Test" / "4").rmdir()
    with pytest.raises(nm.DataError, match=r"class folder\(s\) 4 missing"):
        nm.locate(root, "test")


def test_corrupt_member_in_zip_names_zip_and_member(tmp_path):
    root = _tree(tmp_path, "zip")
    z = root / "Test.zip"
    with zipfile.ZipFile(z) as zf:
        items = {n: zf.read(n) for n in zf.namelist()}
    first = sorted(n for n in items if n.endswith(".bin"))[0]
    items[first] = items[first][:-2]
    with zipfile.ZipFile(z, "w") as zf:
        for n, b in items.items():
            zf.writestr(n, b)
    s = nm.locate(root, "test")
    with pytest.raises(nm.DataError, match=r"Test\.zip!Test/0/\d+\.bin: truncated"):
        nm.read_sample(s[0])


def test_tonic_dataset_never_downloads(tmp_path):
    pytest.importorskip("tonic")
    root = _tree(tmp_path, "tonic")
    ds = trees.tonic_dataset(root, "train")
    ev, label = ds[5]
    assert len(ds) == 20 and label == 2 and len(ev) == 50


# ------------------------------------------------------------------------------- digits-events

def test_digits_events_deterministic_and_shaped():
    imgs, labels = de.load_images()
    assert imgs.shape == (1797, 8, 8)
    a = de.sample_events(imgs[7], 0, 7)
    b = de.events_batch(imgs[[3, 7]], 0, [3, 7])[1]
    for f in "xytp":
        np.testing.assert_array_equal(a[f], b[f])
    c = de.sample_events(imgs[7], 1, 7)
    assert len(a) != len(c) or not np.array_equal(a["t"], c["t"])
    assert 2000 < len(a) < 12000 and a["x"].max() < 34 and a["y"].max() < 34
    assert np.all(np.diff(a["t"]) >= 0) and a["t"].min() >= 0 and a["t"].max() < 315_000
    fr, y = de.make_frames(10, 0, indices=[7, 3])
    assert fr.shape == (2, 10, 2, 34, 34) and fr[0].sum() == len(a) and y.tolist() == [labels[7], labels[3]]


def test_digits_events_polarity_balances_without_noise():
    imgs, _ = de.load_images()
    ev = de.sample_events(imgs[0], 0, 0, de.DVSParams(noise_hz=0.0))
    fr = fm.to_frames(ev, 1)[0].astype(int)
    np.testing.assert_array_equal(fr[0], fr[1])      # the digit returns to its start: ON == OFF per pixel


def test_split_is_stratified_disjoint_and_complete():
    tr, va, te = de.split_indices()
    allidx = np.concatenate([tr, va, te])
    assert len(allidx) == 1797 and len(np.unique(allidx)) == 1797
    _, labels = de.load_images()
    assert np.bincount(labels[te]).min() >= 35


def test_digits_tree_round_trips_through_the_nmnist_reader(tmp_path):
    root = de.write_tree(tmp_path / "d", seed=0, per_class=1)
    s = nm.locate(root, "train")
    imgs, labels = de.load_images()
    ev = nm.read_sample(s[0])
    i = int(np.flatnonzero(labels == 0)[0])
    ref = de.sample_events(imgs[i], 0, i)
    for f in "xytp":
        np.testing.assert_array_equal(ev[f], ref[f])


def test_data_errors_are_user_errors_and_name_where_to_get_nmnist(tmp_path):
    assert issubclass(nm.DataError, UserError)
    with pytest.raises(UserError, match=r"garrickorchard\.com/datasets/n-mnist.*468j46mzdv"):
        nm.locate(tmp_path / "missing", "train")
    with pytest.raises(UserError, match=r"no N-MNIST test split.*garrickorchard"):
        nm.locate(tmp_path, "test")


def test_pool_conserves_counts_and_shapes():
    rng = np.random.default_rng(6)
    f = rng.integers(0, 5, (3, 4, 2, 34, 34)).astype(np.uint8)
    p = fm.pool(f, 2)
    assert p.shape == (3, 4, 2, 17, 17) and p.sum() == f.sum()
    assert int(p[0, 0, 1, 3, 5]) == int(f[0, 0, 1, 6:8, 10:12].sum())
    with pytest.raises(ValueError):
        fm.pool(f, 3)


def test_frame_cache_is_keyed_and_rebuilt_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("ECNEURO_CACHE", str(tmp_path / "cache"))
    calls = []

    def build():
        calls.append(1)
        return {"a": np.arange(3)}
    for _ in range(2):
        np.testing.assert_array_equal(dataset.cached("t", {"k": 1}, build)["a"], np.arange(3))
    assert len(calls) == 1
    dataset.cached("t", {"k": 2}, build)
    assert len(calls) == 2
    for f in (tmp_path / "cache").iterdir():
        f.write_bytes(b"garbage")               # an unreadable cache file is rebuilt, not an error
    dataset.cached("t", {"k": 1}, build)
    assert len(calls) == 3
    assert not [f for f in (tmp_path / "cache").iterdir() if f.name.startswith(".")]  # atomic: no temp left
