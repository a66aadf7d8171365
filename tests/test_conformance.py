"""Every registered backend passes the one conformance check against the numpy reference."""
from __future__ import annotations

import importlib.util

import pytest

from ec_neuro import registry
from ec_neuro.backends.conformance import check_backend

CASES = [(name, prec) for name, (_, _, module) in registry.BACKENDS.items()
         for prec in ("float", "fixed")]


@pytest.mark.parametrize("name,precision", CASES)
def test_backend_conforms(name: str, precision: str) -> None:
    module = registry.BACKENDS[name][2]
    if module and importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not installed")
    cls = registry.backend_class(name)
    if precision not in cls.precisions:
        pytest.skip(f"{name} has no {precision} precision")
    report = check_backend(name, precision)
    assert report["identical"] and report["spikes"] > 0 and report["closed_loop_steps"] > 5
