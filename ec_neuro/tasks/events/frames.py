"""Events -> frames: count-conserving time binning, the usual transforms (denoise, centre crop, downsample, pool).

The transforms match tonic 1.7.0's (tonic.transforms.Denoise / CenterCrop / Downsample, same order, same quirks);
tests/test_events.py asserts that when tonic is installed. Binning is deliberately not tonic's ToFrame(n_time_bins),
which drops the last event(s): a fixed grid [0, 315 ms) the same for every sample, so bins line up with the saccades.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .nmnist import DEFAULT_DURATION_US, SENSOR_SIZE


def to_frames(events: np.ndarray, n_bins: int, duration_us: float | None = DEFAULT_DURATION_US,
              sensor_size: Sequence[int] = SENSOR_SIZE, dtype=np.int16) -> np.ndarray:
    """Bin events into frames (n_bins, P, H, W) (tonic's ToFrame layout: frames[b, p, y, x]); every event is
    counted exactly once, so frames.sum() == len(events).

    duration_us given (default 3 x 105 ms): a fixed grid [0, duration) in n_bins equal bins, the same for every
    sample, so bins line up with the saccades; events at t >= duration go into the last bin.
    duration_us=None: tonic's n_time_bins span, [t_first, t_last], but with the last bin closed (tonic drops
    the events in the remainder of (t_last - t_first) // n_bins, always including the last event)."""
    W, H, P = (int(s) for s in sensor_size)
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    frames = np.zeros((n_bins, P, H, W), dtype)
    if len(events) == 0:
        return frames
    t = events["t"].astype(np.float64)
    if duration_us is None:
        t0, span = t.min(), t.max() - t.min()
    else:
        t0, span = 0.0, float(duration_us)
    if span <= 0:
        b = np.zeros(t.size, np.int64)
    else:
        b = np.clip(np.floor((t - t0) * n_bins / span).astype(np.int64), 0, n_bins - 1)
    p = events["p"].astype(np.int64)
    if P == 1:
        p = np.zeros_like(p)
    flat = ((b * P + p) * H + events["y"].astype(np.int64)) * W + events["x"].astype(np.int64)
    counts = np.bincount(flat, minlength=frames.size)
    if counts.max(initial=0) > np.iinfo(dtype).max:
        raise OverflowError(f"a bin holds {counts.max()} events, more than {np.dtype(dtype).name} can count")
    frames.reshape(-1)[:] = counts
    return frames


def center_crop(events: np.ndarray, size: int, sensor_size: Sequence[int] = SENSOR_SIZE) -> np.ndarray:
    """Keep events in the centred size x size window and shift them to it (tonic.transforms.CenterCrop)."""
    ox, oy = (int(sensor_size[0]) - size) // 2, (int(sensor_size[1]) - size) // 2
    keep = (events["x"] >= ox) & (events["x"] < ox + size) & (events["y"] >= oy) & (events["y"] < oy + size)
    out = events[keep].copy()
    out["x"] -= ox
    out["y"] -= oy
    return out


def downsample(events: np.ndarray, spatial_factor: float) -> np.ndarray:
    """x, y <- floor(x * f), floor(y * f) (tonic.transforms.Downsample on integer fields); no event dropped."""
    out = events.copy()
    out["x"] = np.floor(events["x"] * spatial_factor).astype(out["x"].dtype)
    out["y"] = np.floor(events["y"] * spatial_factor).astype(out["y"].dtype)
    return out


def denoise(events: np.ndarray, filter_time: float = 10_000) -> np.ndarray:
    """tonic.transforms.Denoise exactly (same order, same quirks): an event is kept when one of its 4 neighbours
    (not itself, no diagonals) fired within the last filter_time us; the memory starts at filter_time, so events
    with t < filter_time are kept; the grid is sized by the sample's own max x, y."""
    if len(events) == 0:
        return events.copy()
    try:
        import numba  # noqa: F401
        keep = _denoise_numba(events["x"].astype(np.int64), events["y"].astype(np.int64),
                              events["t"].astype(np.float64), float(filter_time))
    except ImportError:
        keep = _denoise_py(events, filter_time)
    return events[keep]


def _denoise_py(events: np.ndarray, filter_time: float) -> np.ndarray:
    W, H = int(events["x"].max()) + 1, int(events["y"].max()) + 1
    mem = np.full((W, H), float(filter_time))
    keep = np.zeros(len(events), bool)
    for i, (x, y, t) in enumerate(zip(events["x"].tolist(), events["y"].tolist(), events["t"].tolist())):
        mem[x, y] = t + filter_time
        keep[i] = ((x > 0 and mem[x - 1, y] > t) or (x < W - 1 and mem[x + 1, y] > t)
                   or (y > 0 and mem[x, y - 1] > t) or (y < H - 1 and mem[x, y + 1] > t))
    return keep


def _make_denoise_numba():  # type: ignore[no-untyped-def]
    import numba

    @numba.njit(cache=False)
    def f(xs, ys, ts, filter_time):
        W, H = xs.max() + 1, ys.max() + 1
        mem = np.full((W, H), filter_time)
        keep = np.zeros(xs.size, np.bool_)
        for i in range(xs.size):
            x, y, t = xs[i], ys[i], ts[i]
            mem[x, y] = t + filter_time
            keep[i] = ((x > 0 and mem[x - 1, y] > t) or (x < W - 1 and mem[x + 1, y] > t)
                       or (y > 0 and mem[x, y - 1] > t) or (y < H - 1 and mem[x, y + 1] > t))
        return keep
    return f


_DENOISE = None


def _denoise_numba(xs: np.ndarray, ys: np.ndarray, ts: np.ndarray, filter_time: float) -> np.ndarray:
    global _DENOISE
    if _DENOISE is None:
        _DENOISE = _make_denoise_numba()
    return _DENOISE(xs, ys, ts, filter_time)




def pool(frames: np.ndarray, factor: int) -> np.ndarray:
    """Sum-pool the spatial axes of frames (..., P, H, W) by `factor` (H, W divisible by it): (..., P, H/f, W/f).

    A count-conserving spatial downsample of binned frames (2x2 on 34x34 gives 17x17: D = 2*17*17 = 578)."""
    if factor == 1:
        return frames
    *lead, P, H, W = frames.shape
    if H % factor or W % factor:
        raise ValueError(f"pool factor {factor} does not divide the {H}x{W} field")
    out = frames.reshape(*lead, P, H // factor, factor, W // factor, factor).sum((-3, -1), dtype=np.uint32)
    return out
