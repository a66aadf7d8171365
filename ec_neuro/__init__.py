"""ec-neuro: Evolving Connectivity for recurrent spiking networks, from training to neuromorphic chips.

    import ec_neuro as ecn

    run = ecn.train(task="CartPole-v1", backend="numpy", run_dir="runs/cartpole")   # -> Run
    report = ecn.evaluate(run, episodes=100, backend="lava-sim")                     # the run's precision
    ecn.export(run, "nir", "cartpole.nir")

The verbs, one per idea: train, resume, load_run, load_network, evaluate, export, import_nir, crosscheck, plot,
compare (several methods on one task), register (a task), check_task, list_tasks.  The data: NetworkSpec,
NeuronParams, TrainConfig (and `config` to resolve one), EC/ECParams, ES/ESParams, EGGROLL/EGGROLLParams
(ask/tell), Population, Policy (a population you step yourself), UserError.
Attributes are imported on first use, so `import ec_neuro` is cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API: dict[str, str] = {
    "train": "ec_neuro.host.train:train",
    "resume": "ec_neuro.host.train:resume",
    "load_run": "ec_neuro.host.train:load_run",
    "Run": "ec_neuro.host.train:Run",
    "config": "ec_neuro.host.config:config",
    "TrainConfig": "ec_neuro.host.config:TrainConfig",
    "evaluate": "ec_neuro.host.evaluate:evaluate",
    "load_network": "ec_neuro.deploy.deployed:as_network",
    "export": "ec_neuro.deploy:export",
    "import_nir": "ec_neuro.deploy:import_nir",
    "crosscheck": "ec_neuro.analysis.crosscheck:crosscheck",
    "plot": "ec_neuro.analysis.plots:plot_run",
    "register": "ec_neuro.tasks.resolve:register",
    "check_task": "ec_neuro.tasks.check:check",
    "list_tasks": "ec_neuro.tasks.check:describe_all",
    "NetworkSpec": "ec_neuro.spec:NetworkSpec",
    "NeuronParams": "ec_neuro.spec:NeuronParams",
    "EC": "ec_neuro.strategies.ec:EC",
    "ECParams": "ec_neuro.strategies.ec:ECParams",
    "ES": "ec_neuro.strategies.es:ES",
    "ESParams": "ec_neuro.strategies.es:ESParams",
    "EGGROLL": "ec_neuro.strategies.eggroll:EGGROLL",
    "EGGROLLParams": "ec_neuro.strategies.eggroll:EGGROLLParams",
    "compare": "ec_neuro.host.compare:compare",
    "Population": "ec_neuro.strategies.base:Population",
    "Policy": "ec_neuro.host.policy:Policy",
    "Deployed": "ec_neuro.deploy.deployed:Deployed",
    "UserError": "ec_neuro.errors:UserError",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    target = _API.get(name)
    if target is None:
        raise AttributeError(f"module 'ec_neuro' has no attribute {name!r}")
    mod, attr = target.split(":")
    value = getattr(importlib.import_module(mod), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
