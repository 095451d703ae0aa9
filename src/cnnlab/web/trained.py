"""Trained models and their test-set evaluations, loaded once and kept while their checkpoint
stays the same (a run still training writes new ones: they are then loaded again)."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import torch
from PIL import Image

from cnnlab.analysis import metrics
from cnnlab.runs.checkpoint import TrainedModel, find_checkpoint, load_trained
from cnnlab.runs.rundir import RunDir

T = TypeVar("T")
KEEP_MODELS = 8
KEEP_EVALUATIONS = 3  # each holds a test split's images (MNIST 7.8 MB, CIFAR-10 31 MB)
CELL_IMAGES = 64  # test images shown for one confusion cell


class StampedCache(Generic[T]):
    """At most ``size`` values by key, each valid while its file's (mtime, size) stamp holds."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Path, tuple[tuple[int, int], T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, build: Callable[[], T]) -> T:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            item = self._items.get(path)
            if item and item[0] == stamp:
                self._items.move_to_end(path)
                return item[1]
        value = build()  # outside the lock: loading one model must not hold up the others
        with self._lock:
            self._items[path] = (stamp, value)
            self._items.move_to_end(path)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


@dataclass
class RunEvaluation:
    """The test split's evaluation of a run's model, with each image's prediction."""

    evaluation: metrics.Evaluation
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor
    predictions: torch.Tensor

    def cell(self, true: int, predicted: int, limit: int = CELL_IMAGES) -> tuple[list[int], int]:
        """The first ``limit`` indices of the images of ``true`` predicted as ``predicted``, and
        how many there are."""
        hits = torch.nonzero((self.labels == true) & (self.predictions == predicted)).flatten()
        return hits[:limit].tolist(), int(hits.numel())


class TrainedModels:
    """Loads runs' models and evaluations on demand (a model for each checkpoint file)."""

    def __init__(self, data_dir: str | Path | None = None):
        self.data_dir = data_dir
        self._models: StampedCache[TrainedModel] = StampedCache(KEEP_MODELS)
        self._evaluations: StampedCache[RunEvaluation] = StampedCache(KEEP_EVALUATIONS)
        # PyTorch modules are not safe to run from two threads at once (hooks, eval mode).
        self.lock = threading.RLock()

    def model(self, run_dir: RunDir) -> TrainedModel:
        checkpoint = find_checkpoint(run_dir.root)
        return self._models.get(checkpoint, lambda: load_trained(checkpoint))

    def evaluation(self, run_dir: RunDir) -> RunEvaluation:
        trained = self.model(run_dir)
        return self._evaluations.get(trained.checkpoint, lambda: self._evaluate(run_dir, trained))

    def _evaluate(self, run_dir: RunDir, trained: TrainedModel) -> RunEvaluation:
        dataset = metrics.load_split(run_dir.root, trained, "test", data_dir=self.data_dir)
        with self.lock:
            logits = metrics.predict_logits(trained, dataset.images)
        evaluation = metrics.summarize(logits, dataset.labels, trained.classes)
        return RunEvaluation(evaluation, dataset.images, dataset.labels.long(), logits.argmax(dim=1))


def png_bytes(pixels: torch.Tensor) -> bytes:
    """A uint8 image (C, H, W), 1 or 3 channels, as PNG."""
    array = pixels.permute(1, 2, 0).numpy()
    image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
