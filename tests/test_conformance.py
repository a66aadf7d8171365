"""Every registered backend, in every precision and every value of its options, passes the one conformance check
against the numpy reference (the cases come from the backend table alone)."""
from __future__ import annotations

import pytest

from ec_neuro import registry
from ec_neuro.backends.conformance import check_backend
from ec_neuro.backends.info import option_sets

CASES = [pytest.param(name, prec, opts, id="-".join([name, prec, *map(str, opts.values())]))
         for name, entry in registry.BACKENDS.items() for opts in option_sets(name) for prec in entry.precisions]


@pytest.mark.parametrize("name,precision,options", CASES)
def test_backend_conforms(name: str, precision: str, options: dict) -> None:
    if not registry.BACKENDS[name].installed():
        pytest.fail(f"{name} is not installed: the test environment must have every backend")
    report = check_backend(name, precision, **options)
    assert report["identical"] and report["spikes"] > 0 and report["closed_loop_steps"] > 5
