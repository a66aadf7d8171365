"""What is installed and usable: versions, and per backend its precisions, tiers and (optionally) a live check.

Nothing heavy is imported to answer: optional packages are looked up with importlib.util.find_spec and
importlib.metadata; only `check=True` runs each backend (a tiny bit-exact comparison with numpy).
"""
from __future__ import annotations

import importlib.metadata as md
import importlib.util
import platform
from typing import Any

from . import registry

# backends whose module imports nothing heavy (lava_sim runs Lava in a worker process), so their class can
# be asked for its precisions without importing the simulator; the others are asked only under --check
_LIGHT = {"numpy", "lava-sim"}

# backend -> (distribution to report, tiers offered)
_DETAILS: dict[str, tuple[str, tuple[str, ...]]] = {
    "numpy": ("numba", ("",)),
    "lava-sim": ("lava-nc", ("stock", "fused", "fused-k")),
    "brian2": ("brian2", ("",)),
}


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _check(name: str, tier: str, precision: str) -> str:
    """'ok', or the first line of what went wrong."""
    from .backends.conformance import check_backend
    try:
        check_backend(name, precision, **({"tier": tier} if tier else {}))
        return "ok"
    except Exception as e:  # report, do not crash `info`
        return f"FAILED: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}"


def gather(check: bool = False) -> dict[str, Any]:
    """{'python', 'packages': {dist: version}, 'backends': {name: {installed, version, precisions, tiers, checks}}}."""
    out: dict[str, Any] = {"python": platform.python_version(),
                           "packages": {d: _version(d) for d in ("ec-neuro", "numpy", "numba", "gymnasium",
                                                                 "mujoco", "lava-nc", "brian2", "nir")}}
    backends: dict[str, Any] = {}
    for name, (target, extra, module) in registry.BACKENDS.items():
        dist, tiers = _DETAILS.get(name, (module, ("",)))
        installed = not module or importlib.util.find_spec(module) is not None
        version = _version(dist)
        entry: dict[str, Any] = {"installed": installed, "version": f"{dist} {version}" if version else None,
                                 "tiers": [t for t in tiers if t]}
        present = importlib.util.find_spec(target.split(":")[0]) is not None
        if not installed:
            entry["install"] = f".venv/bin/pip install -c constraints.txt -e '.[{extra}]'"
        elif not present:
            entry["installed"] = False
            entry["install"] = f"this ec-neuro has no module {target.split(':')[0]}"
        elif name in _LIGHT or check:
            entry["precisions"] = list(registry.backend_class(name).precisions)
        if entry["installed"] and check:
            precisions = entry.get("precisions") or ["float", "fixed"]
            entry["checks"] = {f"{t or 'default'}/{p}": _check(name, t, p) for t in tiers for p in precisions}
        backends[name] = entry
    out["backends"] = backends
    return out


def format_text(info: dict[str, Any]) -> str:
    """Human-readable lines of `gather()`."""
    pk = info["packages"]
    lines = [f"python {info['python']}; " + ", ".join(f"{k} {v}" for k, v in pk.items() if v)]
    for name, b in info["backends"].items():
        if not b["installed"]:
            lines.append(f"{name:9s} not installed  (install: {b['install']})")
            continue
        bits = [b["version"] or ""]
        if b.get("precisions"):
            bits.append("precisions " + "/".join(b["precisions"]))
        if b["tiers"]:
            bits.append("tiers " + "/".join(b["tiers"]))
        lines.append(f"{name:9s} installed  " + ", ".join(x for x in bits if x))
        for key, res in b.get("checks", {}).items():
            lines.append(f"{'':11s}{key:16s} {res}")
    return "\n".join(lines)
