"""The numpy backend equals plain per-neuron references written here, independently of ec_neuro.kernels.

The fixed-point reference follows Lava 0.10.0's PyLifModelBitAcc/PyDenseModelBitAcc line by line in Python
integers; the float reference follows PyLifModelFloat's order of operations.  1,000 substeps per network.
"""
from __future__ import annotations

import numpy as np
import pytest

from ec_neuro.backends.numpy import NumpyBackend
from ec_neuro.compilers.common import lower
from ec_neuro.sample.masks import initial_v, random_masks
from ec_neuro.compilers.quant import LoihiFixed, choose
from ec_neuro.spec import NetworkSpec, NeuronParams

STEPS = 1000


def trunc_div_4096(x: int) -> int:
    """sign(x) * (|x| >> 12), as Lava computes a decayed state."""
    return -((-x) >> 12) if x < 0 else x >> 12


def fixed_reference(W: np.ndarray, n_exc: int, q: LoihiFixed, bias: list[int], v0: list[int], steps: int):
    """One network, per neuron, Python ints. W (N, N) 0/1 [pre, post]; bias per neuron (effective)."""
    n = W.shape[0]
    sign = [1 if i < n_exc else -1 for i in range(n)]
    u, v, prev = [0] * n, list(v0), [0] * n
    us, vs, ss = [], [], []
    for _ in range(steps):
        a_in = [0] * n  # Dense: the weighted sum of last step's spikes, then the weight exponent
        for i in range(n):
            if prev[i]:
                for j in range(n):
                    if W[i, j]:
                        a_in[j] += sign[i] * q.w_mant
        spikes = [0] * n
        for j in range(n):
            a = a_in[j] << q.w_exp if q.w_exp >= 0 else a_in[j] >> -q.w_exp
            cur = trunc_div_4096(u[j] * (4096 - (q.du + 1))) + (a << 6)
            if cur > 2**23:
                cur -= 2**24
            elif cur <= -(2**23):
                cur += 2**24
            u[j] = cur
            volt = trunc_div_4096(v[j] * (4096 - q.dv)) + cur + bias[j]
            volt = max(-(2**23) + 1, min(2**23 - 1, volt))
            if volt > (q.vth_mant << 6):
                spikes[j], volt = sign[j], 0
            v[j] = volt
        prev = spikes
        us.append(list(u)), vs.append(list(v)), ss.append(spikes)
    return np.array(us), np.array(vs), np.array(ss)


def float_reference(W: np.ndarray, n_exc: int, c, bias: np.ndarray, v0: np.ndarray, steps: int):
    """One network in float64, Lava's floating_pt order: u = u*(1-du); u += a_in; v = v*(1-dv) + u + bias."""
    n = W.shape[0]
    sign = np.where(np.arange(n) < n_exc, 1.0, -1.0)
    weights = (W * sign[:, None] * c.w).T  # [post, pre], as Lava's Dense holds them
    u, v, prev = np.zeros(n), v0.copy(), np.zeros(n, bool)
    us, vs, ss = [], [], []
    for _ in range(steps):
        a_in = weights[:, prev].sum(axis=1)
        u = u * (1 - c.du)
        u = u + a_in
        v = v * (1 - c.dv) + u + bias
        z = v > c.vth
        v = np.where(z, 0.0, v)
        prev = z
        us.append(u), vs.append(v), ss.append(np.where(z, sign, 0))
    return np.array(us), np.array(vs), np.array(ss)


CASES = [  # (n_neurons, exc_ratio, connection probability, bias level, custom Loihi params or None)
    (256, 0.5, 0.5, 0.6, None),
    (64, 0.5, 0.2, 1.0, None),
    (48, 0.75, 0.5, 1.0, None),
    (40, 0.25, 0.8, 2.0, None),
    (32, 0.5, 0.5, 1.0, dict(w_mant=254, w_exp=3, du=4000, dv=10, vth_mant=131071, bias_exp=7)),  # wraps u, clips v
    (32, 0.5, 0.3, 12.0, dict(w_mant=6, w_exp=-2, du=0, dv=4095, vth_mant=3, bias_exp=0)),  # negative exponent
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_fixed_point_equals_integer_reference(case: int) -> None:
    n, exc, p, level, custom = CASES[case]
    spec = NetworkSpec(n_obs=2, n_act=1, n_neurons=n, exc_ratio=exc, neuron=NeuronParams(control_dt=0.5))
    masks = random_masks(spec, 1, seed=case, p=p)
    q = choose(spec)
    if custom:
        q = LoihiFixed(scale=q.scale, **custom)
    low = lower(spec, masks, "fixed", fixed=q)
    rng = np.random.default_rng(case)
    v0 = initial_v(n, case, 0, np.arange(1))
    bias = np.rint(rng.uniform(-0.2, 1.0, size=(1, n)) * level * q.vth / 8).astype(np.int64)
    be = NumpyBackend()
    trace = be.open_loop(be.compile(low), v0, np.repeat(bias[None], STEPS, axis=0))
    u, v, s = fixed_reference(masks.W_h[0], spec.n_exc, q, bias[0].tolist(), low.initial_v(v0)[0].tolist(), STEPS)
    assert np.abs(s).sum() > 0, "the reference network never spiked: the case tests nothing"
    np.testing.assert_array_equal(trace.s[:, 0], s)
    np.testing.assert_array_equal(trace.u[:, 0], u)
    np.testing.assert_array_equal(trace.v[:, 0], v)


@pytest.mark.parametrize("case", range(4))
def test_float_equals_reference(case: int) -> None:
    n, exc, p, level, _ = CASES[case]
    spec = NetworkSpec(n_obs=2, n_act=1, n_neurons=n, exc_ratio=exc, neuron=NeuronParams(control_dt=0.5))
    masks = random_masks(spec, 1, seed=case, p=p)
    low = lower(spec, masks, "float")
    rng = np.random.default_rng(case)
    v0 = initial_v(n, case, 0, np.arange(1))
    bias = rng.uniform(-0.2, 1.0, size=(1, n)) * level / 8
    be = NumpyBackend()
    trace = be.open_loop(be.compile(low), v0, np.repeat(bias[None], STEPS, axis=0))
    u, v, s = float_reference(masks.W_h[0], spec.n_exc, low.flt, bias[0], v0[0], STEPS)
    assert np.abs(s).sum() > 0
    np.testing.assert_array_equal(trace.s[:, 0], s)
    np.testing.assert_array_equal(trace.u[:, 0], u)
    np.testing.assert_array_equal(trace.v[:, 0], v)


@pytest.mark.parametrize("P, K, N", [(1, 2, 256), (3, 7, 40), (130, 5, 33)])  # odd K: the unrolled tail; P >= 128: parallel
def test_input_current_equals_reference(P: int, K: int, N: int) -> None:
    """i_in[p, j] = R_in * sum_k T[p, k, j] * x[p, k] as one float64 sum per neuron, k ascending, in Python."""
    from ec_neuro.compilers import codec
    from ec_neuro.compilers.common import ternary
    rng = np.random.default_rng(K)
    W_in = (rng.random((P, 2 * K, N)) < 0.5).astype(np.uint8)
    x = rng.normal(size=(P, K)) * 3
    x[:, 0] = 0.0
    out = np.empty((P, N))
    active = np.ones(P, bool)
    active[1::3] = False  # an inactive member's row is 0, the others' unchanged
    codec.input_current(ternary(W_in, K), x, 0.37, active, out)
    assert not out[~active].any()
    T = W_in[:, :K].astype(int) - W_in[:, K:].astype(int)
    for p in np.flatnonzero(active)[::max(1, P // 4)]:
        for j in range(N):
            acc = 0.0
            for k in range(K):
                acc += T[p, k, j] * float(x[p, k])
            assert out[p, j] == 0.37 * acc


@pytest.mark.parametrize("rate", [0.0, 0.025, 0.3, 1.0])
def test_spike_indices_are_the_flagged_neurons_in_order(rate: float) -> None:
    """The substep kernels' scan (a trailing-zero count per flagged byte) lists exactly np.flatnonzero's indices."""
    from numba import njit
    from ec_neuro.compilers.codec import spike_indices
    scan = njit(lambda fl, idx: spike_indices(fl, fl.view(np.uint64), idx))
    rng = np.random.default_rng(int(rate * 1000))
    for N in (8, 64, 200, 256):
        fl = np.zeros(-(-N // 8) * 8, np.uint8)
        fl[:N] = rng.random(N) < rate
        idx = np.full(N, -1, np.int64)
        m = scan(fl, idx)
        np.testing.assert_array_equal(idx[:m], np.flatnonzero(fl))


def test_encode_equals_input_current_then_quantize() -> None:
    """Lowered.encode fuses the bias: float = input_current * dv, fixed = quantize_bias(q, that), bit for bit,
    saturation count included (inputs large enough to saturate, a NaN observation, zeros)."""
    from ec_neuro.compilers.quant import quantize_bias
    spec = NetworkSpec(n_obs=9, n_act=2, n_neurons=24)
    masks = random_masks(spec, 5, seed=3)
    x = np.random.default_rng(0).normal(size=(5, 9)) * 40
    x[1] = 0.0
    x[2, 4] = np.nan
    for prec in ("float", "fixed"):
        low = lower(spec, masks, prec)
        got = low.encode(x)
        cur = low.input_current(x) * low.flt.dv
        if prec == "float":
            np.testing.assert_array_equal(got.view(np.uint64), cur.view(np.uint64))
        else:
            with np.errstate(invalid="ignore"):  # numpy's cast of the NaN
                want, sat = quantize_bias(low.fixed, cur)
            assert sat > 0 and low.bias_saturated == sat
            np.testing.assert_array_equal(got, want)
        # the closed loop encodes and decodes only the members still playing: theirs unchanged, the others 0,
        # and a finished member's saturation is not counted
        active = np.array([True, False, True, False, True])
        before = low.bias_saturated
        part = low.encode(x, active)
        np.testing.assert_array_equal(part[active], got[active])
        assert not part[~active].any()
        if prec == "fixed":
            _, sat_active = quantize_bias(low.fixed, cur[active])
            assert low.bias_saturated - before == sat_active < sat
        r = np.random.default_rng(1).random((5, 24))
        np.testing.assert_array_equal(low.decode(r, active)[active], low.decode(r)[active])
        assert not low.decode(r, active)[~active].any()
