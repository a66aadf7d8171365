"""Register a task of your own and train it on two worker processes.

    python examples/custom_task.py
    # the same from the shell, with the task named by module:Class:
    PYTHONPATH=examples ecneuro train --task point_target:PointTarget --workers 2

No `if __name__ == "__main__":` guard is needed: workers never re-run this script, they import the task by
the entry point recorded in the run's config.json (so `ecneuro train --resume` works later, too).
"""
import os

import ec_neuro as ecn

tiny = os.environ.get("EC_NEURO_TINY") == "1"  # the test suite runs every example at tiny sizes

ecn.register("PointTarget-v0", entry_point="point_target:PointTarget", population=16 if tiny else 32,
             generations=2 if tiny else 30)
print(ecn.check_task("PointTarget-v0") or "PointTarget-v0 satisfies the task interface")
run = ecn.train(task="PointTarget-v0", workers=2, network={"n_neurons": 32 if tiny else 128})
print(f"{run.path}: generation {run.last['generation']}, deterministic return {run.last['det_return']:.2f}")
