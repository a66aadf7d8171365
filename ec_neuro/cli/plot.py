"""`ecneuro plot RUN_DIR`: learning curves, a spike raster of one episode, rho histograms, E/I connectivity."""
from __future__ import annotations

import click

from .options import backend_option, parse_pairs


@click.command("plot")
@click.argument("run_dir", type=click.Path())
@click.option("--out", type=click.Path(file_okay=False), default=None, help="output directory  [default: RUN_DIR/plots]")
@click.option("--steps", type=int, default=200, show_default=True, help="control steps of the raster episode (at most)")
@click.option("--seed", type=int, default=0, show_default=True, help="environment seed of the raster episode")
@click.option("--backend", default="numpy", show_default=True, help="backend the raster episode is replayed on")
@backend_option
def plot(run_dir: str, out: str | None, steps: int, seed: int, backend: str, backend_options: tuple) -> None:
    """Draw the PNGs of a run: learning_curves, raster, rho_hist, connectivity.

    learning_curves: best, mean and deterministic return against generation and wall time (metrics.jsonl);
    raster: the deployed network (best.npz) on one episode, E red, I blue; rho_hist: the connection
    probabilities per group (checkpoint.npz); connectivity: the deployed 1-bit matrices.
    """
    from ..analysis.plots import plot_run
    for path in plot_run(run_dir, out, steps, seed, backend, parse_pairs(backend_options, "--backend-option")):
        click.echo(str(path))
