"""Classification tasks on event frames: `digits-events` (offline stand-in) and `nmnist` (a local N-MNIST tree).

A classification task (`kind = "classify"`) is evaluated by host/classify.py, not stepped by the control loop:

    frames, labels = task.batch(seed, generation)  # the training mini-batch: (B, T, D) float32, (B,) int64,
                                                   # a pure function of (seed, generation)
    frames, labels = task.split("val")             # "train" | "val" | "test": (n, T, D) float32, (n,) int64
    fitness, accuracy = task.score(logits, labels) # logits (S, B, n_classes) of S networks on the batch
    rows = task.det_rows()                         # the validation rows the deterministic network is scored on

frames = counts * scale, with one data-derived scale such that E_t ||x_t||^2 = 1 over the training split.
fitness = -mean_b CE(softmax(logits_b), y_b) (loss "ce", the default) or the batch accuracy (loss "accuracy").
It still offers the Task interface (reset/step: each copy plays one training sample, its actions in [-1, 1] the
per-bin logits, its return the sample's negative cross-entropy), so check_task, `ecneuro tasks` and the raster of
`ecneuro plot` work on it (an episode is n_bins steps: the option max_steps is accepted and ignored).
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...errors import UserError
from . import dataset

LOSSES = ("ce", "accuracy")
OUTPUTS = ("readout", "counts")
BATCH_KEY = 0xBA7C


def _positive_int(name: str, val: Any) -> int:
    if not isinstance(val, int) or isinstance(val, bool) or val < 1:
        raise UserError(f"task option {name} must be a positive integer, got {val!r}", f"task_options.{name}")
    return val


def neg_ce(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """logits (S, B, C), labels (B,) -> (-mean_b CE (S,), accuracy (S,)); CE = logsumexp(z_b) - z_b[y_b]."""
    z = logits - logits.max(-1, keepdims=True)
    ce = np.log(np.exp(z).sum(-1)) - np.take_along_axis(z, labels[None, :, None], -1)[..., 0]
    return -ce.mean(-1), (logits.argmax(-1) == labels[None]).mean(-1)


class ClassifyTask:
    """Frames of an event dataset as a classification task; subclasses say where the data comes from (`_load`)."""

    kind: ClassVar[str] = "classify"
    n_classes: ClassVar[int] = 10
    defaults: ClassVar[dict[str, Any]] = {}
    control_period = None

    def __init__(self, population: int = 1, n_bins: int = 3, pool: int = 2, batch_size: int = 32, loss: str = "ce",
                 output: str = "readout", logit_gain: float = 1.0, split_seed: int = 0,
                 det_samples: int | None = 1000) -> None:
        self.det_samples = None if det_samples is None else _positive_int("det_samples", det_samples)
        self.n_bins = _positive_int("n_bins", n_bins)
        self.pool = _positive_int("pool", pool)
        self.batch_size = _positive_int("batch_size", batch_size)
        if loss not in LOSSES:
            raise UserError(f"task option loss must be one of {', '.join(LOSSES)}, got {loss!r}", "task_options.loss")
        if output not in OUTPUTS:
            raise UserError(f"task option output must be one of {', '.join(OUTPUTS)}, got {output!r}",
                            "task_options.output")
        if isinstance(logit_gain, bool) or not isinstance(logit_gain, (int, float)) or not np.isfinite(logit_gain) \
                or logit_gain <= 0:
            raise UserError(f"task option logit_gain must be a positive number, got {logit_gain!r}",
                            "task_options.logit_gain")
        self.loss, self.output, self.logit_gain, self.split_seed = loss, output, float(logit_gain), int(split_seed)
        self.n_act = self.n_classes
        self.max_steps = self.n_bins
        self._data: dataset.EventData | None = None
        self.resize(population)

    # --------------------------------------------------------------------------------------------- the data
    def _load(self) -> dataset.EventData:
        raise NotImplementedError

    @property
    def data(self) -> dataset.EventData:
        """The splits, loaded (or built and cached) on first use."""
        if self._data is None:
            self._data = self._load()
        return self._data

    @property
    def scale(self) -> float:
        """The input scale: frames = counts * scale, E_t ||x_t||^2 = 1 over the training split."""
        return self.data.scale

    def batch_indices(self, seed: int, generation: int) -> np.ndarray:
        """Training rows of generation `generation`'s mini-batch: a pure function of (seed, generation)."""
        n = len(self.data.labels["train"])
        rng = np.random.default_rng([int(seed), int(generation), BATCH_KEY])
        return rng.choice(n, min(self.batch_size, n), replace=False)

    def batch_counts(self, seed: int, generation: int) -> tuple[np.ndarray, np.ndarray]:
        """The mini-batch as counts (B, T, D) uint16 and labels (B,) int64."""
        idx = self.batch_indices(seed, generation)
        return self.data.counts["train"][idx], self.data.labels["train"][idx]

    def batch(self, seed: int, generation: int) -> tuple[np.ndarray, np.ndarray]:
        """The training mini-batch: frames (B, T, D) float32 (scaled), labels (B,) int64."""
        counts, labels = self.batch_counts(seed, generation)
        return (counts * np.float32(self.scale)).astype(np.float32), labels

    def split_counts(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A whole split as counts (n, T, D) uint16 and labels (n,) int64."""
        if name not in dataset.SPLITS:
            raise UserError(f"split must be one of {', '.join(dataset.SPLITS)}, got {name!r}")
        return self.data.counts[name], self.data.labels[name]

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A whole split: frames (n, T, D) float32 (scaled), labels (n,) int64."""
        counts, labels = self.split_counts(name)
        return (counts * np.float32(self.scale)).astype(np.float32), labels

    def det_rows(self) -> np.ndarray:
        """Rows of the validation split the deterministic network is scored on every generation: all of them, or a
        fixed random det_samples of them (sorted)."""
        n = len(self.data.labels["val"])
        if self.det_samples is None or self.det_samples >= n:
            return np.arange(n)
        rng = np.random.default_rng([self.split_seed, 0xDE7])
        return np.sort(rng.choice(n, self.det_samples, replace=False))

    def score(self, logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fitness (S,) and accuracy (S,) of logits (S, B, n_classes) against labels (B,)."""
        nce, acc = neg_ce(np.asarray(logits, np.float64), labels)
        fit = nce if self.loss == "ce" else acc.astype(np.float64)
        fit = np.where(np.isfinite(fit), fit, np.nan)
        return fit, acc

    # --------------------------------------------------------------------------------------------- Task interface
    def resize(self, population: int) -> None:
        self.population = int(population)
        self.returns = np.zeros(self.population)
        self.lengths = np.zeros(self.population, np.int64)
        self._acc = np.zeros((self.population, self.n_classes))
        self._rows = np.zeros(self.population, np.int64)

    def reset(self, seeds: np.ndarray) -> np.ndarray:
        """Copy i plays training sample seeds[i] mod n_train; the observation is its first frame."""
        seeds = np.asarray(seeds)
        if len(seeds) != self.population:
            self.resize(len(seeds))
        self.returns[:] = 0.0
        self.lengths[:] = 0
        self._acc[:] = 0.0
        self._rows = seeds.astype(np.int64) % len(self.data.labels["train"])
        return self._obs()

    def _obs(self) -> np.ndarray:
        t = np.minimum(self.lengths, self.n_bins - 1)
        counts = self.data.counts["train"][self._rows, t]
        return counts.astype(np.float64) * self.scale

    def step(self, actions: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Accumulate the active copies' actions as logits; after n_bins steps a copy is done, its return -CE."""
        active = np.asarray(active, bool)
        self._acc[active] += actions[active]
        self.lengths[active] += 1
        done = ~active | (self.lengths >= self.n_bins)
        end = active & done
        if end.any():
            y = self.data.labels["train"][self._rows[end]]
            logits = self._acc[end] * (self.logit_gain / self.n_bins)
            z = logits - logits.max(-1, keepdims=True)
            self.returns[end] = -(np.log(np.exp(z).sum(-1)) - z[np.arange(len(y)), y])
        return self._obs(), done

    def metrics(self) -> dict[str, np.ndarray]:
        return {}

    def close(self) -> None:
        pass


class DigitsEventsTask(ClassifyTask):
    """digits-events: scikit-learn's 8x8 digits moved along N-MNIST's saccades into DVS events (a stand-in, not
    N-MNIST); `realisations` event realisations of the training digits (augmentation)."""

    defaults: ClassVar[dict[str, Any]] = {}  # the run defaults live in registry.TASKS

    def __init__(self, population: int = 1, n_bins: int = 3, pool: int = 2, batch_size: int = 32, loss: str = "ce",
                 output: str = "readout", logit_gain: float = 1.0, split_seed: int = 0, realisations: int = 4,
                 event_seed: int = 0, limit: int | None = None, det_samples: int | None = 1000,
                 max_steps: int | None = None) -> None:
        self.realisations = _positive_int("realisations", realisations)
        self.event_seed = int(event_seed)
        self.limit = None if limit is None else _positive_int("limit", limit)
        super().__init__(population, n_bins, pool, batch_size, loss, output, logit_gain, split_seed, det_samples)
        side = 34 // self.pool
        dataset._check_pool(self.pool, 34)
        self.n_obs = 2 * side * side

    def _load(self) -> dataset.EventData:
        return dataset.digits_splits(self.n_bins, self.pool, self.realisations, self.split_seed, self.event_seed,
                                     self.limit)


class NMNISTTask(ClassifyTask):
    """N-MNIST from the local tree `data` (Train/ and Test/ folders of per-class .bin files, or their zips)."""

    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, population: int = 1, data: str | None = None, n_bins: int = 3, pool: int = 2,
                 batch_size: int = 32, loss: str = "ce", output: str = "readout", logit_gain: float = 1.0,
                 split_seed: int = 0, crop: int | None = None, denoise_us: float | None = None,
                 val_frac: float = 0.1, limit: int | None = None, det_samples: int | None = 1000,
                 max_steps: int | None = None) -> None:
        from . import nmnist
        if not data:
            raise UserError(f"task nmnist needs its data folder: --data DIR (task_options.data). "
                            f"{nmnist.GET_DATA}", "data")
        for split in ("train", "test"):
            nmnist.locate(data, split)  # a wrong folder is refused now, naming it
        self.data_dir, self.crop, self.denoise_us = str(data), crop, denoise_us
        self.val_frac, self.limit = float(val_frac), limit
        super().__init__(population, n_bins, pool, batch_size, loss, output, logit_gain, split_seed, det_samples)
        side = 34 if crop is None else int(crop)
        dataset._check_pool(self.pool, side)
        self.n_obs = 2 * (side // self.pool) ** 2

    def _load(self) -> dataset.EventData:
        return dataset.nmnist_splits(self.data_dir, self.n_bins, self.pool, self.crop, self.denoise_us,
                                     self.val_frac, self.split_seed, self.limit)
