"""Figures (matplotlib, Agg): learning curves, spike rasters, connection probabilities, E/I connectivity.

`plot_run(run_dir, out)` draws the PNGs of `ecneuro plot`; `crosscheck_figure` draws the rasters of
`ecneuro crosscheck` side by side with the divergence marked.  Colours: E red, I blue throughout.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingExtra, UserError

E_COLOUR, I_COLOUR = "#c0392b", "#2166ac"


def _plt() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise MissingExtra("plotting", "matplotlib", "plot") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(plt: Any, fig: Any, path: Path, dpi: int) -> None:
    """Write the figure as PNG atomically, then free it."""
    from .. import files
    try:
        files.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi))
    finally:
        plt.close(fig)


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


def learning_curves(rows: list[dict[str, Any]], path: Path, title: str, deployed: str = "rho > 0.5") -> Path:
    """best, mean and deterministic return against generation and against wall time."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    gen = np.array([r["generation"] for r in rows])
    wall = np.array([r.get("wall_time", np.nan) for r in rows])
    for ax, x, xl in ((axes[0], gen, "generation"), (axes[1], wall, "wall time (s)")):
        for key, style, label in (("best", "-", "best member"), ("mean", "-", "population mean"),
                                  ("det_return", "-o", f"deterministic ({deployed})")):
            y = np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)
            ax.plot(x, y, style, ms=3, label=label)
        ax.set_xlabel(xl)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("episode return")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    _save(plt, fig, path, 120)
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
    _save(plt, fig, path, 120)
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
    _save(plt, fig, path, 120)
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
    _save(plt, fig, path, 120)
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
    _save(plt, fig, path, 110)
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise UserError(f"{path}: missing ({what}); is this an ec-neuro run directory?")
    return path


def _rho(run_dir: Path) -> np.ndarray:
    """The flat connection probabilities (W_in, W_h, W_out) of the last checkpoint."""
    from ..host import checkpoint
    ck = checkpoint.load(require_file(run_dir / "checkpoint.npz", "the training checkpoint"))
    if not hasattr(ck.state, "rho"):
        raise UserError(f"{run_dir}: the run's method has no connection probabilities to plot")
    return np.asarray(ck.state.rho, dtype=np.float64)


def episode_spikes(net: Any, steps: int, seed: int, precision: str = "float", backend: str = "numpy",
                   backend_options: dict[str, Any] | None = None) -> np.ndarray:
    """Spikes (substeps, N) of one episode: recorded closed loop on numpy, replayed open loop on `backend`
    (identical in every backend of the precision)."""
    from .. import registry
    from ..compilers.common import lower
    from ..sample.masks import initial_v
    from .stimulus import V0_SEED, task_stimulus
    x = task_stimulus(net, steps, seed, precision)
    low = lower(net.spec, net.masks, precision)
    be = registry.make_backend(backend, **(backend_options or {}))
    try:
        bias = np.stack([low.encode(xt[None]) for xt in x])
        tr = be.open_loop(be.compile(low), initial_v(net.spec.n_neurons, V0_SEED, 0, np.arange(1)), bias)
    finally:
        be.close()
    return np.asarray(tr.s[:, 0])


def plot_run(run_dir: Any, out: str | Path | None = None, steps: int = 200, seed: int = 0,
             backend: str = "numpy", backend_options: dict[str, Any] | None = None) -> list[Path]:
    """Draw a run's PNGs into `out` (default RUN_DIR/plots): learning_curves (metrics.jsonl), raster (best.npz on
    one episode of `steps` control steps at most, environment seed `seed`, in the run's precision on
    `backend`), rho_hist (checkpoint.npz) and connectivity (the deployed 1-bit matrices); returns their paths."""
    from .. import files
    from ..deploy.deployed import load_run
    rd = Path(getattr(run_dir, "path", run_dir))  # a Run or its directory
    if not rd.is_dir():
        raise UserError(f"{rd}: no such run directory")
    from .. import memory, registry, validate
    validate.integer("steps", steps, 1, 10**7)
    validate.seed("seed", seed)
    registry.make_backend(backend, **dict(backend_options or {})).close()  # a bad backend before any figure
    out_dir = Path(out) if out is not None else rd / "plots"
    files.check_writable(out_dir / "learning_curves.png")
    rows = files.read_jsonl(require_file(rd / "metrics.jsonl", "per-generation metrics"))
    if not rows:
        raise UserError(f"{rd / 'metrics.jsonl'}: no generation finished yet")
    net = load_run(rd)
    if not hasattr(net, "masks"):  # a network of real weights (ES, EGGROLL): learning curves only
        out_dir = Path(out) if out is not None else rd / "plots"
        files.check_writable(out_dir / "learning_curves.png")
        out_dir.mkdir(parents=True, exist_ok=True)
        method = net.meta.get("method", "ES")
        return [learning_curves(rows, out_dir / "learning_curves.png",
                                f"{method} ({net.spec.kind}) on {net.task or 'network'} ({rd.name})", "center")]
    rho = _rho(rd)
    spec = net.spec
    if rho.shape[0] != spec.n_connections:
        raise UserError(f"{rd}: checkpoint has {rho.shape[0]} probabilities, the network has {spec.n_connections}")
    K, N = spec.neuron.substeps, spec.n_neurons
    memory.check_copies(spec, 2, f"a raster of {steps} control steps of a {N}-neuron network",
                        "Use fewer --steps", trace_bytes=steps * K * N * 28 + 64 * N * N)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{out_dir}: cannot create the output folder ({e.strerror}); give another --out") from None
    name = f"{net.task or 'network'} ({rd.name})"
    paths = [learning_curves(rows, out_dir / "learning_curves.png", f"EC on {name}")]
    gen = net.meta.get("generation")
    precision = net.meta.get("precision", "float")
    s = episode_spikes(net, steps, seed, precision, backend, backend_options)
    paths.append(episode_raster(s, spec.n_exc, spec.neuron.substeps, out_dir / "raster.png",
                                f"deployed network (rho > 0.5, generation {gen}, {backend}/{precision}) on one {net.task} episode: "
                                f"{len(s) // spec.neuron.substeps} control steps, {int((s != 0).sum())} spikes"))
    paths.append(rho_histogram(rho, spec.group_shapes, out_dir / "rho_hist.png",
                               f"connection probabilities after generation {rows[-1]['generation']}"))
    paths.append(connectivity(net.masks.W_in[0], net.masks.W_h[0], net.masks.W_out[0], spec.n_exc,
                              out_dir / "connectivity.png", f"deployed connectivity, {name}"))
    return paths


def method_curves(runs: dict[str, list[dict[str, Any]]], path: Path, title: str) -> Path:
    """`ecneuro compare`: each run's deterministic return (and, faint, its population mean) against generation,
    env steps and wall time, one colour per method."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
    for i, (label, rows) in enumerate(runs.items()):
        colour = f"C{i}"
        xs = (np.array([r["generation"] for r in rows]), np.array([r.get("env_steps", np.nan) for r in rows], float),
              np.array([r.get("wall_time", np.nan) for r in rows], float) / 60)
        det = np.array([np.nan if r.get("det_return") is None else r["det_return"] for r in rows], float)
        mean = np.array([np.nan if r.get("mean") is None else r["mean"] for r in rows], float)
        for ax, x in zip(axes, xs):
            ax.plot(x, det, "-", color=colour, lw=1.6, label=label)
            ax.plot(x, mean, "-", color=colour, lw=0.7, alpha=0.35)
    for ax, xl in zip(axes, ("generation", "env steps", "wall time (min)")):
        ax.set_xlabel(xl)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("deterministic return (faint: population mean)")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    _save(plt, fig, path, 120)
    return path


def confusion_matrix(m: np.ndarray, path: Path, title: str) -> Path:
    """A confusion matrix (rows: true class, columns: predicted), counts written in the cells."""
    plt = _plt()
    C = m.shape[0]
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    frac = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(C):
        for j in range(C):
            if m[i, j]:
                ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=7,
                        color="white" if frac[i, j] > 0.5 else "black")
    ax.set_xticks(range(C))
    ax.set_yticks(range(C))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class")
    fig.tight_layout()
    _save(plt, fig, Path(path), 120)
    return Path(path)
