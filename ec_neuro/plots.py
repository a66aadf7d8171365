"""Figures (matplotlib, Agg): learning curves, spike rasters, connection probabilities, E/I connectivity.

`run_figures(run_dir, out)` draws the four PNGs of `ecneuro plot`; `crosscheck_figure` draws the rasters
of `ecneuro crosscheck` side by side with the divergence marked.  Colours: E red, I blue throughout.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import MissingExtra, UserError

E_COLOUR, I_COLOUR = "#c0392b", "#2166ac"


def _plt() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise MissingExtra("plotting", "matplotlib", "plot") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def raster(ax: Any, s: np.ndarray, n_exc: int, K: int, mark: int | None = None, size: float = 1.5) -> None:
    """Spikes s (substeps, N) as dots, E red below I blue; x in control steps; `mark` = a substep to flag."""
    t, j = np.nonzero(s)
    exc = j < n_exc
    ax.scatter(t[exc] / K, j[exc], s=size, c=E_COLOUR, marker="|", linewidths=0.6, label="E")
    ax.scatter(t[~exc] / K, j[~exc], s=size, c=I_COLOUR, marker="|", linewidths=0.6, label="I")
    ax.axhline(n_exc - 0.5, color="0.7", lw=0.5)
    ax.set_xlim(0, s.shape[0] / K)
    ax.set_ylim(-0.5, s.shape[1] - 0.5)
    ax.set_xlabel("control step")
    if mark is not None:
        ax.axvline(mark / K, color="k", ls="--", lw=1.2)


def learning_curves(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """best, mean and deterministic return against generation and against wall time."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    gen = np.array([r["generation"] for r in rows])
    wall = np.array([r.get("wall_time", np.nan) for r in rows])
    for ax, x, xl in ((axes[0], gen, "generation"), (axes[1], wall, "wall time (s)")):
        for key, style, label in (("best", "-", "best member"), ("mean", "-", "population mean"),
                                  ("det_return", "-o", "deterministic (rho > 0.5)")):
            y = np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)
            ax.plot(x, y, style, ms=3, label=label)
        ax.set_xlabel(xl)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("episode return")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def rho_histogram(rho: np.ndarray, shapes: dict[str, tuple[int, int]], path: Path, title: str) -> Path:
    """Histogram of connection probabilities per group; rho is flat in the order W_in, W_h, W_out."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(shapes), figsize=(4 * len(shapes), 3.4))
    start = 0
    for ax, (name, (a, b)) in zip(axes, shapes.items()):
        part = rho[start:start + a * b]
        start += a * b
        ax.hist(part, bins=40, range=(0, 1), color="0.35")
        ax.axvline(0.5, color="k", ls=":", lw=1)
        ax.set_title(f"{name} ({a}x{b}): {np.mean(part > 0.5):.1%} deployed")
        ax.set_xlabel("connection probability rho")
    axes[0].set_ylabel("connections")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def connectivity(W_in: np.ndarray, W_h: np.ndarray, W_out: np.ndarray, n_exc: int, path: Path, title: str) -> Path:
    """The deployed 1-bit matrices; W_h (pre, post) coloured by the presynaptic sign: E red, I blue."""
    plt = _plt()
    from matplotlib.colors import ListedColormap
    N = W_h.shape[0]
    signed = W_h.astype(int) * np.where(np.arange(N) < n_exc, 1, -1)[:, None]
    fig = plt.figure(figsize=(10, 7.5))
    side = max(N // 8, 4)
    grid = fig.add_gridspec(2, 2, width_ratios=[N, side], height_ratios=[side, N])
    ax_in, ax_h, ax_out = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    ax_h.imshow(signed, cmap=ListedColormap([I_COLOUR, "white", E_COLOUR]), vmin=-1, vmax=1, interpolation="nearest",
                aspect="auto")
    ax_h.axhline(n_exc - 0.5, color="k", lw=0.6)
    ax_h.set_xlabel("postsynaptic neuron")
    ax_h.set_ylabel("presynaptic neuron (E above the line, I below)")
    ax_h.set_title(f"W_h: {int(W_h[:n_exc].sum())} E and {int(W_h[n_exc:].sum())} I connections", fontsize=9)
    ax_in.imshow(W_in, cmap="Greys", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    ax_in.set_ylabel("input [x, -x]")
    ax_in.set_title(f"W_in: {int(W_in.sum())} connections", fontsize=9)
    ax_out.imshow(W_out, cmap="Greys", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    ax_out.set_xlabel("action")
    ax_out.set_title(f"W_out:\n{int(W_out.sum())}", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def episode_raster(s: np.ndarray, n_exc: int, K: int, path: Path, title: str) -> Path:
    """Spike raster of one episode, s (substeps, N)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 5))
    raster(ax, s, n_exc, K, size=2.0)
    ax.set_ylabel("neuron (E below the line, I above)")
    ax.legend(loc="upper right", markerscale=4, fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def crosscheck_figure(report: dict[str, Any], spikes: dict[str, np.ndarray], n_exc: int, K: int, path: Path) -> Path:
    """One raster per run (spikes[key]: (substeps, N)), each titled with its verdict against its reference."""
    plt = _plt()
    keys = list(spikes)
    verdict = {p["a"]: p for p in report["pairs"] if p["kind"] == "bit-exact"}
    stat = {p["a"]: p for p in report["pairs"] if p["kind"] == "statistical"}
    cols = min(len(keys), 4)
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False, sharey=True)
    for ax, key in zip(axes.flat, keys):
        pair = verdict.get(key) or stat.get(key)
        mark = pair["first_divergence_substep"] if pair else None
        raster(ax, spikes[key], n_exc, K, mark=mark, size=1.0)
        if pair is None:
            sub = "reference"
        elif pair["kind"] == "bit-exact":
            sub = "bit-identical to " + pair["b"] if pair["passed"] else f"DIFFERS at substep {mark} (dashed)"
        else:
            sub = f"vs {pair['b']}: parts at substep {mark}, " + ("rates agree" if pair["passed"] else "RATES DIFFER")
        ax.set_title(f"{key}\n{sub}", fontsize=9, color="k" if (pair is None or pair["passed"]) else "#b00")
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("neuron")
    fig.suptitle("crosscheck: " + ("PASSED" if report["passed"] else "FAILED"), fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise UserError(f"{path}: missing ({what}); is this an ec-neuro run directory?")
    return path
