"""Benchmark suites for `ecneuro bench --suite NAME`: each module has `run(quick: bool) -> dict` and prints its figures."""
SUITES: dict[str, str] = {
    "core": "ec_neuro.bench.core:run",      # EC vs dense float network, MuJoCo physics (issue 2)
    "lava": "ec_neuro.bench.lava:run",      # lava-sim tiers vs naive layout vs numpy fixed (issue 3)
    "brian2": "ec_neuro.bench.brian2:run",  # brian2 vs numpy float, population 64 closed loop (issue 4)
}
