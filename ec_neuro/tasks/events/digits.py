"""digits-events: an offline, N-MNIST-shaped stand-in (NOT N-MNIST) built from scikit-learn's bundled 8x8 digits.

Each of the 1,797 `sklearn.datasets.load_digits()` images (grey levels 0..16) is drawn as a bright digit on a dark
34x34 field and moved along N-MNIST's three saccades (Orchard et al. 2015, as undone by tonic's `stabilize`):
105 ms each, displacement (dx, dy) going (0, 0) -> (3.5, 7) -> (7, 0) -> (0, 0) pixels, with a raised-cosine speed
profile inside each saccade (speed zero at its ends: the event rate dips between saccades, as in real N-MNIST).
A DVS-like pixel model emits events: every pixel keeps a reference log intensity; whenever the log
intensity has moved by a contrast threshold C from it, the pixel emits an ON (p = 1, brighter) or OFF (p = 0)
event and moves its reference by C (several events per step if it moved by several C). Timestamps are in us,
within [0, 315 ms). Per-pixel threshold mismatch and background-activity noise are optional (on by default,
small). Everything is a pure function of (seed, sample index): the events of sample i never depend on which
other samples are generated, nor on the order.

The output has N-MNIST's shapes: events (x, y, t, p) on a 34x34x2 sensor, frames (T, 2, 34, 34) from the same
binning code as N-MNIST (nmnist.to_frames), and .bin files in the original 40-bit format (write_tree).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import nmnist as nm
from .frames import to_frames

N_SAMPLES = 1797
FIELD = 34
# Saccade vertices (dx, dy) in pixels at t = 0, 105, 210, 315 ms (tonic.datasets.nmnist.stabilize).
SACCADE_VERTICES = np.array([[0.0, 0.0], [3.5, 7.0], [7.0, 0.0], [0.0, 0.0]])
SACCADE_MS = 105.0


@dataclass(frozen=True)
class DVSParams:
    scale: float = 3.0             # field pixels per digit pixel (8 x 3 = 24 px digit; +7 px saccade travel fits 34)
    contrast: float = 0.4          # log-intensity threshold C
    mismatch: float = 0.03         # per-pixel std of C (fraction of C) -- fixed per (seed, sample)
    eps: float = 0.1               # log(I + eps): the dark background is finite
    step_ms: float = 0.5           # simulation step; timestamps are spread uniformly inside a step
    noise_hz: float = 0.1          # background activity per pixel and polarity (Hz)
    jitter_px: float = 1.0         # random offset of the digit, uniform in [-j, j] px (x and y), per sample

    @property
    def n_steps(self) -> int:
        return int(round(3 * SACCADE_MS / self.step_ms))


def load_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 sklearn digits as float images in [0, 1] (N, 8, 8) and labels (N,)."""
    try:
        from sklearn.datasets import load_digits
    except ModuleNotFoundError:
        from ...errors import MissingExtra
        raise MissingExtra("task digits-events (scikit-learn's bundled digits)", "sklearn", "events") from None

    d = load_digits()
    return d.images.astype(np.float64) / 16.0, d.target.astype(np.int64)


def displacement(t_ms: np.ndarray) -> np.ndarray:
    """(dx, dy) of the digit at times t_ms (array) along the three straight saccades (raised-cosine speed)."""
    t = np.clip(np.asarray(t_ms, np.float64), 0.0, 3 * SACCADE_MS)
    k = np.minimum((t // SACCADE_MS).astype(int), 2)
    s = (t - k * SACCADE_MS) / SACCADE_MS
    a = s - np.sin(2 * np.pi * s) / (2 * np.pi)             # velocity ~ 1 - cos: zero at each saccade's ends
    return SACCADE_VERTICES[k] * (1 - a)[..., None] + SACCADE_VERTICES[k + 1] * a[..., None]


def _interp_matrix(offset: np.ndarray, scale: float, n: int) -> np.ndarray:
    """(S, 34, n + 2) linear-interpolation weights from the zero-padded image axis to the 34 pixel centres."""
    c = np.arange(FIELD) + 0.5
    u = (c[None, :] - offset[:, None]) / scale - 0.5 + 1.0      # continuous index into the padded axis
    u = np.clip(u, 0.0, n + 1 - 1e-9)
    u0 = np.floor(u).astype(int)
    f = u - u0
    M = np.zeros((offset.size, FIELD, n + 2))
    s_idx, c_idx = np.meshgrid(np.arange(offset.size), np.arange(FIELD), indexing="ij")
    M[s_idx, c_idx, u0] += 1 - f
    M[s_idx, c_idx, np.minimum(u0 + 1, n + 1)] += f
    return M


def _render(img: np.ndarray, ox: np.ndarray, oy: np.ndarray, scale: float) -> np.ndarray:
    """Intensity (S, 34, 34) [y, x] at the pixel centres for digit offsets (ox, oy) (S,): bilinear on the 8x8
    image; the digit's pixel (i, j) covers [ox + scale*j, ox + scale*(j+1)) in x and rows i likewise in y."""
    pad = np.pad(img, 1)                                        # zero border: the digit fades out to dark
    My = _interp_matrix(oy, scale, img.shape[0])
    Mx = _interp_matrix(ox, scale, img.shape[1])
    return (My @ pad) @ Mx.transpose(0, 2, 1)


QUANT = 4096   # log-intensity changes are snapped to C/4096 so that round-off (BLAS, libm) never flips an event


def _dvs_counts(L: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ON and OFF event counts (S, n, H, W) of pixels with log intensities L (S, n + 1, H, W) and thresholds C
    (S, H, W). In units of C, z = (L - L[:, 0]) / C snapped to 1/4096; the reference level r (an integer, start
    0) jumps to floor(z) when z >= r + 1 (floor(z) - r ON events) and to ceil(z) when z <= r - 1 (r - ceil(z)
    OFF events) -- the usual DVS "reference moves by C per event", computed in exact integers: a pixel that
    returns to its starting intensity returns exactly to r = 0."""
    S, n1 = L.shape[:2]
    Z = np.rint((L - L[:, :1]) / C[:, None] * QUANT).astype(np.int64)       # (S, n+1, H, W)
    r = np.zeros((S,) + L.shape[2:], np.int64)
    on = np.zeros((S, n1 - 1) + L.shape[2:], np.int16)
    off = np.zeros_like(on)
    for k in range(1, n1):
        z = Z[:, k]
        fl = np.floor_divide(z, QUANT)
        ce = -np.floor_divide(-z, QUANT)
        up = fl > r
        dn = ce < r
        on[:, k - 1] = np.where(up, fl - r, 0)
        off[:, k - 1] = np.where(dn, r - ce, 0)
        r = np.where(up, fl, np.where(dn, ce, r))
    return on, off


def _sample_setup(seed: int, index: int, prm: DVSParams) -> tuple:
    """A sample's own generator, digit jitter (px) and per-pixel thresholds C (34, 34)."""
    rng = np.random.default_rng([int(seed), int(index), 0xD161])
    jx, jy = rng.uniform(-prm.jitter_px, prm.jitter_px, 2)
    C = prm.contrast * np.maximum(1.0 + prm.mismatch * rng.standard_normal((FIELD, FIELD)), 0.2)
    return rng, jx, jy, C


def _events_from_counts(on: np.ndarray, off: np.ndarray, rng: np.random.Generator, prm: DVSParams) -> np.ndarray:
    """ON/OFF counts (n, 34, 34) per step -> events sorted by t (timestamps uniform inside their step) plus noise."""
    n = on.shape[0]
    xs, ys, ts, ps = [], [], [], []
    for cnt, pol in ((on, 1), (off, 0)):
        k, yy, xx = np.nonzero(cnt)
        reps = cnt[k, yy, xx].astype(np.int64)
        xs.append(np.repeat(xx, reps))
        ys.append(np.repeat(yy, reps))
        ts.append(np.repeat(k * prm.step_ms, reps))
        ps.append(np.full(reps.sum(), pol))
    if prm.noise_hz > 0:
        m = rng.poisson(prm.noise_hz * n * prm.step_ms / 1000.0 * FIELD * FIELD * 2)
        xs.append(rng.integers(0, FIELD, m))
        ys.append(rng.integers(0, FIELD, m))
        ps.append(rng.integers(0, 2, m))
        ts.append(np.floor(rng.uniform(0, n, m)) * prm.step_ms)
    x, y, p, t0 = (np.concatenate(a) for a in (xs, ys, ps, ts))
    t_us = np.floor((t0 + rng.uniform(0, prm.step_ms, t0.size)) * 1000.0).astype(np.int64)
    t_us = np.minimum(t_us, int(3 * SACCADE_MS * 1000) - 1)
    order = np.argsort(t_us, kind="stable")
    ev = np.empty(x.size, nm.EVENT_DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = x[order], y[order], t_us[order], p[order]
    return ev


def events_batch(imgs: np.ndarray, seed: int, indices: object, prm: DVSParams = DVSParams()) -> list:
    """Events of several samples (a list of structured arrays sorted by t); sample i's events depend only on
    (seed, i, imgs[i], prm), not on the batch it is computed in."""
    indices = [int(i) for i in indices]
    n = prm.n_steps
    t_ms = np.arange(n + 1) * prm.step_ms
    disp = displacement(t_ms)
    base = (FIELD - 8 * prm.scale - 7.0) / 2.0
    setups = [_sample_setup(seed, i, prm) for i in indices]
    L = np.stack([np.log(_render(imgs[j], base + jx + disp[:, 0], base + jy + disp[:, 1], prm.scale) + prm.eps)
                  for j, (_, jx, jy, _) in zip(range(len(indices)), setups)])
    on, off = _dvs_counts(L, np.stack([s[3] for s in setups]))
    return [_events_from_counts(on[b], off[b], setups[b][0], prm) for b in range(len(indices))]


def sample_events(img: np.ndarray, seed: int, index: int, prm: DVSParams = DVSParams()) -> np.ndarray:
    """The events of one digit image: a structured array (x, y, t, p) sorted by t (nmnist.EVENT_DTYPE)."""
    return events_batch(img[None], seed, [index], prm)[0]


def split_indices(split_seed: int = 0, val_frac: float = 0.1,
                  test_frac: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified train / validation / test indices into the 1,797 digits (fixed by split_seed, sorted)."""
    _, labels = load_images()
    rng = np.random.default_rng([int(split_seed), 0x5717])
    tr, va, te = [], [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_te, n_va = int(round(test_frac * idx.size)), int(round(val_frac * idx.size))
        te.append(idx[:n_te])
        va.append(idx[n_te:n_te + n_va])
        tr.append(idx[n_te + n_va:])
    return tuple(np.sort(np.concatenate(a)) for a in (tr, va, te))


def make_frames(n_bins: int, seed: int = 0, indices: np.ndarray | None = None, prm: DVSParams = DVSParams(),
                dtype: type = np.uint8, chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Frames (n, n_bins, 2, 34, 34) and labels (n,) of the given sample indices (default all 1,797)."""
    imgs, labels = load_images()
    indices = np.arange(N_SAMPLES) if indices is None else np.asarray(indices)
    out = np.zeros((indices.size, n_bins, 2, FIELD, FIELD), dtype)
    for c0 in range(0, indices.size, chunk):
        idx = indices[c0:c0 + chunk]
        for j, (i, ev) in enumerate(zip(idx, events_batch(imgs[idx], seed, idx, prm))):
            f = to_frames(ev, n_bins, nm.DEFAULT_DURATION_US, dtype=np.int32)
            if f.max(initial=0) > np.iinfo(dtype).max:
                raise OverflowError(f"digits-events sample {i}: a bin holds {f.max()} events")
            out[c0 + j] = f
    return out, labels[indices]


def write_tree(root: str, seed: int = 0, per_class: int = 2, prm: DVSParams = DVSParams(),
               layout: str = "folders") -> object:
    """An N-MNIST-shaped tree of digits-events samples in the original .bin format (realistic hand-made files
    for `--task nmnist --data DIR` tests): per_class training and per_class test samples of each digit."""
    imgs, labels = load_images()
    pools = {c: np.flatnonzero(labels == c) for c in range(10)}

    def fn(label: int, split: str, j: int, rng: np.random.Generator) -> tuple:
        i = int(pools[label][j + (per_class if split == "test" else 0)])
        ev = sample_events(imgs[i], seed, i, prm)
        return ev["x"], ev["y"], ev["p"], ev["t"]

    from .trees import make_tree
    return make_tree(root, per_class, seed=seed, layout=layout, events_fn=fn)
