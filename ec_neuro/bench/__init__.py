"""Benchmark suites of `ecneuro bench --suite NAME` (registry.SUITES): each module has `run(quick) -> dict`."""
