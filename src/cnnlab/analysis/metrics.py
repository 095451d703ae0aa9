"""How a trained classifier does on a split: accuracy, per-class scores, confusions, worst mistakes.

The functions on tensors (:func:`confusion_matrix`, :func:`class_scores`, :func:`most_confused`,
:func:`confident_mistakes`, :func:`evaluation_from_logits`) know nothing of models.
:func:`predict_logits` runs a model over a uint8 image tensor in large batches under
``torch.inference_mode``; :func:`evaluate_trained` joins the two for a
:class:`~cnnlab.runs.TrainedModel` (the trainer's own per-epoch metrics are
:func:`cnnlab.training.evaluate`'s); :func:`load_split` finds the images a run is
judged on (its test split, or the validation split it held out while training).

Conventions, as in scikit-learn: rows of the confusion matrix are the true classes, columns the
predicted ones; a precision or recall whose denominator is 0 (a class never predicted, or absent
from the split) is reported as 0.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from cnnlab.errors import CnnlabError, ConfigError

if TYPE_CHECKING:
    from cnnlab.analysis.images import ConvertedImage
    from cnnlab.data import ImageDataset
    from cnnlab.runs import TrainedModel

SPLITS = ("test", "val")
# Large batches keep evaluation fast; the default shrinks with the image so that the activations of
# a wide network on 224x224 inputs still fit in memory (512 at 32x32, 16 at 224x224).
_PIXELS_PER_BATCH = 2**19


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and F1 of one class, and how many images of it the split holds."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Confusion:
    """An ordered pair of classes the model mixes up: ``count`` images of ``true`` called ``predicted``."""

    true: str
    predicted: str
    count: int


@dataclass(frozen=True)
class Mistake:
    """One misclassified image, with the probabilities the model gave."""

    index: int  # position in the evaluated split
    true: int
    predicted: int
    probability: float  # of the predicted class
    true_probability: float
    loss: float  # cross-entropy, -log(true_probability)


@dataclass
class Evaluation:
    """Everything :func:`evaluation_from_logits` measured; ``to_dict`` is what ``cnnlab eval --json``
    prints."""

    classes: list[str]
    accuracy: float
    loss: float
    confusion: torch.Tensor  # int64 (K, K): rows true, columns predicted
    per_class: list[ClassScores]
    most_confused: list[Confusion]
    mistakes: list[Mistake]  # the most confidently wrong, most confident first

    @property
    def num_images(self) -> int:
        return int(self.confusion.sum())

    @property
    def num_correct(self) -> int:
        return int(self.confusion.diagonal().sum())

    def macro_average(self) -> dict[str, float]:
        """The unweighted mean over classes present in the split (scikit-learn's ``macro``)."""
        present = [scores for scores in self.per_class if scores.support > 0]
        if not present:
            return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
        return {
            metric: sum(getattr(scores, metric) for scores in present) / len(present)
            for metric in ("precision", "recall", "f1")
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.num_images,
            "correct": self.num_correct,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "macro_average": self.macro_average(),
            "per_class": [asdict(scores) for scores in self.per_class],
            "confusion_matrix": {
                "classes": self.classes,
                "rows": "true class",
                "columns": "predicted class",
                "counts": self.confusion.tolist(),
            },
            "most_confused": [asdict(pair) for pair in self.most_confused],
            "most_confidently_wrong": [
                {
                    **asdict(m),
                    "true_class": self.classes[m.true],
                    "predicted_class": self.classes[m.predicted],
                }
                for m in self.mistakes
            ],
        }


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts (K, K) of (true, predicted) pairs; rows are true classes. One ``bincount``, no loop."""
    labels, predictions = labels.long().flatten(), predictions.long().flatten()
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.numel()} labels but {predictions.numel()} predictions")
    pair_index = labels * num_classes + predictions
    return torch.bincount(pair_index, minlength=num_classes * num_classes).view(num_classes, num_classes)


def class_scores(confusion: torch.Tensor, classes: list[str]) -> list[ClassScores]:
    """Per-class precision, recall and F1 from a confusion matrix (0 where undefined)."""
    confusion = confusion.double()
    hits = confusion.diagonal()
    predicted = confusion.sum(dim=0)  # column sums: how often each class was predicted
    actual = confusion.sum(dim=1)  # row sums: the support
    precision = _safe_ratio(hits, predicted)
    recall = _safe_ratio(hits, actual)
    f1 = _safe_ratio(2 * precision * recall, precision + recall)
    return [
        ClassScores(name, float(p), float(r), float(f), int(n))
        for name, p, r, f, n in zip(classes, precision, recall, f1, actual, strict=True)
    ]


def most_confused(confusion: torch.Tensor, classes: list[str], top: int = 5) -> list[Confusion]:
    """The ``top`` off-diagonal cells with the largest counts (ties in class order), counts > 0."""
    off_diagonal = confusion.clone()
    off_diagonal.fill_diagonal_(0)
    counts, flat_index = off_diagonal.flatten().sort(descending=True, stable=True)
    k = confusion.shape[0]
    return [
        Confusion(classes[int(i) // k], classes[int(i) % k], int(c))
        for c, i in zip(counts[:top], flat_index[:top], strict=True)
        if c > 0
    ]


def confident_mistakes(probabilities: torch.Tensor, labels: torch.Tensor, k: int = 16) -> list[Mistake]:
    """The ``k`` misclassified images the model was most sure of: highest p(predicted class) first.

    fastai's "top losses" idea, ranked by the confidence of the wrong answer rather than by
    ``-log p(true)``: the loss ranking fills the list with images whose true class got ~0 while the
    model hesitated between two others; this one shows where the model is confidently wrong, which
    is where label errors and systematic confusions show up. Ties go to the higher loss.
    """
    true_probability = probabilities.gather(1, labels.view(-1, 1)).squeeze(1)
    confidence, predictions = probabilities.max(dim=1)
    loss = -true_probability.clamp_min(1e-12).log()
    wrong = torch.nonzero(predictions != labels).squeeze(1)
    by_loss = wrong[loss[wrong].argsort(descending=True, stable=True)]
    order = by_loss[confidence[by_loss].argsort(descending=True, stable=True)][:k]
    return [
        Mistake(
            index=int(i),
            true=int(labels[i]),
            predicted=int(predictions[i]),
            probability=float(confidence[i]),
            true_probability=float(true_probability[i]),
            loss=float(loss[i]),
        )
        for i in order
    ]


def evaluation_from_logits(
    logits: torch.Tensor, labels: torch.Tensor, classes: list[str], *, top: int = 16, pairs: int = 5
) -> Evaluation:
    """All metrics of one split from the model's logits (N, K) and the true labels (N,)."""
    check_classifier_output(logits, classes)
    logits, labels = logits.float(), labels.long()
    probabilities = logits.softmax(dim=1)
    confusion = confusion_matrix(labels, logits.argmax(dim=1), len(classes))
    return Evaluation(
        classes=list(classes),
        accuracy=float(confusion.diagonal().sum()) / max(len(labels), 1),
        loss=float(F.cross_entropy(logits, labels)) if len(labels) else float("nan"),
        confusion=confusion,
        per_class=class_scores(confusion, classes),
        most_confused=most_confused(confusion, classes, pairs),
        mistakes=confident_mistakes(probabilities, labels, top),
    )


def default_batch_size(input_shape: tuple[int, ...]) -> int:
    """Images per forward pass for evaluation: 512 at 32x32, fewer for larger images (at least 16)."""
    height, width = input_shape[-2:]
    return max(16, min(1024, _PIXELS_PER_BATCH // (height * width)))


def check_classifier_output(logits: torch.Tensor, classes: list[str]) -> None:
    """Refuse outputs that are not one logit per class (an autoencoder's, an RBM's) with a clear error."""
    if logits.ndim != 2 or logits.shape[1] != len(classes):
        raise CnnlabError(
            f"the model gives outputs of shape {tuple(logits.shape)}, but there are {len(classes)} classes; "
            "this needs a classifier with one logit per class"
        )


def predict_logits(
    trained: TrainedModel,
    images: torch.Tensor,
    *,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """The model's logits (N, K) for uint8 images (N, C, H, W), in batches, returned on the CPU.

    The model is moved to ``device`` (and stays there).
    """
    _check_input_shape(trained, images)
    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}.")
    batch_size = batch_size or default_batch_size(trained.input_shape)
    model = trained.model.to(device).eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = trained.preprocess(images[start : start + batch_size].to(device))
            outputs.append(model(batch).float().cpu())
    if not outputs:
        return torch.empty(0, len(trained.classes))
    return torch.cat(outputs)


@dataclass(frozen=True)
class ImagePrediction:
    """The ``top_k`` classes of one image file, most probable first."""

    image: ConvertedImage
    classes: list[str]
    probabilities: list[float]
    hint: str | None = None  # a warning about the input, e.g. light image for a dark-trained model

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.image.path),
            "top_k": [
                {"class": c, "probability": p} for c, p in zip(self.classes, self.probabilities, strict=True)
            ],
            "conversion": self.image.description,
            "steps": list(self.image.steps),
            "original_size": list(self.image.original_size),
            "original_mode": self.image.original_mode,
            "hint": self.hint,
        }


def predict_images(
    trained: TrainedModel,
    images: list[ConvertedImage],
    *,
    top_k: int = 3,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
) -> list[ImagePrediction]:
    """Classify converted image files (see :mod:`cnnlab.analysis.images`) in one batched pass."""
    from cnnlab.analysis.images import brightness_hint, stack_pixels

    if top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {top_k}.")
    if not images:
        return []
    logits = predict_logits(trained, stack_pixels(images), batch_size=batch_size, device=device)
    check_classifier_output(logits, trained.classes)
    probabilities, indices = logits.softmax(dim=1).topk(min(top_k, logits.shape[1]), dim=1)
    return [
        ImagePrediction(
            image=image,
            classes=[trained.classes[int(i)] for i in index_row],
            probabilities=[float(p) for p in probability_row],
            hint=brightness_hint(image, trained.mean),
        )
        for image, index_row, probability_row in zip(images, indices, probabilities, strict=True)
    ]


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA, then Apple's MPS, then the CPU; any other name is used as given."""
    if name != "auto":
        try:
            return torch.device(name)
        except RuntimeError as exc:
            raise ConfigError(f"Unknown device '{name}': use auto, cpu, cuda, cuda:N or mps.") from exc
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def evaluate_trained(
    trained: TrainedModel,
    dataset: ImageDataset,
    *,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
    top: int = 16,
) -> Evaluation:
    """Run ``trained`` over ``dataset`` and measure it."""
    if list(dataset.classes) != list(trained.classes):
        raise CnnlabError(
            f"the dataset's classes ({', '.join(dataset.classes[:5])}, ...) are not the ones the model "
            f"was trained on ({', '.join(trained.classes[:5])}, ...); evaluate it on its own dataset"
        )
    logits = predict_logits(trained, dataset.images, batch_size=batch_size, device=device)
    return evaluation_from_logits(logits, dataset.labels, trained.classes, top=top)


def run_directory(run_or_file: str | Path) -> Path | None:
    """The run directory of a run or of one of its checkpoints (``RUN/checkpoints/x.pt``), else None."""
    path = Path(run_or_file)
    if path.is_dir():
        return path
    if path.parent.name == "checkpoints":
        return path.parent.parent
    return None


def load_split(
    run_or_file: str | Path,
    trained: TrainedModel,
    split: str = "test",
    *,
    data_dir: str | Path | None = None,
) -> ImageDataset:
    """The images ``trained`` is evaluated on: the dataset's test split, or the run's validation split.

    The validation split is rebuilt exactly as the run made it: ``split_validation`` of the train
    split with the ``val_split`` fraction and ``seed`` recorded in the run's ``config.json`` (and its
    ``subset``, when it trained on the first N images).
    """
    from cnnlab.data import load_dataset, split_validation

    if split not in SPLITS:
        raise ConfigError(f"Unknown split '{split}'. Choose one of: {', '.join(SPLITS)}.")
    if not trained.dataset:
        raise CnnlabError(
            f"{trained.checkpoint} does not say which dataset the model was trained on, so there is "
            "no split to evaluate it on"
        )
    config = _run_config(run_or_file)
    data_dir = data_dir or config.get("data_dir")
    if split == "test":
        return _as_trained(load_dataset(trained.dataset, "test", data_dir=data_dir, progress=False), config)
    fraction = config.get("val_split") or 0
    if fraction <= 0:
        raise ConfigError(_no_validation_split_message(run_or_file, config))
    train = load_dataset(
        trained.dataset, "train", data_dir=data_dir, subset=config.get("subset"), progress=False
    )
    return _as_trained(split_validation(train, fraction, config.get("seed", 0))[1], config)


def _as_trained(dataset: ImageDataset, config: dict[str, Any]) -> ImageDataset:
    """The images at the size the run trained on (``--resize N``)."""
    return dataset.resized(config["resize"]) if config.get("resize") else dataset


def _no_validation_split_message(run_or_file: str | Path, config: dict[str, Any]) -> str:
    directory = run_directory(run_or_file)
    if directory is None or not config:
        return (
            f"{run_or_file} is a checkpoint without its run directory (no config.json beside it), "
            "so the validation split it was trained with is unknown. Pass the run directory, "
            "or use --split test."
        )
    return (
        f"The run {directory} held out no validation split (its config.json has no val_split > 0), so "
        "there is nothing to evaluate with --split val. Use --split test, or train with a validation split."
    )


def _run_config(run_or_file: str | Path) -> dict[str, Any]:
    directory = run_directory(run_or_file)
    config_path = directory / "config.json" if directory else None
    if config_path is None or not config_path.is_file():
        return {}
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CnnlabError(f"{config_path} cannot be read ({exc}); is the run directory damaged?") from exc
    return config if isinstance(config, dict) else {}


def _check_input_shape(trained: TrainedModel, images: torch.Tensor) -> None:
    if (
        images.dtype != torch.uint8
        or images.ndim != 4
        or tuple(images.shape[1:]) != tuple(trained.input_shape)
    ):
        raise CnnlabError(
            f"the model takes uint8 images of shape {tuple(trained.input_shape)} (C, H, W), "
            f"got {images.dtype} of shape {tuple(images.shape)}"
        )


def _safe_ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    return torch.where(
        denominator > 0, numerator / denominator.clamp_min(1e-300), torch.zeros_like(numerator)
    )
