"""Write a random deployed network (no training needed) for export benchmarks: random_net.py OUT.npz N N_OBS N_ACT IN_SCALE SEED [TASK]."""
from __future__ import annotations

import sys

import numpy as np

from ec_neuro.sample.masks import random_masks
from ec_neuro.deploy.deployed import Deployed, save
from ec_neuro.spec import NetworkSpec

if __name__ == "__main__":
    out, n, n_obs, n_act, in_scale, seed = sys.argv[1:7]
    spec = NetworkSpec(n_obs=int(n_obs), n_act=int(n_act), n_neurons=int(n), in_scale=float(in_scale))
    task = sys.argv[7] if len(sys.argv) > 7 else None
    save(out, Deployed(spec, random_masks(spec, 1, int(seed)), np.zeros(spec.n_obs), np.ones(spec.n_obs), task, {}))
