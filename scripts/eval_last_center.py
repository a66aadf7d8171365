"""Validation and test accuracy of a classification run's LAST center (checkpoint.npz), beside `ecneuro eval
RUN/best.npz` (the center chosen on validation -CE).  Real-weight classifiers (lif-classifier) on digits-events.

    PYTHONPATH=$PWD .venv/bin/python scripts/eval_last_center.py runs/RUN
"""
import json
import sys

import numpy as np

from ec_neuro import registry
from ec_neuro.networks.lif2 import classify
from ec_neuro.strategies.es import ESPopulation
from ec_neuro.tasks.events.classify import DigitsEventsTask

run = sys.argv[1]
cfg = json.load(open(f"{run}/config.json"))
spec = registry.network_spec(cfg["network"])
center = np.load(f"{run}/checkpoint.npz")["state.center"]
task = DigitsEventsTask(**cfg["task_options"])
pop = ESPopulation(0, 0, 0, center, sigma=0.0)  # size 0: slot 0 is the center
for split in ("val", "test"):
    X, y = task.split(split)
    logits, _ = classify(spec, pop, [0], X)
    print(f"{run} {split}: last center accuracy {(logits[0].argmax(-1) == y).mean():.4f} ({len(y)} samples)")
