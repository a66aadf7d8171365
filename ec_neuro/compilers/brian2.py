"""Lower a population to Brian2 objects that compute the canonical (Lava CUBA-LIF) arithmetic bit for bit.

One NeuronGroup `ecn_G` holds the population, member p's neuron j at index p*N + j.  Two count-only
Synapses (`ecn_SE` from E sources, `ecn_SI` from I sources) add 1 to nE / nI of the target; the weight is
applied once per neuron, so the sum is over exact integers.  Brian2's default schedule then gives Lava's
one-substep delay: spikes of substep t are counted in the `synapses` slot of t and consumed by the `groups`
update of t+1.  Per substep, one binary operation per statement (nothing for Brian's optimiser or the C
compiler to regroup or contract into an FMA):

    groups:        c = nE - nI; syn = w*c; u = u*decay_u; u = u + syn; nE = 0; nI = 0; sp = 0
                   v = v*decay_v; v = v + u; v = v + I_ext; r = r*a_out; r = r + zero
    thresholds:    v > vth
    resets:        v = 0; cnt += 1; sp = sgn; q = c_out*sgn; r = r + q       (sgn = +1 for E, -1 for I)

which is exactly `ec_neuro.kernels.run_float` (its readout r = r*a_out + c_out*s: `+ zero` is its `+ 0.0` for
silent neurons, which turns -0.0 into +0.0).  Every object runs on one Clock `ecn_clock`, so Brian2 takes
its single-clock loop.  The spike counts nE, nI are int32 (half the bytes the synapses touch per event).

Precision "fixed" swaps in UPDATE_FIXED, Lava's integer arithmetic (`kernels.run_fixed`) on float64 variables
holding integers below 2^53, where every operation is exact.  Compilation: runtime `cython` with STRICT_FLAGS
(no -ffast-math, -ffp-contract=off) plus the SPEED_FLAGS the compiler takes, and a cache directory per flag
set inside the repository; `numpy` needs no compiler.  Object names are fixed, so rebuilding for new masks
reuses the compiled code.
"""
from __future__ import annotations

import functools
import gc
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .common import Lowered

TARGETS = ("cython", "numpy")
STRICT_FLAGS = ["-w", "-O3", "-march=native", "-ffp-contract=off", "-std=c++11"]
# Speed only, no change to any float result (checked by the bit-exactness tests), each used where the compiler
# takes it: vectorise the update loop despite its 7 arrays (gcc gives up after 10 alias checks by default),
# unroll, and allow store speculation (Brian2's runtime is single-threaded); with the last two the synapse
# and thresholder loops ran 30-45 % faster (BENCHMARKS.md).
SPEED_FLAGS = ("--param=vect-max-version-for-alias-checks=200", "-funroll-loops", "-fallow-store-data-races")
# Flags that let gcc reassociate or fuse float operations; any of them breaks bit-exactness.
UNSAFE_FLAGS = ("-ffast-math", "-Ofast", "-funsafe-math-optimizations", "-ffp-contract=fast",
                "-fassociative-math", "-freciprocal-math")

UPDATE = """c = nE - nI
syn = w * c
u = u * decay_u
u = u + syn
nE = 0
nI = 0
sp = 0
v = v * decay_v
v = v + u
v = v + I_ext
r = r * a_out
r = r + zero"""
# Loihi-2 fixed point (ec_neuro.quant) on float64 variables that only ever hold integers below 2^53, so
# every operation is exact: trunc0(x*d/4096) = sign(x*d) * floor(|x*d| / 4096); a >> k = floor(a * 2^-k).
UPDATE_FIXED = """c = nE - nI
a = c * w_mant
a = a * w_scale
a = floor(a)
a = a * 64
y = u * decay_u
ya = abs(y)
ya = ya / 4096
ya = floor(ya)
y = sign(y) * ya
u = y + a
wp = two_umax * int(u > umax)
u = u - wp
wn = two_umax * int(u <= neg_umax)
u = u + wn
nE = 0
nI = 0
sp = 0
y = v * decay_v
ya = abs(y)
ya = ya / 4096
ya = floor(ya)
y = sign(y) * ya
v = y + u
v = v + I_ext
v = clip(v, neg_vmax, vmax)
r = r * a_out
r = r + zero"""
RESET = """v = 0
cnt += 1
sp = sgn
q = c_out * sgn
r = r + q"""
EQUATIONS = """u : 1
v : 1
nE : integer
nI : integer
I_ext : 1
cnt : integer
sp : integer
r : 1
sgn : integer (constant)"""


def unsafe_flags(flags: list[str]) -> list[str]:
    """The members of `flags` (compile args, CFLAGS words) that allow reassociation or FMA contraction."""
    return [f for f in flags if f in UNSAFE_FLAGS or f.startswith("-ffp-contract=") and f != "-ffp-contract=off"]


def cache_dir(flags: list[str]) -> Path:
    """`.cache/brian2/<hash>` in the repository: one directory per flag set and CPU (the flags say -march=native)."""
    root = os.environ.get("ECNEURO_BRIAN2_CACHE")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / ".cache" / "brian2"
    cpu = ""
    try:
        cpu = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags"))
    except (OSError, StopIteration):
        pass
    key = "\n".join([" ".join(flags), sys.version, cpu, os.environ.get("CC", ""), os.environ.get("CXX", "")])
    return base / hashlib.sha256(key.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def _accepts(cxx: str, flag: str) -> bool:
    """Does the C++ compiler `cxx` compile an empty program with `flag`?"""
    try:
        res = subprocess.run([cxx, flag, "-Werror", "-x", "c++", "-c", "-o", os.devnull, "-"], input=b"int f();\n",
                             capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return res.returncode == 0


def compile_flags() -> list[str]:
    """STRICT_FLAGS plus the SPEED_FLAGS that this machine's compiler ($CXX or g++) accepts."""
    cxx = os.environ.get("CXX", "g++")
    return list(STRICT_FLAGS) + [f for f in SPEED_FLAGS if _accepts(cxx, f)]


def configure(target: str) -> dict[str, Any]:
    """Set Brian2's global preferences for an exact run on `target`; returns what was set."""
    if target not in TARGETS:
        raise UserError(f"unknown brian2 target {target!r}; choose one of {', '.join(TARGETS)}")
    from brian2 import prefs
    env_bad = unsafe_flags(" ".join(os.environ.get(k, "") for k in ("CFLAGS", "CXXFLAGS", "CPPFLAGS")).split())
    if env_bad:
        raise UserError(f"the environment sets {' '.join(env_bad)} in CFLAGS/CXXFLAGS; brian2 would not be "
                        "bit-exact. Unset them.")
    if target == "cython" and shutil.which(os.environ.get("CXX", "g++")) is None:
        raise UserError("brian2 target 'cython' needs a C++ compiler (g++); install one or use target='numpy'")
    flags = compile_flags() if target == "cython" else list(STRICT_FLAGS)
    prefs.codegen.target = target
    prefs.codegen.loop_invariant_optimisations = False
    prefs.codegen.cpp.extra_compile_args_gcc = flags
    prefs.codegen.cpp.extra_compile_args_msvc = ["/Ox", "/fp:precise"]
    out = {"target": target, "flags": list(flags)}
    if target == "cython":
        d = cache_dir(flags)
        d.mkdir(parents=True, exist_ok=True)
        prefs.codegen.runtime.cython.cache_dir = str(d)
        out["cache_dir"] = str(d)
    return out


def check_flags() -> None:
    """Raise if anything put reassociation / FMA-contraction flags back into Brian2's compile arguments."""
    from brian2 import prefs
    flags = list(prefs.codegen.cpp.extra_compile_args_gcc)
    bad = unsafe_flags(flags)
    if bad or "-ffp-contract=off" not in flags:
        raise RuntimeError(f"brian2 compile flags {flags} are not strict ({bad or 'no -ffp-contract=off'}); "
                           "results would differ from the numpy backend by ulps")


@dataclass
class Brian2Net:
    """The Brian2 objects of one population; `var(name)` is the live (P, N) view of a state variable."""

    net: Any
    G: Any
    clock: Any
    P: int
    N: int
    K: int
    dt: Any

    def var(self, name: str) -> np.ndarray:
        return self.G.variables[name].get_value().reshape(self.P, self.N)


def namespace(low: Lowered) -> tuple[str, dict[str, float]]:
    """The update code and its constants for the population's precision."""
    f, q = low.flt, low.fixed
    ns = {"a_out": f.a_out, "c_out": f.c_out, "zero": 0.0}
    if q is None:
        return UPDATE, {**ns, "decay_u": 1.0 - f.du, "decay_v": 1.0 - f.dv, "w": f.w, "vth": f.vth}
    umax, vmax = float(1 << 23), float((1 << 23) - 1)
    return UPDATE_FIXED, {**ns, "decay_u": float(q.decay_u), "decay_v": float(q.decay_v), "w_mant": float(q.w_mant),
                          "w_scale": 2.0**q.w_exp, "vth": float(q.vth), "umax": umax, "neg_umax": -umax,
                          "two_umax": 2 * umax, "vmax": vmax, "neg_vmax": -vmax}


def build(low: Lowered) -> Brian2Net:
    """Brian2 objects for a population in either precision (state zero; set v before running)."""
    import brian2 as b2
    spec = low.spec
    P, N, n_exc = low.population, spec.n_neurons, spec.n_exc
    dt = spec.neuron.dt * b2.ms
    update, ns = namespace(low)
    clock = b2.Clock(dt, name="ecn_clock")
    G = b2.NeuronGroup(P * N, EQUATIONS, threshold="v > vth", reset=RESET, namespace=ns, clock=clock, name="ecn_G")
    G.sgn = np.tile(np.where(np.arange(N) < n_exc, 1, -1), P)
    G.run_regularly(update, when="groups", clock=clock, name="ecn_G_update")
    member, pre, post = np.nonzero(low.W_h)
    is_e = pre < n_exc
    i, j = member * N + pre, member * N + post
    objs = [G]
    for name, sel, code in (("ecn_SE", is_e, "nE_post += 1"), ("ecn_SI", ~is_e, "nI_post += 1")):
        if not sel.any():
            continue  # no synapse of this sign anywhere: nothing to count
        S = b2.Synapses(G, G, on_pre=code, namespace={}, clock=clock, name=name)
        S.connect(i=i[sel], j=j[sel])
        objs.append(S)
    net = b2.Network(*objs, name="ecn_net")
    return Brian2Net(net, G, clock, P, N, spec.neuron.substeps, dt)


def verify_compiled(net: Any) -> None:
    """Raise if a code object has code but no compiled module: Brian2 2.9 turns a Cython compile error into a no-op."""
    todo, seen = list(net.objects), set()
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        todo.extend(getattr(obj, "contained_objects", []))
        for co in getattr(obj, "code_objects", []):
            for block, module in (getattr(co, "compiled_code", None) or {}).items():
                code = getattr(co.code, block, "") or ""
                if module is None and code.strip() and "EMPTY_CODE_BLOCK" not in code:
                    raise RuntimeError(f"brian2 could not compile {co.name} ({block}); the Cython error is printed "
                                       "above. Results would be silently wrong, so stopping.")


def teardown(prog: Brian2Net | None) -> None:
    """Drop a program's Brian2 objects so the next build can reuse the names (and the compiled code)."""
    if prog is None:
        return
    prog.net.remove(*list(prog.net.objects))
    prog.net = prog.G = prog.clock = None  # type: ignore[assignment]
    gc.collect()
