"""Why the strict flags: the Brian2 open-loop run against numpy with Brian2's default gcc flags, then the strict ones.

Run: PYTHONPATH=. .venv/bin/python scripts/brian2-fastmath-demo.py   (cold Cython compile, ~30 s per flag set)
The default-flag build goes to .cache/brian2-fastmath-demo/ and is deleted afterwards.  Each flag set runs
in its own process: Brian2 keeps compiled modules in memory keyed by the code alone, not the flags.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import ec_neuro.compilers.brian2 as comp
from ec_neuro.backends.base import compare_traces
from ec_neuro.backends.brian2 import Brian2Backend
from ec_neuro.backends.numpy import NumpyBackend
from ec_neuro.compilers.common import lower
from ec_neuro.sample.masks import initial_v, random_masks
from ec_neuro.spec import NetworkSpec

BRIAN_DEFAULT = ["-w", "-O3", "-ffast-math", "-fno-finite-math-only", "-march=native", "-std=c++11"]
spec = NetworkSpec(n_obs=4, n_act=2, n_neurons=256)
P = 4
low = lower(spec, random_masks(spec, P, seed=0, p=0.5), "float")
v0 = initial_v(256, 0, 0, np.arange(P))
rng = np.random.default_rng(0)
bias = np.stack([low.encode(rng.normal(size=(P, 4)) * 2) for _ in range(30)])
want = NumpyBackend().open_loop(NumpyBackend().compile(low), v0, bias)
strict = list(comp.STRICT_FLAGS)
demo_cache = Path(comp.__file__).resolve().parents[2] / ".cache" / "brian2-fastmath-demo"
if len(sys.argv) == 1:
    for which in ("default", "strict"):
        subprocess.run([sys.executable, __file__, which], check=True)
    sys.exit(0)
for flags in ([BRIAN_DEFAULT] if sys.argv[1] == "default" else [strict]):
    comp.STRICT_FLAGS[:] = flags  # what configure() hands to Brian2
    unsafe = bool(comp.unsafe_flags(flags))
    if unsafe:
        os.environ["ECNEURO_BRIAN2_CACHE"] = str(demo_cache)
        check, comp.check_flags = comp.check_flags, lambda: None  # the guard would (rightly) refuse
    be = Brian2Backend("cython")
    got = be.open_loop(be.compile(low), v0, bias)
    be.close()
    if unsafe:
        comp.check_flags = check
        del os.environ["ECNEURO_BRIAN2_CACHE"]
        shutil.rmtree(demo_cache, ignore_errors=True)
    rep = compare_traces(got, want)
    differing = int(np.count_nonzero(got.u != want.u) + np.count_nonzero(got.v != want.v))
    print(" ".join(flags))
    print(f"  identical {rep['identical']}, u/v values differing {differing} of {2 * want.u.size}, "
          f"max|du| {rep['max_abs_du']:.3g}, max|dv| {rep['max_abs_dv']:.3g}, spike mismatches {rep['spike_mismatches']}")
