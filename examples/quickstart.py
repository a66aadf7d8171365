"""Train EC on CartPole-v1, evaluate the deployed network on 100 fresh episodes, draw the plots.

    python examples/quickstart.py                 # numpy backend, about 10 s on two cores
    python examples/quickstart.py lava-sim        # the same run through Lava's Loihi-2 simulator
"""
import os
import sys

import ec_neuro as ecn

backend = sys.argv[1] if len(sys.argv) > 1 else "numpy"
tiny = os.environ.get("EC_NEURO_TINY") == "1"  # the test suite runs every example at tiny sizes

run = ecn.train(task="CartPole-v1", backend=backend, **({"generations": 2, "population": 8} if tiny else {}))
report = ecn.evaluate(run, episodes=5 if tiny else 100, backend=backend)   # in the run's precision
print(f"{run.path}: mean return {report['mean']:.1f} ± {report['std']:.1f} over {report['episodes']} episodes, "
      f"solved: {report['solved']}")
print("plots:", *ecn.plot(run), sep="\n  ")
