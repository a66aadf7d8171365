"""Run a netx HDF5 file with lava-dl's own loader (`netx.hdf5.Network`) under Loihi2SimCfg fixed_pt.

Two drivers, both recording with Lava Monitors:

    open_loop(path, v0, bias_mant)      an ec-neuro netx file (`ec_neuro.deploy.netx`): layer 0's LIF gets
                                        v0 before compilation and bias_mant[t] (netx exponent 6) before each
                                        control step of K timesteps; returns u, v (T*K, N) and signed s
    spikes(path, x, window=None)        any netx file fed input spikes x (C, L) through `Network.inp` (a
                                        RingBuffer), e.g. lava-dl's own SLAYER export; with `window`, the run
                                        pauses every `window` timesteps and zeroes every LIF's u, v and every
                                        synapse's spikes in flight (a_buff), so each window starts clean as
                                        SLAYER's per-sample forward does; returns each layer's spikes (L, n_i)

Lava forks one process per Lava process and switches multiprocessing to 'fork' when imported, so tests and the
CLI use `run_subprocess` (a fresh interpreter that exits): `python -m ec_neuro.deploy.netx_lava MODE FILE IN OUT`.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingExtra, UserError


def _lava_dl() -> Any:
    try:
        from lava.lib.dl import netx
    except ModuleNotFoundError as e:
        raise MissingExtra("running a netx file", "lava.lib.dl" if e.name and e.name.startswith("lava") else
                           (e.name or "lava"), "dl") from None
    return netx


def _monitor(var: Any, steps: int) -> Any:
    from lava.proc.monitor.process import Monitor
    m = Monitor()
    m.probe(var, steps)
    return m


def _data(m: Any, proc: Any, var: Any) -> np.ndarray:
    return np.asarray(m.get_data()[proc.name][var.name])


def open_loop(path: str | Path, v0: np.ndarray, bias_mant: np.ndarray, substeps: int,
              sign: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Layer 0 of `path` for T = len(bias_mant) control steps of `substeps` timesteps: u, v int64, s int8
    (signed by `sign`, +1 E / -1 I, when given)."""
    netx = _lava_dl()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    bias_mant = np.asarray(bias_mant, np.int64)
    T, K = bias_mant.shape[0], int(substeps)
    net = netx.hdf5.Network(net_config=str(path))
    lif = net.layers[0].neuron
    lif.v.init = np.asarray(v0, np.int64)
    lif.bias_mant.init = bias_mant[0]
    mons = {name: _monitor(getattr(lif, name), T * K) for name in ("u", "v", "s_out")}
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    try:
        for t in range(T):
            if t:
                lif.bias_mant.set(bias_mant[t])
            net.run(condition=RunSteps(num_steps=K), run_cfg=cfg)
        out = {name: _data(m, lif, getattr(lif, name)).astype(np.int64) for name, m in mons.items()}
    finally:
        net.stop()
    s = out.pop("s_out")
    if sign is not None:
        s = s * np.asarray(sign, np.int64)[None, :]
    out["s"] = s.astype(np.int8)
    return out


def _state_vars(net: Any) -> list[Any]:
    """Every LIF's u, v and every synapse's buffered spikes of a netx Network."""
    out = []
    for layer in net.layers:
        out += [layer.neuron.u, layer.neuron.v]
        for name in ("synapse", "synapse_rec"):
            syn = getattr(layer, name, None)
            if syn is not None and hasattr(syn, "a_buff"):
                out.append(syn.a_buff)
    return out


def spikes(path: str | Path, x: np.ndarray, window: int | None = None) -> dict[str, np.ndarray]:
    """Feed spikes x (C, L) into `Network.inp`; returns {"s0": (L, n_0), "s1": ...} int8 per layer."""
    netx = _lava_dl()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer
    x = np.asarray(x)
    L = x.shape[1]
    W = L if window is None else int(window)
    if L % W:
        raise UserError(f"netx spikes: stream length {L} is not a multiple of the window {W}")
    net = netx.hdf5.Network(net_config=str(path))
    src = RingBuffer(data=x.astype(np.int32))
    src.s_out.connect(net.inp)
    mons = [(_monitor(layer.neuron.s_out, L), layer.neuron) for layer in net.layers]
    state = _state_vars(net) if window is not None else []
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    try:
        for k in range(L // W):
            if k:
                for var in state:
                    var.set(np.zeros(var.shape, np.int64))
            net.run(condition=RunSteps(num_steps=W), run_cfg=cfg)
        out = {f"s{i}": _data(m, n, n.s_out).astype(np.int8) for i, (m, n) in enumerate(mons)}
    finally:
        net.stop()
    return out


def run_subprocess(mode: str, path: str | Path, timeout: float = 600.0, **arrays: Any) -> dict[str, np.ndarray]:
    """`open_loop` (arrays v0, bias_mant, substeps[, sign]) or `spikes` (x[, window]) in a fresh interpreter."""
    if mode not in ("open_loop", "spikes"):
        raise ValueError(f"unknown mode {mode!r}")
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "in.npz", Path(d) / "out.npz"
        np.savez(src, **{k: np.asarray(v) for k, v in arrays.items() if v is not None})
        res = subprocess.run([sys.executable, "-m", "ec_neuro.deploy.netx_lava", mode, str(path), str(src), str(dst)],
                             capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise UserError(f"netx run of {path} failed: {tail[0]}")
        with np.load(dst) as z:
            return {k: z[k] for k in z.files}


def open_loop_subprocess(path: str | Path, v0: np.ndarray, bias_mant: np.ndarray, substeps: int,
                         sign: np.ndarray | None = None) -> dict[str, np.ndarray]:
    return run_subprocess("open_loop", path, v0=v0, bias_mant=bias_mant, substeps=substeps, sign=sign)


def main(argv: list[str]) -> int:
    mode, path, src, dst = argv
    with np.load(src) as z:
        a = {k: z[k] for k in z.files}
    if mode == "open_loop":
        out = open_loop(path, a["v0"], a["bias_mant"], int(a["substeps"]), a.get("sign"))
    else:
        out = spikes(path, a["x"], int(a["window"]) if "window" in a else None)
    np.savez(dst, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
