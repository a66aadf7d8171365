"""Run an ec-neuro NIR file in snnTorch 1.0.0 or Norse 1.1.0, loaded by the consumer's own importer, as written.

    out = run("snntorch" | "norse", path, x)      x: normalised observations (T, n_obs)
    out["z"] (T*K, N) 0/1 spikes of the LIF population, out["out"] (T*K, n_act) the graph output,
    out["actions"] (T, n_act) the file's readout rule applied to it (`nir.host_readout`, or the LI output)

The only things done outside the consumer are what the file's metadata says a user does: feed the input drive
d[t] = x[t] - a_syn x[t-1] (`nir.drive`, a_syn of the metadata) one substep per consumer step, and apply the
host readout.  The importers are called exactly as a user calls them (snnTorch: `import_from_nir(graph)`,
Norse: `from_nir(graph)` with its default dt); the LIF spikes are read with a forward hook on the module the
importer built.  Used by tests/test_nir_consumers.py and scripts/nir_consumers.py (the measured agreement).
"""
from __future__ import annotations

import io
import warnings
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingExtra, UserError
from .nir import _nir, drive, host_readout
from .nir_graph import decode

LIF_MODULES = {"snntorch": ("Synaptic", "RSynaptic"), "norse": ("CubaLIF", "CubaLIFBoxCell", "CubaLIFCell")}


def _torch() -> Any:
    try:
        import torch
    except ModuleNotFoundError:
        raise MissingExtra("running a NIR file in snnTorch/Norse", "torch", "dl") from None
    return torch


def load(consumer: str, path: str | Path, **kw: Any) -> Any:
    """The torch module the consumer's own importer builds from the file (`kw`: extra importer keywords)."""
    nir = _nir()
    graph = nir.read(str(path))
    buf = io.StringIO()
    with redirect_stdout(buf), warnings.catch_warnings():  # snnTorch prints, nirtorch warns (deprecations)
        warnings.simplefilter("ignore")
        if consumer == "snntorch":
            try:
                import snntorch.import_nir as sni
            except ModuleNotFoundError:
                raise MissingExtra("snnTorch's NIR importer", "snntorch", "dl") from None
            return sni.import_from_nir(graph, **kw)
        if consumer == "norse":
            try:
                import norse.torch
            except ModuleNotFoundError:
                raise MissingExtra("Norse's NIR importer", "norse", "dl") from None
            return norse.torch.from_nir(graph, **kw)
    raise UserError(f"unknown NIR consumer {consumer!r}; choose snntorch or norse")


def run(consumer: str, path: str | Path, x: np.ndarray, dtype: str = "float32", **kw: Any) -> dict[str, Any]:
    """Feed the drive of observations x (T, n_obs) substep by substep; spikes, outputs and actions."""
    torch = _torch()
    nir = _nir()
    meta = {k: decode(v) for k, v in (nir.read(str(path)).metadata or {}).items()}
    K, dt = int(meta["substeps_per_control_step"]), float(meta["dt"])
    model = load(consumer, path, **kw)
    if dtype == "float64":
        model = model.double()
    mods = [(name, m) for name, m in model.named_modules() if type(m).__name__ in LIF_MODULES[consumer]]
    if len(mods) != 1:
        raise RuntimeError(f"{consumer}: expected one LIF module, found {[(n, type(m).__name__) for n, m in mods]}")
    spikes: list[np.ndarray] = []

    def hook(_m: Any, _inp: Any, out: Any) -> None:
        z = out[0] if isinstance(out, tuple) else out
        spikes.append(z.detach().cpu().numpy().reshape(-1).copy())

    handle = mods[0][1].register_forward_hook(hook)
    d = drive(np.asarray(x, np.float64), float(meta["a_syn"]), K)
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    outs, state = [], None
    try:
        with torch.no_grad():
            for t in range(d.shape[0]):
                inp = torch.as_tensor(d[t:t + 1], dtype=tdtype)
                res = model(inp) if state is None else model(inp, state)
                y, state = res if isinstance(res, tuple) else (res, None)
                outs.append(y.detach().cpu().numpy().reshape(-1).astype(np.float64))
    finally:
        handle.remove()
    out = np.array(outs)
    if meta.get("readout_node") == "host":
        actions = host_readout(out, float(meta["a_out"]), dt, K)
    else:
        actions = np.clip(out[K - 1::K], -1.0, 1.0)
    return {"z": (np.array(spikes) > 0.5).astype(np.int8), "out": out, "actions": actions,
            "lif_module": f"{type(mods[0][1]).__module__}.{type(mods[0][1]).__name__}"}


def compare(z: np.ndarray, ref: np.ndarray) -> dict[str, Any]:
    """Spike agreement of consumer spikes z against ec-neuro's (both (L, N), 0/1)."""
    L = min(len(z), len(ref))
    z, ref = (np.asarray(z[:L]) > 0).astype(np.int8), (np.abs(np.asarray(ref[:L])) > 0).astype(np.int8)
    bad = np.flatnonzero((z != ref).any(axis=1))
    return {"substeps": int(L), "identical": bool(bad.size == 0 and len(z) == len(ref)),
            "first_divergence": int(bad[0]) if bad.size else None,
            "spike_bit_agreement": float(np.mean(z == ref)), "all_silent_baseline": float(np.mean(ref == 0)),
            "spikes_ref": int(ref.sum()), "spikes_consumer": int(z.sum())}
