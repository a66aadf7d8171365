"""What is installed and usable, from the backend table alone: versions, precisions, options, a live check.

Nothing heavy is imported to answer: optional packages are looked up with importlib.util.find_spec and
importlib.metadata; only `check=True` runs each backend (the conformance check against numpy, for every
precision and every value of its options, e.g. each lava-sim tier).
"""
from __future__ import annotations

import importlib.metadata as md
import itertools
import platform
from typing import Any

from .. import registry

PACKAGES = ("ec-neuro", "numpy", "numba", "gymnasium", "mujoco", "lava-nc", "brian2", "nir")


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def option_sets(name: str) -> list[dict[str, Any]]:
    """Every combination of the backend's option choices ([{}] when it has none)."""
    choices = registry.BACKENDS[name].choices
    return [dict(zip(choices, combo)) for combo in itertools.product(*choices.values())] or [{}]


def _check(name: str, options: dict[str, Any], precision: str) -> str:
    """'ok', or the first line of what went wrong."""
    from .conformance import check_backend
    try:
        check_backend(name, precision, **options)
        return "ok"
    except Exception as e:  # report, do not crash `info`
        return f"FAILED: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}"


def gather(check: bool = False) -> dict[str, Any]:
    """{'python', 'packages': {dist: version}, 'backends': {name: {installed, version, precisions, choices, checks}}}."""
    out: dict[str, Any] = {"python": platform.python_version(), "packages": {d: _version(d) for d in PACKAGES}}
    backends: dict[str, Any] = {}
    for name, entry in registry.BACKENDS.items():
        version = _version(entry.dist) if entry.dist else None
        info: dict[str, Any] = {"installed": entry.installed(), "version": f"{entry.dist} {version}" if version else None,
                                "precisions": list(entry.precisions),
                                "choices": {k: list(v) for k, v in entry.choices.items()}, "summary": entry.summary}
        if not info["installed"]:
            info["install"] = (f"pip install 'ec-neuro[{entry.extra}]' (in a checkout: "
                               f".venv/bin/pip install -c constraints.txt -e '.[{entry.extra}]')")
        elif check:
            info["checks"] = {"/".join([*map(str, opts.values()), p]) if opts else p: _check(name, opts, p)
                              for opts in option_sets(name) for p in entry.precisions}
        backends[name] = info
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
        bits = [b["version"] or "", "precisions " + "/".join(b["precisions"]) + f" (default {b['precisions'][0]})"]
        bits += [f"{k} " + "/".join(map(str, v)) for k, v in b["choices"].items()]
        lines.append(f"{name:9s} installed  " + ", ".join(x for x in bits if x))
        for key, res in b.get("checks", {}).items():
            lines.append(f"{'':11s}{key:16s} {res}")
    return "\n".join(lines)
