"""`ecneuro plot RUN_DIR`: learning curves, a spike raster of one episode, rho histograms, E/I connectivity."""
from __future__ import annotations

import zipfile
from pathlib import Path

import click
import numpy as np

from .. import deployed, plots
from ..errors import UserError
from ..host.checkpoint import read_jsonl


def _rho(run_dir: Path) -> np.ndarray:
    """The flat connection probabilities (W_in, W_h, W_out) of the last checkpoint."""
    path = plots.require_file(run_dir / "checkpoint.npz", "the training checkpoint")
    try:
        with np.load(path, allow_pickle=False) as z:
            return np.asarray(z["rho"], dtype=np.float64)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"{path}: unreadable checkpoint ({e.__class__.__name__}: {e})") from None


def episode_spikes(net: deployed.Deployed, steps: int, seed: int) -> np.ndarray:
    """Spikes (substeps, N) of one episode: recorded closed loop on numpy/float, replayed open loop (identical)."""
    from .. import crosscheck as cc
    from ..backends.numpy import NumpyBackend
    from ..compilers.common import lower
    from ..connectivity import initial_v
    x = cc.task_stimulus(net, steps, seed)
    low = lower(net.spec, net.masks, "float")
    be = NumpyBackend()
    bias = np.stack([low.encode(xt[None]) for xt in x])
    tr = be.open_loop(be.compile(low), initial_v(net.spec.n_neurons, cc.V0_SEED, 0, np.arange(1)), bias)
    return np.asarray(tr.s[:, 0])


@click.command("plot")
@click.argument("run_dir", type=click.Path())
@click.option("--out", type=click.Path(file_okay=False), default=None, help="output directory (default RUN_DIR/plots)")
@click.option("--steps", type=int, default=200, show_default=True, help="control steps of the raster episode (at most)")
@click.option("--seed", type=int, default=0, show_default=True, help="environment seed of the raster episode")
def plot(run_dir: str, out: str | None, steps: int, seed: int) -> None:
    """Draw the PNGs of a run: learning_curves, raster, rho_hist, connectivity.

    learning_curves: best, mean and deterministic return against generation and wall time (metrics.jsonl);
    raster: the deployed network (best.npz) on one episode, E red, I blue; rho_hist: the connection
    probabilities per group (checkpoint.npz); connectivity: the deployed 1-bit matrices.
    """
    rd = Path(run_dir)
    if not rd.is_dir():
        raise UserError(f"{rd}: no such run directory")
    if steps < 1:
        raise UserError(f"--steps must be at least 1, got {steps}")
    rows = read_jsonl(plots.require_file(rd / "metrics.jsonl", "per-generation metrics"))
    if not rows:
        raise UserError(f"{rd / 'metrics.jsonl'}: no generation finished yet")
    net = deployed.load_run(rd)
    rho = _rho(rd)
    spec = net.spec
    if rho.shape[0] != spec.n_connections:
        raise UserError(f"{rd}: checkpoint has {rho.shape[0]} probabilities, the network has {spec.n_connections}")
    out_dir = Path(out) if out else rd / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{net.task or 'network'} ({rd.name})"
    files = [plots.learning_curves(rows, out_dir / "learning_curves.png", f"EC on {name}")]
    gen = net.meta.get("generation")
    s = episode_spikes(net, steps, seed)
    files.append(plots.episode_raster(s, spec.n_exc, spec.neuron.substeps, out_dir / "raster.png",
                                      f"deployed network (rho > 0.5, generation {gen}) on one {net.task} episode: "
                                      f"{len(s) // spec.neuron.substeps} control steps, {int((s != 0).sum())} spikes"))
    files.append(plots.rho_histogram(rho, spec.group_shapes, out_dir / "rho_hist.png",
                                     f"connection probabilities after generation {rows[-1]['generation']}"))
    files.append(plots.connectivity(net.masks.W_in[0], net.masks.W_h[0], net.masks.W_out[0], spec.n_exc,
                                    out_dir / "connectivity.png", f"deployed connectivity, {name}"))
    for f in files:
        click.echo(str(f))
