"""netx export: a deployed network as the HDF5 that lava-dl's `lava.lib.dl.netx.hdf5.Network` loads.

netx reads `/layer/<i>` only; everything else in the file is ignored by it (the `/ecneuro` group here):

    /layer/0   type "dense_rec" (RecurrentDense: a CUBA LIF, an input Dense and a recurrent Dense)
        shape        [N]
        neuron/      type "CUBA", iDecay = du + 1, vDecay = dv, vThMant = vth_mant, refDelay 1, gradedSpike 0
        weight       (N, 2 n_obs) int64, all zero (netx never connects the input port of a network's first
                     layer; the input current arrives as the LIF bias instead, see below)
        weight_rec   (N_post, N_pre) int64 = sign[pre] * (w_mant << w_exp), or w_mant >> -w_exp
        bias         (N,) int64 zero (the host writes bias_mant every control step)
    /ecneuro   attrs: format "ec-neuro/netx", version, the Loihi bundle header (JSON: sizes, timing, the
               `ec_neuro.compilers.quant` integers, the input and readout rules and their float constants),
               netx_bias_shift; datasets W_in (2 n_obs, N), W_h (N, N) [pre, post], W_out (N, n_act) bool,
               obs_mean, obs_std

What netx does with the file, and why each field is written as it is (all read in lava-dl 0.6.0's
`netx/hdf5.py` and measured, docs/export.md "netx"):
* du: netx passes du = iDecay - 1 to Lava's LIF, so iDecay = du + 1. vDecay = dv, vThMant = vth_mant (<< 6).
* weights: netx ignores any exponent in the file and derives its own (`utils.optimize_weight_bits` on the
  [weight, weight_rec] hstack: +-64 becomes +-128 with exponent -1). That is exact because Lava truncates only
  after summing, so the integers written are the effective weights w_mant << w_exp.  An ec-neuro w_exp < 0
  floors the *sum* (cnt * w_mant) >> -w_exp, which has a netx form only when w_mant is divisible by 2^-w_exp.
* bias: netx hard-codes bias_exp = 6.  ec-neuro's quantiser picks bias_exp per network (7 at N = 256, 6 at
  N = 64..128, 5 below 64); the effective bias (bias_mant << bias_exp) is a multiple of 2^6 only when
  bias_exp >= 6, so a network with bias_exp < 6 is refused (netx would round its input: measured, the
  membrane differs at the first substep).
* no `delay` (netx would switch to DelayDense); Lava's Dense has the one-timestep delay of ec-neuro's
  recurrent connections.  The file carries no state: u = 0, and v0 is set on the LIF before the first run.

Host side, per control step: bias_mant_netx = (ec-neuro's encoder, `LoihiBundle.encode`) << (bias_exp - 6),
written into `layers[0].neuron.bias_mant` and held for K timesteps; readout on the host from the spikes
(r <- a_out r + c_out s, action = clip(R_out W_out^T r, -1, 1)), the `readout` rule of the bundle header.
`ec_neuro.deploy.netx_lava` runs a file this way (`open_loop_subprocess`); `read` returns its bundle.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingExtra, UserError
from .deployed import Deployed
from .loihi import LoihiBundle, from_deployed, header, validate

FORMAT = "ec-neuro/netx"
VERSION = 1
NETX_BIAS_EXP = 6          # hard-coded by netx.hdf5.Network.get_neuron_params
BIAS_MANT_MAX = 4095       # Loihi 2's 13-bit signed bias mantissa
NETX_WEIGHT_MAX = 254      # the largest weight netx/Lava keep unclipped in MIXED sign mode


def _h5py() -> Any:
    try:
        import h5py
    except ModuleNotFoundError:
        raise MissingExtra("netx export", "h5py", "nir") from None
    return h5py


def effective_weight(b: LoihiBundle) -> int:
    """The integer weight of one connection that netx/Lava sums exactly as ec-neuro's fixed point does."""
    q = b.q
    if q.w_exp >= 0:
        w = q.w_mant << q.w_exp
    elif q.w_mant % (1 << -q.w_exp) == 0:
        w = q.w_mant >> -q.w_exp          # floor(cnt * w_mant / 2^k) == cnt * (w_mant / 2^k) exactly
    else:
        raise UserError(f"netx export: weight w_mant={q.w_mant} with w_exp={q.w_exp} floors the summed input "
                        f"(cnt * w_mant) >> {-q.w_exp}, which netx (it derives its own exponent from integer "
                        "weights) cannot express; use w_exp >= 0 or a w_mant divisible by 2^-w_exp")
    if w > NETX_WEIGHT_MAX:
        raise UserError(f"netx export: effective weight w_mant << w_exp = {w} exceeds {NETX_WEIGHT_MAX}, "
                        "which netx clips (MIXED sign mode)")
    return w


def check(b: LoihiBundle) -> None:
    """Refuse, with the reason, a network that netx cannot run bit for bit like `--backend lava-sim`."""
    validate(b)
    if b.q.bias_exp < NETX_BIAS_EXP:
        raise UserError(
            f"netx export: this network's input quantises with bias_exp={b.q.bias_exp} ({b.n_neurons} neurons; "
            f"ec-neuro picks 5 below 64 neurons, 6 up to 128, 7 at 256), but netx hard-codes bias_exp = "
            f"{NETX_BIAS_EXP}, so it would round every input current and run a different network. "
            "Export it with --format loihi (the bundle carries bias_exp), or use a network of >= 64 neurons")
    effective_weight(b)
    if not b.W_h.any():
        raise UserError("netx export: the network has no recurrent connection (netx cannot size the weights "
                        "of an all-zero layer)")


def netx_weights(b: LoihiBundle) -> np.ndarray:
    """weight_rec (N_post, N_pre) int64: sign[pre] * effective_weight where connected."""
    return (b.W_h.T.astype(np.int64) * (b.sign * effective_weight(b))[None, :]).astype(np.int64)


def netx_bias(b: LoihiBundle, bias_mant: np.ndarray) -> np.ndarray:
    """ec-neuro bias mantissas (exponent b.q.bias_exp, `LoihiBundle.encode`) -> netx's (exponent 6), exact."""
    return np.asarray(bias_mant, np.int64) << (b.q.bias_exp - NETX_BIAS_EXP)


def encode(b: LoihiBundle, x: np.ndarray) -> np.ndarray:
    """Normalised observations (P, n_obs) -> the bias_mant (P, N) to write into the netx LIF."""
    return netx_bias(b, b.encode(x))


def _str(g: Any, key: str, value: str) -> None:
    g.create_dataset(key, (1,), "S10", [value.encode("ascii")])


def write(net: Deployed | LoihiBundle, path: str | Path) -> Path:
    """Write the netx HDF5 of `net` (quantised as `--backend lava-sim` runs it) to `path`, atomically."""
    h5py = _h5py()
    b = net if isinstance(net, LoihiBundle) else from_deployed(net)
    check(b)
    q, n, n_in = b.q, b.n_neurons, b.W_in.shape[0]
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with h5py.File(tmp, "w") as f:
            g = f.create_group("layer").create_group("0")
            _str(g, "type", "dense_rec")
            g.create_dataset("shape", data=np.array([n]))
            g.create_dataset("inFeatures", data=n_in)
            g.create_dataset("outFeatures", data=n)
            g.create_dataset("weight", data=np.zeros((n, n_in), np.int64))
            g.create_dataset("weight_rec", data=netx_weights(b))
            g.create_dataset("bias", data=np.zeros(n, np.int64))
            for key, val in {"type": "CUBA", "iDecay": q.du + 1, "vDecay": q.dv, "vThMant": q.vth_mant,
                             "refDelay": 1, "gradedSpike": False}.items():
                g.create_dataset(f"neuron/{key}", data=val)
            e = f.create_group("ecneuro")
            e.attrs["format"], e.attrs["version"] = FORMAT, VERSION
            e.attrs["bundle_header"] = json.dumps(header(b))
            e.attrs["netx_bias_shift"] = q.bias_exp - NETX_BIAS_EXP
            e.attrs["input_rule"] = ("bias_mant of layer 0 (netx exponent 6) = the bundle's bias_mant << "
                                     "netx_bias_shift, written every control step and held for `substeps` timesteps")
            e.attrs["readout_rule"] = "host: the bundle's readout rule applied to layer 0's spikes"
            for name, arr in (("W_in", b.W_in), ("W_h", b.W_h), ("W_out", b.W_out)):
                e.create_dataset(name, data=arr.astype(np.uint8))
            e.create_dataset("obs_mean", data=b.obs_mean)
            e.create_dataset("obs_std", data=b.obs_std)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read(path: str | Path) -> LoihiBundle:
    """The bundle of an ec-neuro netx file, checked against its netx layer; a bad file is a UserError."""
    h5py = _h5py()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            if "ecneuro" not in f or f["ecneuro"].attrs.get("format") != FORMAT:
                raise UserError(f"{path}: not an ec-neuro netx file (no /ecneuro group of format {FORMAT})")
            e = f["ecneuro"]
            h = json.loads(e.attrs["bundle_header"])
            arrays = {k: e[k][()] for k in ("W_in", "W_h", "W_out", "obs_mean", "obs_std")}
            layer = f["layer/0"]
            w_rec = layer["weight_rec"][()]
            idecay = int(layer["neuron/iDecay"][()])
    except UserError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise UserError(f"{path}: not a readable netx file ({type(err).__name__}: {str(err)[:200]})") from None
    from ..compilers.quant import LoihiFixed
    lif, syn = h["lif"], h["synapse"]
    q = LoihiFixed(du=lif["du"], dv=lif["dv"], vth_mant=lif["vth_mant"], w_mant=syn["w_mant"], w_exp=syn["w_exp"],
                   bias_exp=lif["bias_exp"], scale=float(h["scale"]))
    b = LoihiBundle(q, int(h["n_exc"]), arrays["W_in"].astype(bool), arrays["W_h"].astype(bool),
                    arrays["W_out"].astype(bool), int(h["substeps"]), float(h["dt_ms"]), float(h["control_dt_ms"]),
                    float(h["input"]["R_in"]), float(h["input"]["dv_float"]), float(h["readout"]["R_out"]),
                    float(h["readout"]["a_out"]), float(h["readout"]["c_out"]), arrays["obs_mean"],
                    arrays["obs_std"], h.get("task"))
    check(b)
    if idecay != q.du + 1 or not np.array_equal(w_rec, netx_weights(b)):
        raise UserError(f"{path}: the netx layer (iDecay, weight_rec) does not match the file's ec-neuro header")
    return b
