"""Rebuild the Lava process graph of a Loihi bundle from the file alone, and run it (stock `fixed_pt` models).

    LIF(N; du, dv, vth=vth_mant, bias_exp, u=0, v=v0)  --s_out-->  Sparse(W (N_post, N_pre) = sign[pre] * w_mant,
        weight_exp=w_exp, num_weight_bits=8)  --a_out-->  LIF.a_in            (one-timestep delay, as on Loihi 2)

`open_loop` holds bias_mant (T, N) for K timesteps each (set between runs) and records u, v, spikes with
Lava Monitors.  Importing Lava switches multiprocessing to 'fork' and forks one process per Lava process,
so `open_loop_subprocess` (what tests and the CLI use) runs everything in a fresh interpreter that exits.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingExtra, UserError
from .loihi import LoihiBundle, read


def build(b: LoihiBundle, v0: np.ndarray, bias_mant: np.ndarray | None = None) -> tuple[Any, Any]:
    """The (LIF, Sparse) pair of `b`, connected recurrently; v0, bias_mant (N,) integers (bias default 0)."""
    try:
        from lava.proc.lif.process import LIF
        from lava.proc.sparse.process import Sparse
    except ModuleNotFoundError:
        raise MissingExtra("the Loihi bundle loader", "lava", "lava") from None
    from scipy.sparse import csr_matrix
    q = b.q
    lif = LIF(shape=(b.n_neurons,), u=0, v=np.asarray(v0, np.int64), du=q.du, dv=q.dv, vth=q.vth_mant,
              bias_mant=np.zeros(b.n_neurons, np.int64) if bias_mant is None else np.asarray(bias_mant, np.int64), bias_exp=q.bias_exp, name="ec_lif")
    syn = Sparse(weights=csr_matrix(b.weights()), weight_exp=q.w_exp, num_weight_bits=8, num_message_bits=0,
                 name="ec_rec")
    lif.s_out.connect(syn.s_in)
    syn.a_out.connect(lif.a_in)
    return lif, syn


def open_loop(b: LoihiBundle, v0: np.ndarray, bias_mant: np.ndarray) -> dict[str, np.ndarray]:
    """Run T control steps of K timesteps; returns u, v (T*K, N) int64 and s (T*K, N) int8 signed."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.monitor.process import Monitor
    T, K = bias_mant.shape[0], b.substeps
    lif, syn = build(b, v0, bias_mant[0])
    mons = {}
    for name in ("u", "v", "s_out"):
        mons[name] = Monitor()
        mons[name].probe(getattr(lif, name), T * K)
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    try:
        for t in range(T):
            if t:
                lif.bias_mant.set(np.asarray(bias_mant[t], np.int64))
            lif.run(condition=RunSteps(num_steps=K), run_cfg=cfg)
        data = {name: np.asarray(m.get_data()[lif.name][getattr(lif, name).name]) for name, m in mons.items()}
    finally:
        lif.stop()
    s = data["s_out"].astype(np.int64) * b.sign[None, :]
    return {"u": data["u"].astype(np.int64), "v": data["v"].astype(np.int64), "s": s.astype(np.int8)}


def open_loop_subprocess(bundle_path: str | Path, v0: np.ndarray, bias_mant: np.ndarray,
                         timeout: float = 300.0) -> dict[str, np.ndarray]:
    """`open_loop` of the bundle file in a fresh Python process (Lava's forks all end with it)."""
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "in.npz", Path(d) / "out.npz"
        np.savez(src, v0=np.asarray(v0, np.int64), bias_mant=np.asarray(bias_mant, np.int64))
        res = subprocess.run([sys.executable, "-m", "ec_neuro.deploy.loihi_lava", str(bundle_path), str(src), str(dst)],
                             capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise UserError(f"Lava run of {bundle_path} failed: {tail[0]}")
        with np.load(dst) as z:
            return {k: z[k] for k in z.files}


def main(argv: list[str]) -> int:
    """`python -m ec_neuro.deploy.loihi_lava BUNDLE IN.npz OUT.npz` (IN holds v0 (N,), bias_mant (T, N))."""
    bundle_path, src, dst = argv
    b = read(bundle_path)
    with np.load(src) as z:
        out = open_loop(b, z["v0"], z["bias_mant"])
    np.savez(dst, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
