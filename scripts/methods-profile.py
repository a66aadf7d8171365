"""Where one generation of a method spends its time: `ecneuro bench --suite methods`'s generation under cProfile.

    python scripts/methods-profile.py ec ei-rsnn [steps] [population]
    python scripts/methods-profile.py es dense-rsnn
    python scripts/methods-profile.py eggroll dense-rsnn

A warm-up generation of 2 steps compiles the kernels; the profiled generation plays `steps` (1,000) control steps
of the synthetic task at Humanoid sizes.  Prints the generation's seconds (ask, evaluate, tell) and the functions
with the most time of their own (a numba kernel is one entry: its whole call).
"""
from __future__ import annotations

import argparse
import cProfile
import pstats

from ec_neuro import registry
from ec_neuro.backends.numpy import NumpyBackend
from ec_neuro.bench import methods as M
from ec_neuro.errors import UserError


def _positive(text: str) -> int:
    """A whole number >= 1, or argparse's usage error naming the argument."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description="Where one generation of a method spends its time.")
    ap.add_argument("method", help="ec, es or eggroll")
    ap.add_argument("network", help="ei-rsnn (ec); dense-rsnn, gru or lstm (es, eggroll)")
    ap.add_argument("steps", nargs="?", type=_positive, default=1000, help="control steps (default 1000)")
    ap.add_argument("population", nargs="?", type=_positive, default=1024, help="members (default 1024)")
    a = ap.parse_args()
    method, network, steps, P = a.method, a.network, a.steps, a.population
    try:
        registry.check_combination(method, network, "numpy")
        if network == "lif-classifier":
            raise UserError("lif-classifier is a classifier, not a control policy: `ecneuro bench --suite events` "
                            "measures it")
    except UserError as e:
        ap.exit(2, f"{ap.prog}: error: {e}\n")
    spec, strategy = M._strategy(method, network, P)
    backend = NumpyBackend()
    state, _ = M.generation(spec, strategy, strategy.init(0), M.SyntheticTask(P, steps=2), backend)
    prof = cProfile.Profile()
    prof.enable()
    _, t = M.generation(spec, strategy, state, M.SyntheticTask(P, steps=steps), backend)
    prof.disable()
    print(f"{method} / {network}, population {P}, {steps} steps: {t['sec_per_generation']:.2f} s per generation "
          f"(ask {t['ask_s']:.2f}, evaluate {t['evaluate_s']:.2f}, tell {t['tell_s']:.2f})")
    pstats.Stats(prof).sort_stats("tottime").print_stats(8)


if __name__ == "__main__":
    main()
