"""Train, export the deployed network to NIR, read the file back and check it runs spike for spike the same.

The NIR graph is a recurrent CubaLIF (docs/export.md derives the mapping); `ecneuro export RUN --format nir`
writes the same file from the shell.
"""
import os
import tempfile
from pathlib import Path

import numpy as np

import ec_neuro as ecn

tiny = os.environ.get("EC_NEURO_TINY") == "1"
run = ecn.train(task="CartPole-v1", generations=2 if tiny else 30, population=8 if tiny else 64, progress=None)
out = Path(tempfile.mkdtemp()) / "cartpole.nir"
ecn.export(run, "nir", out)
back = ecn.import_nir(out)
net = run.network
same = all(np.array_equal(a, b) for a, b in zip(net.masks.groups().values(), back.masks.groups().values()))
print(f"wrote {out} ({out.stat().st_size} bytes); read back: {back.spec.n_neurons} neurons, masks identical: {same}")
report = ecn.crosscheck(back, steps=20, backends=["numpy"])       # the file's network on the numpy backend
print("reloaded network runs:", "yes" if report["passed"] else "NO")
