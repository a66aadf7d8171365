"""Progress of a training run: a tqdm bar on a terminal, one plain line per generation elsewhere (CI, logs)."""
from __future__ import annotations

import sys
from typing import Any, Callable

Progress = Callable[[dict[str, Any]], None]

FMT = ("gen {generation:>4}  best {best:9.2f}  mean {mean:9.2f}  det {det_return:9.2f}  "
       "rate {spike_rate:.4f}  {gen_time:6.1f}s")


def line(row: dict[str, Any]) -> str:
    """One generation's row as a person reads it."""
    clean = {k: (float("nan") if v is None else v) for k, v in row.items()}
    clean.setdefault("spike_rate", float("nan"))
    text = FMT.format(**clean)
    if "mean_rho" in row:
        text += f"  rho {row['mean_rho']:.3f}"
    if "det_accuracy" in row:  # a classification task: batch accuracy of the members, validation of the det
        text += f"  acc {row['mean_accuracy']:.3f} val {row['det_accuracy']:.3f}"
    if "det_forward_distance" in row:
        text += f"  fwd {row['det_forward_distance']:.2f}m"
    c = row.get("confirmed")
    if c:
        text += (f"  confirm: {c['mean']:.1f} over {c['episodes']} fresh episodes, "
                 f"{'SOLVED' if c['solved'] else 'not solved (training on)'}")
    v = row.get("verified")
    if isinstance(v, dict):  # host/verify.py: a failure raises, so a row that has one passed
        text += f"  verified ok ({len(v['slots'])} slots, {v['substeps']} substeps on {v['reference']})"
    return text


def reporter(progress: Progress | str | bool | None, total: int, first: int = 0) -> Progress:
    """`progress`: a callable (used as is), "auto"/True (bar on a terminal, lines otherwise), None/False (silent)."""
    if callable(progress):
        return progress
    if not progress:
        return lambda row: None
    if sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=total, initial=first, unit="gen", dynamic_ncols=True, file=sys.stderr)

        def update(row: dict[str, Any]) -> None:
            bar.n = row["generation"] + 1
            det, best = row.get("det_return"), row.get("best")
            bar.set_postfix_str(f"det {det if det is None else round(det, 1)} best "
                                f"{best if best is None else round(best, 1)}")
            bar.write(line(row))
        return update
    return lambda row: print(line(row), file=sys.stderr, flush=True)
