"""One table per kind of name, each entry a "module:attr" target imported only when used.

Backends, tasks, methods (strategies), networks, export formats, bench suites and CLI subcommands are all
looked up here: a typo gets "did you mean", a missing optional package names its install command, and every
target is a string that a new process (a spawned worker, a remote one) can import again by itself.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import MissingExtra, UserError, did_you_mean


@dataclass(frozen=True)
class BackendEntry:
    """A backend: where it lives, what installs it, which precisions (the first is its default) and options."""

    target: str
    extra: str = ""              # the pip extra that installs it ("" = always installed)
    module: str = ""             # the top-level module whose absence means the extra is missing
    dist: str = ""               # the distribution whose version `ecneuro info` reports
    precisions: tuple[str, ...] = ("float", "fixed")
    choices: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # option -> the values it takes
    summary: str = ""

    @property
    def default_precision(self) -> str:
        return self.precisions[0]

    def installed(self) -> bool:
        return not self.module or importlib.util.find_spec(self.module) is not None


BACKENDS: dict[str, BackendEntry] = {
    "numpy": BackendEntry("ec_neuro.backends.numpy:NumpyBackend", dist="numba",
                          summary="numba kernels, the whole population at once; float64 or Loihi-2 fixed point"),
    "lava-sim": BackendEntry("ec_neuro.backends.lava_sim:LavaSimBackend", "lava", "lava", "lava-nc",
                             precisions=("fixed", "float"),
                             choices={"tier": ("fused-k", "fused", "stock")},  # default first, as in the signature
                             summary="Lava's Loihi-2 simulator: fused tiers (default fused-k), checked against "
                                     "Intel's bit-accurate models (stock)"),
    "brian2": BackendEntry("ec_neuro.backends.brian2:Brian2Backend", "brian2", "brian2", "brian2",
                           choices={"target": ("cython", "numpy")},
                           summary="Brian2, the reference simulator (cython with strict compile flags)"),
}


@dataclass(frozen=True)
class TaskEntry:
    """A task: its class, the keyword arguments it is built with, and the run defaults that go with it."""

    target: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    extra: str = ""
    module: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)  # population, generations, target_return, ...


_GYM = "ec_neuro.tasks.gym:GymTask"
_EVENT_DEFAULTS = {"population": 128, "generations": 1500, "det_episodes": 1, "verify": "off",
                   "per_method": {"ec": {"population": 256, "strategy": {"lr": 0.05},
                                         "network": {"n_neurons": 128, "in_scale": 0.3},
                                         "task_options": {"batch_size": 64, "output": "counts"}}}}
TASKS: dict[str, TaskEntry] = {
    "CartPole-v1": TaskEntry(_GYM, {"env_id": "CartPole-v1"},
                             defaults={"population": 64, "generations": 100, "target_return": 475.0}),
    "Pendulum-v1": TaskEntry(_GYM, {"env_id": "Pendulum-v1"}, defaults={"population": 128, "generations": 200}),
    **{f"{name}-v5": TaskEntry(_GYM, {"env_id": f"{name}-v5", "locomotion": True}, "mujoco", "mujoco",
                               defaults={"population": 256, "generations": 1000})
       for name in ("Hopper", "Walker2d", "HalfCheetah", "Ant", "Humanoid")},
    # event classification (ec_neuro/tasks/events/, docs/events.md): digits-events is an offline stand-in, not N-MNIST
    "digits-events": TaskEntry("ec_neuro.tasks.events.classify:DigitsEventsTask",
                               defaults=_EVENT_DEFAULTS),
    "nmnist": TaskEntry("ec_neuro.tasks.events.classify:NMNISTTask", defaults=_EVENT_DEFAULTS),
}

@dataclass(frozen=True)
class MethodEntry:
    """A training method: its strategy class and the network kinds it trains."""

    target: str
    networks: tuple[str, ...]
    summary: str = ""


_REAL = ("dense-rsnn", "gru", "lstm", "lif-classifier")  # the first, dense-rsnn, is the default (control tasks)
METHODS: dict[str, MethodEntry] = {  # the first network of each is its default
    "ec": MethodEntry("ec_neuro.strategies.ec:EC", ("ei-rsnn",),
                      "Evolving Connectivity: NES over the probabilities of 1-bit E/I connections"),
    "es": MethodEntry("ec_neuro.strategies.es:ES", _REAL,
                      "OpenAI-ES on real weights, as the reference's es_dense.py (antithetic, centred ranks, AdamW)"),
    "eggroll": MethodEntry("ec_neuro.strategies.eggroll:EGGROLL", _REAL,
                           "low-rank ES: rank-r perturbations A B^T / sqrt(r) per weight matrix, never materialised"),
}


@dataclass(frozen=True)
class NetworkEntry:
    """A network kind: its spec class (frozen, validated, `from_dict`) and the backends that run it."""

    spec: str
    backends: tuple[str, ...]
    summary: str = ""
    precisions: tuple[str, ...] = ()  # () = whatever the backend offers


_W = "ec_neuro.spec.weights:"
NETWORKS: dict[str, NetworkEntry] = {
    "ei-rsnn": NetworkEntry("ec_neuro.spec:NetworkSpec", ("numpy", "lava-sim", "brian2"),
                            "the E/I CUBA-LIF recurrent network of EC, every connection one bit"),
    # real weights run on the host CPU (numpy/numba population forwards, ec_neuro/networks/): README, "Methods"
    "dense-rsnn": NetworkEntry(_W + "DenseRSNNSpec", ("numpy",),
                               "the reference's dense RSNN: EC's LIF with signed real weights, no E/I split", ("float",)),
    "gru": NetworkEntry(_W + "GRUSpec", ("numpy",), "a GRU policy (hidden 256) and a linear readout", ("float",)),
    "lstm": NetworkEntry(_W + "LSTMSpec", ("numpy",), "an LSTM policy (hidden 128) and a linear readout", ("float",)),
    "lif-classifier": NetworkEntry("ec_neuro.spec.classifier:LIFClassifierSpec", ("numpy",),
                                   "the EGGROLL paper's two-layer LIF classifier of event frames (N-MNIST), "
                                   "classification tasks only", ("float",)),
}

# export format -> writer target
FORMATS: dict[str, str] = {
    "nir": "ec_neuro.deploy.nir:write",
    "loihi": "ec_neuro.deploy.loihi:write",
    "npz": "ec_neuro.deploy.npz:write",
    "netx": "ec_neuro.deploy.netx:write",   # lava-dl's netx HDF5 (runs with netx.hdf5.Network, extra [dl])
}

# `ecneuro bench --suite NAME` -> run(quick) target
SUITES: dict[str, str] = {
    "core": "ec_neuro.bench.core:run",      # EC vs a dense float network vs MuJoCo physics
    "lava": "ec_neuro.bench.lava:run",      # lava-sim tiers vs the naive layout vs numpy fixed point
    "brian2": "ec_neuro.bench.brian2:run",  # brian2 vs numpy float, population 64 closed loop
    "methods": "ec_neuro.bench.methods:run",  # EC vs ES-RSNN vs EGGROLL-RSNN vs ES-GRU vs ES-LSTM, per generation
    "workers": "ec_neuro.bench.workers:run",  # generation time vs process / Ray workers, bytes per generation
    "events": "ec_neuro.bench.events:run",    # EGGROLL vs full-rank ES on the N-MNIST LIF classifier: s/gen, memory
}

# `ecneuro NAME` -> click command target
COMMANDS: dict[str, str] = {
    "train": "ec_neuro.cli.train:train",
    "eval": "ec_neuro.cli.evaluate:evaluate",
    "tasks": "ec_neuro.cli.tasks:tasks",
    "plot": "ec_neuro.cli.plot:plot",
    "crosscheck": "ec_neuro.cli.crosscheck:crosscheck",
    "export": "ec_neuro.cli.export:export",
    "import": "ec_neuro.cli.export:import_",
    "info": "ec_neuro.cli.info:info",
    "bench": "ec_neuro.cli.bench:bench",
    "compare": "ec_neuro.cli.compare:compare",
}


def load(target: str, what: str = "", extra: str = "", module: str = "") -> Any:
    """Import "pkg.module:attr"; an ImportError of `module` becomes the exact install command for `extra`."""
    mod_name, _, attr = target.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if extra and e.name and e.name.split(".")[0] == module:
            raise MissingExtra(what or target, module, extra) from None
        raise
    try:
        return getattr(mod, attr)
    except AttributeError:
        raise UserError(f"{what or target}: module {mod_name!r} has no attribute {attr!r}") from None


def lookup(table: Mapping[str, Any], kind: str, name: str) -> Any:
    """table[name], or an 'unknown <kind>' error with the closest names."""
    if not isinstance(name, str) or name not in table:
        raise did_you_mean(kind, str(name), table)
    return table[name]


def backend(name: str) -> BackendEntry:
    return lookup(BACKENDS, "backend", name)


def backend_class(name: str) -> Any:
    entry = backend(name)
    return load(entry.target, f"backend {name!r}", entry.extra, entry.module)


def backend_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options backend `name` is built with, its defaults filled in; an option it does not take, or a value
    outside its choices, is a UserError naming what it takes."""
    cls = backend_class(name)
    params = [p for p in inspect.signature(cls).parameters.values()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    known = {p.name: p.default for p in params}
    for key, value in options.items():
        if not known:
            raise UserError(f"backend {name!r} takes no options (backend_options), got {key!r}")
        if key not in known:
            raise did_you_mean(f"option of backend {name!r} (backend_options)", key, known)
        allowed = BACKENDS[name].choices.get(key)
        if allowed and value not in allowed:
            raise UserError(f"backend {name!r} option {key}={value!r} is not one of {', '.join(map(str, allowed))}")
    return {**{k: v for k, v in known.items() if v is not inspect.Parameter.empty}, **options}


def make_backend(name: str, **options: Any) -> Any:
    """An instance of backend `name` with `options` (checked by name and value)."""
    return backend_class(name)(**backend_options(name, options))


def method_class(name: str) -> Any:
    return load(lookup(METHODS, "method", name).target, f"method {name!r}")


def network_spec(d: Mapping[str, Any]) -> Any:
    """The spec of the network kind d["kind"] (default ei-rsnn) from its fields."""
    fields = dict(d)
    kind = fields.pop("kind", "ei-rsnn")
    entry = lookup(NETWORKS, "network", kind)
    return load(entry.spec, f"network {kind!r}").from_dict(fields)


def check_combination(method: str, network: str, backend: str, precision: str | None = None) -> None:
    """Refuse, in one line listing what works, a method that does not train this network, or a backend (or a
    precision) that does not run it."""
    m, n = lookup(METHODS, "method", method), lookup(NETWORKS, "network", network)
    if network not in m.networks:
        pairs = "; ".join(f"{k}: {', '.join(v.networks)}" for k, v in METHODS.items())
        raise UserError(f"method {method!r} does not train network {network!r}. Supported: {pairs}", "method")
    if backend not in n.backends:
        raise UserError(f"network {network!r} runs on {', '.join(n.backends)}, not on backend {backend!r}",
                        "backend")
    if precision is not None and n.precisions and precision not in n.precisions:
        raise UserError(f"network {network!r} runs in {', '.join(n.precisions)} precision only, not {precision!r}",
                        "precision")
