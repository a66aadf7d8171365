"""Every generation, check the fast tier that trains against the backend's reference models, bit for bit.

`ecneuro train --backend lava-sim` trains on the fastest bit-exact tier (fused-k).  Each verified generation
(`--verify every` by default, `N` for every N-th, `off`) picks a few slots: the deterministic network (its
first episode slot) and `verify_members` members sampled from (seed, generation).  For each of them:

1. readout: the fast tier's arithmetic replays, open loop, the exact bias the slot's graph received in
   training, over every control step of its episode; its readout r must equal, bit for bit, what the live
   graph returned in training (this covers the Lava process, its host channels and the population loaded
   into the reused graph);
2. states: Intel's stock models (PyLifModelBitAcc + PySparseModelBitAcc, or the float models) replay one
   window of `verify_window` control steps, seeded with the fast tier's state (u, v, the spikes in flight in
   Sparse's buffer, r) at the window's start; u, v and the spikes of every substep, and r of every control
   step, must equal the fast tier's.
   The window: verification number j = generation // every; a slot whose episode lasted L control steps is
   checked on window number i = j mod ceil(L / window), control steps [i * window, (i + 1) * window), the
   last window moved back to [L - window, L); so consecutive verified generations tile whole episodes.

Any difference stops the run with VerificationError: which slot (member or deterministic network), which
control step and substep, which quantity (u, v, s, r), how many neurons, the first one's values; the full
report goes to `verify-failure.json` in the run directory.  There is no fallback.  metrics.jsonl's
`verified` records what each generation checked.

    train side:   verifier = Verifier(cfg); plan = verifier.plan(pop); ...; row["verified"] = verifier.check(res)
    worker side:  host/rollout.run_request records the slots (TaskLoop(record=...)) and calls `run`.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import files, registry
from ..errors import UserError

SALT = 0x7E51F  # member sampling stream: (seed, generation, SALT)


class VerificationError(UserError):
    """The fast tier and the reference models differ: the run stops (exit status 3) with this report."""

    exit_code = 3

    def __init__(self, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = report or {}

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (str(self), self.report))


def parse_every(value: Any) -> int | None:
    """--verify: "every" -> 1, "off" (or false) -> None, N (an integer >= 1, or its digits) -> N."""
    if value is False or value is None or value == "off":
        return None
    if value == "every" or value is True:
        return 1
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise UserError(f"verify must be 'every', 'off' or a number of generations N >= 1 (every N-th), got {value!r}",
                    "verify")


@dataclass(frozen=True)
class VerifyPlan:
    """What one generation checks: slot indices (the population's numbering), window length, window phase."""

    slots: tuple[int, ...]
    window: int
    phase: int
    size: int  # population size: slots >= size are the deterministic network's episodes


class Verifier:
    """Train side: which slots each generation verifies, and what their reports mean."""

    def __init__(self, cfg: Any, run_dir: Path | None = None) -> None:
        self.every = parse_every(cfg.verify)
        self.members, self.window = cfg.verify_members, cfg.verify_window
        cls = registry.backend_class(cfg.backend)
        ref = getattr(cls, "reference_for", None)
        self.reference = ref(dict(cfg.backend_options), cfg.precision) if ref is not None else None
        self.fast = f"{cfg.backend} {dict(cfg.backend_options).get('tier', '')}".strip()
        self.run_dir = run_dir

    @property
    def active(self) -> bool:
        return self.every is not None and self.reference is not None

    def plan(self, pop: Any) -> VerifyPlan | None:
        """The slots and window to check this generation (None: not verified)."""
        if not self.active or pop.generation % self.every:
            return None
        rng = np.random.default_rng([pop.seed, pop.generation, SALT])
        members = sorted(int(i) for i in rng.choice(pop.size, size=min(self.members, pop.size), replace=False))
        return VerifyPlan((pop.size, *members), self.window, pop.generation // self.every, pop.size)

    def check(self, plan: VerifyPlan | None, res: Any, generation: int) -> dict[str, Any] | None:
        """metrics.jsonl's `verified` for this generation; VerificationError (and verify-failure.json) on any
        difference, or when a planned slot was not checked."""
        if plan is None:
            return None
        reports = {r["slot"]: r for r in res.verified}
        missing = [k for k in plan.slots if k not in reports]
        bad = [reports[k] for k in plan.slots if k in reports and not reports[k]["ok"]]
        if missing or bad:
            lines = [f"verification failed at generation {generation}: {self.fast} against {self.reference}"]
            lines += [f"  {r['what']}: {r['mismatch']['text']}" for r in bad]
            lines += [f"  slot {k}: not checked (its worker returned no report)" for k in missing]
            report = {"generation": generation, "fast": self.fast, "reference": self.reference,
                      "slots": [reports.get(k, {"slot": k, "ok": False, "missing": True}) for k in plan.slots]}
            if self.run_dir is not None:
                path = Path(self.run_dir) / "verify-failure.json"
                files.atomic_write(path, json.dumps(report, indent=2) + "\n")
                lines.append(f"  full report: {path}")
            raise VerificationError("\n".join(lines), report)
        slots = [{"slot": s, "kind": "det" if s >= plan.size else "member", "steps": reports[s]["steps"],
                  "window": reports[s]["window"]} for s in plan.slots]
        return {"reference": "stock", "fast": self.fast, "slots": slots,
                "substeps": int(sum(reports[s]["substeps"] for s in plan.slots)),
                "readout_steps": int(sum(reports[s]["steps"] for s in plan.slots)),
                "time_s": round(float(sum(reports[s]["time_s"] for s in plan.slots)), 4)}


def window_of(length: int, window: int, phase: int) -> tuple[int, int]:
    """Control steps [start, stop) checked on the stock models for an episode of `length` control steps:
    window number i = phase mod ceil(length / window), [i * window, (i + 1) * window), the last one moved back
    to end with the episode (so that every window but a whole short episode is `window` steps long)."""
    n = max(1, math.ceil(length / window))
    start = min((phase % n) * window, max(0, length - window))
    return start, min(start + window, length)


def local_slots(plan: VerifyPlan | None, slots: np.ndarray, backend: Any) -> np.ndarray | None:
    """Worker side: indices into `slots` (this request's) of the slots to record and verify, or None."""
    if plan is None or not hasattr(backend, "verify_replay"):
        return None
    idx = [i for i, k in enumerate(np.asarray(slots).tolist()) if k in plan.slots]
    return np.array(idx, dtype=np.int64) if idx else None


def _what(slot: int, size: int) -> str:
    return f"member {slot}" if slot < size else f"the deterministic network (slot {slot})"


def _first(a: np.ndarray, b: np.ndarray) -> int | None:
    """First row where a and b differ (rows: axis 0), or None."""
    diff = np.flatnonzero((np.asarray(a) != np.asarray(b)).reshape(len(a), -1).any(axis=1))
    return int(diff[0]) if diff.size else None


def _values(name: str, a: np.ndarray, b: np.ndarray, labels: tuple[str, str]) -> dict[str, Any]:
    """The differing neurons of one row: count, first neuron, its two values."""
    bad = np.flatnonzero(a != b)
    j = int(bad[0])
    num = (lambda x: int(x)) if name in ("u", "v", "s") and float(a[j]).is_integer() and float(b[j]).is_integer() \
        else (lambda x: float(x))
    return {"quantity": name, "neurons": int(bad.size), "neuron": j, labels[0]: num(a[j]), labels[1]: num(b[j])}


def compare(slot: int, size: int, K: int, rec_r: np.ndarray, length: int, start: int, stop: int,
            out: dict[str, Any], m: int) -> dict[str, Any]:
    """The report of one slot (index m in the replay's arrays)."""
    rep: dict[str, Any] = {"slot": slot, "what": _what(slot, size), "steps": length, "window": [start, stop],
                           "substeps": (stop - start) * K, "ok": True}
    t = _first(out["r"][:length, m], rec_r[:length])
    if t is not None:
        v = _values("r", rec_r[t], out["r"][t, m], ("training", "replay"))
        rep.update(ok=False, mismatch={
            "stage": "readout", "control_step": t, **v,
            "text": (f"the readout r the fast tier returned in training differs from the fast tier's replay of the "
                     f"same bias at control step {t} ({v['neurons']} neurons; neuron {v['neuron']}: "
                     f"training {v['training']!r}, replay {v['replay']!r})")})
        return rep
    fast, ref = out["fast"], out["stock"]
    firsts = {q: _first(fast[q][m], ref[q][m]) for q in ("u", "v", "s")}
    hit = [q for q in ("u", "v", "s") if firsts[q] is not None]
    if hit:
        k = min(firsts[q] for q in hit)
        which = [q for q in hit if firsts[q] == k]
        v = _values(which[0], fast[which[0]][m][k], ref[which[0]][m][k], ("fast", "stock"))
        step, sub = start + k // K, k % K
        others = "".join(f", {q} too ({int(np.count_nonzero(fast[q][m][k] != ref[q][m][k]))} neurons)"
                         for q in which[1:])
        rep.update(ok=False, mismatch={
            "stage": "states", "control_step": step, "substep": sub, "episode_substep": step * K + sub,
            "differ": which, **v,
            "text": (f"{which[0]} differs at control step {step}, substep {sub} (substep {step * K + sub} of the "
                     f"episode; window {start}-{stop}): {v['neurons']} neurons, first neuron {v['neuron']}: "
                     f"fast {v['fast']!r}, stock {v['stock']!r}{others}")})
        return rep
    t = _first(fast["r_window"][m], ref["r_window"][m])
    if t is not None:
        v = _values("r", fast["r_window"][m][t], ref["r_window"][m][t], ("fast", "stock"))
        rep.update(ok=False, mismatch={
            "stage": "states", "control_step": start + t, **v,
            "text": (f"the readout r differs after control step {start + t} (window {start}-{stop}): "
                     f"{v['neurons']} neurons, first neuron {v['neuron']}: fast {v['fast']!r}, stock {v['stock']!r}")})
    return rep


def run(backend: Any, program: Any, loop: Any, v0: np.ndarray, req: Any, idx: np.ndarray,
        copies: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Worker side, after the rollout: replay and compare the recorded network copies `idx` (indices into the
    program's population; `copies`[i] is copy i's slot, default req.slots)."""
    t0 = time.perf_counter()
    plan: VerifyPlan = req.verify
    bias, active, rec_r = loop.recorded()
    lengths = active.sum(axis=0).astype(np.int64)  # a slot is active on a prefix of the control steps
    bounds = np.array([window_of(max(int(L), 1), plan.window, plan.phase) for L in lengths], dtype=np.int64)
    starts, stops = bounds[:, 0], np.minimum(bounds[:, 1], np.maximum(lengths, 1))
    T = int(lengths.max())
    out = backend.verify_replay(program, idx, v0[idx], bias[:T], active[:T], starts, stops, plan.window)
    K = program.plan.substeps if hasattr(program, "plan") else loop.low.spec.neuron.substeps
    slots = np.asarray(req.slots if copies is None else copies)[idx]
    reports = [compare(int(slots[m]), plan.size, K, rec_r[:, m], int(lengths[m]), int(starts[m]), int(stops[m]),
                       out, m) for m in range(len(idx))]
    dt = (time.perf_counter() - t0) / max(1, len(reports))
    for r in reports:
        r["time_s"] = dt
    return reports
