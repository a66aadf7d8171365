"""Where one generation of a method spends its time: `ecneuro bench --suite methods`'s generation under cProfile.

    python scripts/methods-profile.py ec ei-rsnn [steps] [population]
    python scripts/methods-profile.py es dense-rsnn
    python scripts/methods-profile.py eggroll dense-rsnn

A warm-up generation of 2 steps compiles the kernels; the profiled generation plays `steps` (1,000) control steps
of the synthetic task at Humanoid sizes.  Prints the generation's seconds (ask, evaluate, tell) and the functions
with the most time of their own (a numba kernel is one entry: its whole call).
"""
from __future__ import annotations

import cProfile
import pstats
import sys

from ec_neuro.backends.numpy import NumpyBackend
from ec_neuro.bench import methods as M


def main() -> None:
    method, network = sys.argv[1], sys.argv[2]
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    P = int(sys.argv[4]) if len(sys.argv) > 4 else 1024
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
