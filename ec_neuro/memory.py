"""Memory estimates, made before anything is allocated: a size without bounds is refused with the figure.

    need = train_bytes(cfg)                   # ~bytes a run of this config holds at its peak (all processes)
    require(need, "population 1048576 x 66,048 connections", "use a smaller --population")
        -> UserError "... needs ~3.2 TiB of memory; this machine has 21 GiB available (24 GiB in all). ..."

The figures are estimates of the large arrays (masks, probabilities, optimiser state, traces) plus a fixed
cost per process; they are meant to catch sizes that cannot fit, not to budget tightly.
"""
from __future__ import annotations

import os
from typing import Any

from .errors import UserError

PROCESS_BYTES = 300 << 20   # one Python process with numpy, numba and a task imported
STRATEGY_BYTES_PER_PARAM = 80  # rho, the optimiser's moments and tell's temporaries, float64 each
MASK_BYTES_PER_CONNECTION = 4  # a member's bits while sampled, stacked and lowered (uint8 copies)
LAVA_BYTES_PER_SYNAPSE = 60   # block-diagonal CSR weights built, pickled, and held by the Lava processes
BRIAN2_BYTES_PER_SYNAPSE = 40  # Brian2 synapse indices and variables


def fmt(n: float) -> str:
    """Bytes as a person reads them: 512 MiB, 3.2 TiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.0f} {unit}" if n >= 100 or unit == "B" else f"{n:.2g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                name, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[name] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


def _cgroup_limit() -> int | None:
    """The memory this process's cgroup may still use (cgroup v2), if limited."""
    try:
        limit = open("/sys/fs/cgroup/memory.max").read().strip()
        if limit == "max":
            return None
        used = int(open("/sys/fs/cgroup/memory.current").read().strip())
        return max(int(limit) - used, 0)
    except (OSError, ValueError):
        return None


def available() -> tuple[int, int]:
    """(bytes available now, bytes of memory in all) on this machine (or in this cgroup, when it is smaller)."""
    info = _meminfo()
    total = info.get("MemTotal")
    if total is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total = 1 << 62
    avail = info.get("MemAvailable", total)
    cg = _cgroup_limit()
    if cg is not None:
        avail = min(avail, cg)
    override = os.environ.get("ECNEURO_MEMORY_LIMIT")  # bytes: tests and shared machines
    if override and override.isdigit():
        avail = min(avail, int(override))
    return int(avail), int(total)


def require(need: float, what: str, hint: str) -> None:
    """Refuse, before allocating, work that needs more memory than this machine has available."""
    avail, total = available()
    if need > avail:
        raise UserError(f"{what} needs ~{fmt(need)} of memory; this machine has {fmt(avail)} available "
                        f"({fmt(total)} in all). {hint}")


def network_bytes(n_connections: int, copies: int) -> int:
    """`copies` networks of `n_connections` one-bit connections while sampled, stacked and lowered."""
    return MASK_BYTES_PER_CONNECTION * n_connections * copies


def backend_bytes(backend: str, n_neurons: int, copies: int, n_recurrent: int) -> int:
    """What a backend adds on top of the masks: Lava's and Brian2's per-synapse structures (density 1/2)."""
    synapses = copies * n_recurrent // 2
    if backend == "lava-sim":
        return LAVA_BYTES_PER_SYNAPSE * synapses
    if backend == "brian2":
        return BRIAN2_BYTES_PER_SYNAPSE * synapses
    return 64 * copies * n_neurons  # numpy: u, v, r, spikes and counts per neuron


def train_bytes(cfg: Any) -> int:
    """Peak memory of a training run of the resolved config `cfg` (a TrainConfig), every process together."""
    from . import registry
    spec = registry.network_spec(cfg.network)
    D, N, per_member = _sizes(spec)
    episodes = int(getattr(cfg, "episodes", 1) or 1)
    slots = max((cfg.population + cfg.det_episodes) * episodes, int(getattr(cfg, "confirm_episodes", 0) or 0))
    workers = max(1, int(cfg.workers))
    host = PROCESS_BYTES + STRATEGY_BYTES_PER_PARAM * D
    if hasattr(spec, "eval_bytes"):  # a forward that works in bounded chunks (networks/lif2.py)
        evaluating = spec.eval_bytes(slots) * workers + 16 * D * workers
    else:
        evaluating = per_member * D * slots + backend_bytes(cfg.backend, N, slots, N * N) + 16 * D * workers
    return host + evaluating + (PROCESS_BYTES * workers if workers > 1 else 0)


def _sizes(spec: Any) -> tuple[int, int, int]:
    """(parameters per member, neurons, bytes per parameter per member while evaluated) of a network spec: one-bit
    connections (E/I networks) or real weights (float64, and the noise they were drawn with)."""
    if hasattr(spec, "n_connections"):
        return int(spec.n_connections), int(spec.n_neurons), MASK_BYTES_PER_CONNECTION
    return int(spec.n_params), int(getattr(spec, "n_neurons", None) or getattr(spec, "hidden", 1)), 16


def check_train(cfg: Any) -> None:
    """Refuse a training config whose population or network cannot fit in memory."""
    from . import registry
    spec = registry.network_spec(cfg.network)
    D, N, _ = _sizes(spec)
    need = train_bytes(cfg)
    episodes = int(getattr(cfg, "episodes", 1) or 1)
    unit = "connections" if hasattr(spec, "n_connections") else "weights"
    what = (f"population {cfg.population} + det_episodes {cfg.det_episodes}"
            f"{f' x {episodes} episodes' if episodes > 1 else ''} of {N}-neuron networks "
            f"({D:,} {unit} each) on {cfg.backend}"
            f"{f' with {cfg.workers} workers' if cfg.workers > 1 else ''}")
    require(need, what, "Use a smaller --population, network.n_neurons (--set network.n_neurons=...), "
                        "det_episodes, episodes, confirm_episodes or --workers")


def check_copies(spec: Any, copies: int, what: str, hint: str, backend: str = "numpy", trace_bytes: int = 0) -> None:
    """Refuse running `copies` copies of a network (evaluation episodes, crosscheck runs) that cannot fit."""
    need = PROCESS_BYTES + network_bytes(spec.n_connections, copies) + \
        backend_bytes(backend, spec.n_neurons, copies, spec.n_neurons ** 2) + trace_bytes
    require(need, what, hint)
