"""EC's per-generation cost on the numpy backend: this tree against a base revision, side by side in one process.

The base revision's `ec_neuro` is unpacked from git into a temporary folder as the package `ec_neuro_base`
(its modules import each other relatively), so both versions run in the same process, interleaved round by
round on the same inputs; each figure is the best round (wall clock), and the ratio base / new is printed.
Bit-exactness is checked on the way: the input current, the 33 substeps (u, v, r, spikes, counts) and whole
control steps (actions) must be identical for the same masks and observations, in float and fixed point.
(Sampled masks are not compared: the mask stream itself may differ between the revisions.)

Parts, at Humanoid-v5 sizes (348 obs -> 256 neurons -> 17 actions, 33 substeps):
  input current     codec.input_current over P members (P x 348 x 256)
  substeps float    kernels.run_float, one control step (33 substeps), the bias of a real encode (these are
  substeps fixed    kernels.run_fixed, the same      also the Lava fused-k tier's kernels)
  control step      encode -> advance -> decode through the backend, float and fixed
  sample one        sample_flat for one member (D = 248,064 connections)
  ask               the worker side of a generation: pop.masks(spec) for all P members + lower()
  tell              EC.tell (regenerates every member)

usage: python scripts/ecperf_compare.py [--base main] [--population 1024] [--rounds 5] [--threads N]
       [--skip ask,tell]
       (run from the repository root; ~2-4 min at P = 1,024 on a quiet 2-core machine)
"""
from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_base(rev: str) -> tuple[object, str]:
    """Unpack `rev`'s ec_neuro as ec_neuro_base into a temporary folder and import it."""
    sha = subprocess.check_output(["git", "-C", str(ROOT), "rev-parse", "--short", rev], text=True).strip()
    tmp = Path(tempfile.mkdtemp(prefix="ecperf-base-"))
    data = subprocess.check_output(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "ec_neuro"])
    tar_path = tmp / "base.tar"
    tar_path.write_bytes(data)
    with tarfile.open(tar_path) as tf:
        tf.extractall(tmp)
    (tmp / "ec_neuro").rename(tmp / "ec_neuro_base")
    sys.path.insert(0, str(tmp))
    return importlib.import_module("ec_neuro_base"), sha


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="main", help="git revision to compare against (default: main)")
    ap.add_argument("--population", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="numba threads (default: numba's default)")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: input, substeps, control, sample, "
                    "ask, tell")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    import numba
    import numpy as np
    if args.threads:
        numba.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT))
    base_pkg, sha = load_base(args.base)
    head = subprocess.check_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], text=True).strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", "ec_neuro"]).returncode != 0
    print(f"base {args.base} = {sha}   new = {head}{' + uncommitted changes' if dirty else ''}   "
          f"P = {args.population}, numba threads {numba.get_num_threads()}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")

    mods = {}
    for tag, pkg in (("base", "ec_neuro_base"), ("new", "ec_neuro")):
        m = {name: importlib.import_module(f"{pkg}.{name}") for name in
             ("compilers.common", "compilers.codec", "backends.numpy", "backends.numpy.kernels", "sample.masks",
              "strategies.ec", "spec")}
        mods[tag] = m
    P = args.population
    spec_new = mods["new"]["spec"].NetworkSpec(n_obs=348, n_act=17)
    spec_base = mods["base"]["spec"].NetworkSpec(n_obs=348, n_act=17)
    N, K = spec_new.n_neurons, spec_new.neuron.substeps
    masks = mods["new"]["sample.masks"].random_masks(spec_new, P, seed=0)  # one Masks object for both trees
    rng = np.random.default_rng(0)
    X = np.clip(rng.normal(size=(4, P, 348)), -5, 5)
    v01 = mods["new"]["sample.masks"].initial_v(N, 0, 0, np.arange(P))
    active = np.ones(P, bool)

    low = {prec: {tag: mods[tag]["compilers.common"].lower(spec_new if tag == "new" else spec_base, masks, prec)
                  for tag in mods} for prec in ("float", "fixed")}

    results: dict[str, dict[str, float]] = {}
    checks: list[str] = []

    clock = time.thread_time if numba.get_num_threads() == 1 else time.perf_counter

    def timeit(part: str, fns: dict[str, object]) -> None:
        best = results.setdefault(part, {"base": float("inf"), "new": float("inf"), "rounds": 0})
        for tag in ("base", "new") if best["rounds"] % 2 == 0 else ("new", "base"):
            t = clock()
            fns[tag]()
            best[tag] = min(best[tag], clock() - t)
        best["rounds"] += 1

    # --- fixtures and bit-exactness checks ---------------------------------------------------------------
    def input_current(tag):
        out = np.empty((P, N))
        fn = mods[tag]["compilers.codec"].input_current
        jit = getattr(fn, "serial", fn)
        argc = getattr(jit, "py_func", jit).__code__.co_argcount
        extra = (np.ones(P, np.bool_),) if argc == 5 else ()  # later codecs take `active`
        fn(low["float"][tag].T_in, X[0], spec_new.R_in, *extra, out)
        return out
    a, b = input_current("base"), input_current("new")
    assert np.array_equal(a.view(np.uint64), b.view(np.uint64)), "input current differs"
    checks.append("input current: identical bits (P x 256 float64)")

    def substep_state(tag, prec):
        lw = low[prec][tag]
        dtype = np.float64 if prec == "float" else np.int64
        st = [np.zeros((P, N), dtype), lw.initial_v(v01), np.zeros((P, N)), np.zeros((P, N), np.int32),
              np.zeros((P, N), np.int64)]
        return lw, st

    no_rec = {"float": (np.zeros((0, P, N)), np.zeros((0, P, N)), np.zeros((0, P, N), np.int32)),
              "fixed": (np.zeros((0, P, N), np.int64), np.zeros((0, P, N), np.int64), np.zeros((0, P, N), np.int32))}
    bias = {prec: low[prec]["new"].encode(X[0]) for prec in ("float", "fixed")}
    assert all(np.array_equal(low[prec]["base"].encode(X[0]), bias[prec]) for prec in bias), "encode differs"

    def substeps(tag, prec, st):
        lw, kern = low[prec][tag], mods[tag]["backends.numpy.kernels"]
        f, q = lw.flt, lw.fixed
        if prec == "float":
            kern.run_float(lw.W_h, spec_new.n_exc, active, bias[prec], *st, K, 1.0 - f.du, 1.0 - f.dv, f.vth, f.w,
                           f.a_out, f.c_out, *no_rec[prec])
        else:
            kern.run_fixed(lw.W_h, spec_new.n_exc, active, bias[prec], *st, K, q.decay_u, q.decay_v, q.vth, q.w_mant,
                           q.w_exp, f.a_out, f.c_out, *no_rec[prec])

    states = {}
    for prec in ("float", "fixed"):
        for tag in mods:
            _, st = substep_state(tag, prec)
            for _ in range(3):
                substeps(tag, prec, st)
            states[tag] = st
        same = all(np.array_equal(x, y) for x, y in zip(states["base"], states["new"]))
        assert same, f"substeps ({prec}) differ"
        checks.append(f"substeps {prec}: u, v, r, spikes, counts identical after 3 x 33 substeps "
                      f"(spike rate {states['new'][4].sum() / (P * N * 3 * K):.4f})")

    progs = {}
    for prec in ("float", "fixed"):
        for tag in mods:
            be = mods[tag]["backends.numpy"].NumpyBackend()
            progs[prec, tag] = (be, be.compile(low[prec][tag]))

    def control_steps(tag, prec, steps=len(X)):
        be, pr = progs[prec, tag]
        lw = low[prec][tag]
        be.reset(pr, v01)
        acts = []
        for t in range(steps):
            acts.append(lw.decode(be.advance(pr, lw.encode(X[t]), active)))
        return np.stack(acts), pr.counts.copy()

    for prec in ("float", "fixed"):
        (aa, ca), (ab, cb) = control_steps("base", prec), control_steps("new", prec)
        assert np.array_equal(aa, ab) and np.array_equal(ca, cb), f"control steps ({prec}) differ"
        checks.append(f"control steps {prec}: actions and spike counts identical over {len(X)} steps")

    EC = {tag: mods[tag]["strategies.ec"].EC for tag in mods}
    ecs = {tag: EC[tag](spec_new.n_connections, P) for tag in mods}
    sts = {tag: ecs[tag].init(0) for tag in mods}
    pops = {tag: ecs[tag].ask(sts[tag]) for tag in mods}
    fitness = rng.normal(size=P)
    sample_flat = {tag: mods[tag]["sample.masks"].sample_flat for tag in mods}
    rho = sts["new"].rho
    for tag in mods:  # warm-up (numba compile or cache load)
        sample_flat[tag](rho, 0, 0, 0)
    small = {tag: EC[tag](spec_new.n_connections, 4) for tag in mods}
    for tag in mods:
        small[tag].tell(small[tag].init(0), small[tag].ask(small[tag].init(0)), np.arange(4.0))

    # --- timing, interleaved -----------------------------------------------------------------------------
    for rnd in range(args.rounds):
        if "input" not in skip:
            timeit("input current", {tag: (lambda tag=tag: input_current(tag)) for tag in mods})
        for prec in () if "substeps" in skip else ("float", "fixed"):
            sts_k = {tag: substep_state(tag, prec)[1] for tag in mods}
            for tag in mods:
                substeps(tag, prec, sts_k[tag])  # leave the start transient
            timeit(f"substeps {prec}", {tag: (lambda tag=tag: substeps(tag, prec, sts_k[tag])) for tag in mods})
        for prec in () if "control" in skip else ("float", "fixed"):
            timeit(f"control step {prec}", {tag: (lambda tag=tag: control_steps(tag, prec)) for tag in mods})
        if "sample" not in skip:
            timeit("sample one member", {tag: (lambda tag=tag: [sample_flat[tag](rho, 0, rnd, i) for i in range(8)])
                                         for tag in mods})
        if "ask" not in skip:
            timeit("ask (masks + lower)", {tag: (lambda tag=tag: mods[tag]["compilers.common"].lower(
                spec_new if tag == "new" else spec_base, pops[tag].masks(spec_new if tag == "new" else spec_base),
                "float")) for tag in mods})
        if "tell" not in skip:
            timeit("tell", {tag: (lambda tag=tag: ecs[tag].tell(sts[tag], pops[tag], fitness)) for tag in mods})
        print(f"  round {rnd + 1}/{args.rounds} done (load {os.getloadavg()[0]:.1f})", flush=True)

    per = {"input current": P, "substeps float": P, "substeps fixed": P, "control step float": P * len(X),
           "control step fixed": P * len(X), "sample one member": 8}
    print("\nbit-exactness:")
    for c in checks:
        print("  " + c)
    print(f"\n(best of {args.rounds} rounds, {'CPU time of the one thread' if clock is time.thread_time else 'wall clock'};"
          " base and new alternate which goes first)")
    print(f"{'part':24s} {'base':>11s} {'new':>14s} {'base/new':>9s}")
    for part, r in results.items():
        unit, scale = ("us/member", 1e6 / per[part]) if part in per else ("s", 1.0)
        if part.startswith("control step"):
            unit = "us/member-step"
        if part == "sample one member":
            unit = "us/member"
        print(f"{part:24s} {r['base'] * scale:10.2f} {'':3s} {r['new'] * scale:10.2f}   {r['base'] / r['new']:8.2f}x"
              f"   ({unit})")


if __name__ == "__main__":
    main()
