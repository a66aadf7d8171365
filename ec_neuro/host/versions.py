"""Versions of Python and of every package a run may touch, for the run directory."""
from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("ec-neuro", "numpy", "numba", "gymnasium", "mujoco", "lava-nc", "brian2", "nir", "click", "scipy")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
