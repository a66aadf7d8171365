"""One network on every installed backend (numpy, lava-sim, brian2) in both precisions, compared substep by substep.

Same-precision runs must be bit-identical in u, v and spikes; fixed vs float are compared by firing rates.
    python examples/crosscheck.py [RUN_DIR]       # default: a random 64-neuron network
"""
import os
import sys
import tempfile

import ec_neuro as ecn

source = sys.argv[1] if len(sys.argv) > 1 else None
steps = 5 if os.environ.get("EC_NEURO_TINY") == "1" else 100
out = tempfile.mkdtemp(prefix="crosscheck-")
report = ecn.crosscheck(source, random=None if source else 7, steps=steps, out=out)
for pair in report["pairs"]:
    print(f"{'ok  ' if pair['passed'] else 'FAIL'} {pair['a']:14s} vs {pair['b']:12s} {pair['verdict']}")
print(("PASSED" if report["passed"] else "FAILED"), "- report and figure in", out)
