"""losses: which classification loss, and what does it change besides the accuracy?

One network and dataset (LeNet-5 on Fashion-MNIST, Adam with a one-cycle schedule, 3 epochs) with
five losses: cross-entropy; cross-entropy with label smoothing 0.1; negative log-likelihood on a
log-softmax (the course's pairing: the same function as cross-entropy, computed in two steps);
squared error between the softmax and the one-hot target; the focal loss (gamma 2). Besides the
accuracy, each trained model is measured with one common yardstick, the test cross-entropy, and
for its confidence: the mean top probability and the expected calibration error (ECE, 15 bins).

Measured: see docs/experiments.md for the full run's numbers and the command that made them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnlab.experiments.registry import CellSpec, Plan, Size, experiment
from cnnlab.experiments.report import format_summary
from cnnlab.runs.stats import summarize

if TYPE_CHECKING:  # the context imports torch; listing the experiments must not
    import torch

    from cnnlab.experiments.context import Context

MODEL, DATASET = "lenet5", "fashion-mnist"
COMMON = {"optimizer": "adam", "lr": 2e-3, "batch_size": 128, "epochs": 3, "schedule": "onecycle"}
LOSSES = {
    "cross-entropy": {"loss": "cross-entropy"},
    "label smoothing 0.1": {"loss": "cross-entropy", "label_smoothing": 0.1},
    "NLL on log-softmax": {"loss": "nll"},
    "MSE on one-hot": {"loss": "mse"},
    "focal (gamma 2)": {"loss": "focal", "focal_gamma": 2.0},
}
CALIBRATION_BINS = 15
FULL = Size(seeds=3)
QUICK = Size(seeds=1, train_images=600, test_images=500, epochs=1)
# Per-model measurements added to each cell, besides the trainer's metrics.
EXTRA_METRICS = ("test_cross_entropy", "test_confidence", "test_ece")


def plan(size: Size) -> Plan:
    return Plan([CellSpec(label, MODEL, DATASET, size.apply({**COMMON, **s})) for label, s in LOSSES.items()])


@experiment(
    "losses",
    version=1,
    title="Classification losses: accuracy and confidence",
    question=(
        "Cross-entropy, label smoothing, NLL, MSE or focal loss: which should I use, and what does the "
        "choice change besides the accuracy?"
    ),
    full=FULL,
    quick=QUICK,
    plan=plan,
)
def run(ctx: Context) -> None:
    from cnnlab.experiments.plots import bars_figure

    cells = ctx.train_all()
    for cell in cells:
        _, test = ctx.data(ctx.spec(cell.label))
        test = test.subset(cell.test_images)
        for final, run in zip(cell.finals, ctx.runs[cell.label], strict=True):
            final.update(confidence_metrics(run.model, test))
    ctx.results_table(cells, ["test_accuracy", *EXTRA_METRICS])
    ctx.report.text(
        "test cross-entropy: the same yardstick for every model (each one's own test loss is on a "
        "different scale); confidence: the mean probability of the predicted class; ECE: the mean gap "
        f"between confidence and accuracy over {CALIBRATION_BINS} confidence bins, weighted by images "
        "(0 = the model is right exactly as often as it says)."
    )
    ctx.figure("accuracy.png", bars_figure(cells, "test_accuracy", f"{MODEL} on {DATASET}"),
               "Test accuracy: mean over seeds (bars), each seed (dots)")  # fmt: skip
    _explain(ctx)


def confidence_metrics(model: torch.nn.Module, test) -> dict[str, float]:
    """Test cross-entropy, mean top probability and expected calibration error of a classifier."""
    import torch
    import torch.nn.functional as F

    from cnnlab.data import BatchLoader
    from cnnlab.training import predict

    loader = BatchLoader(test, 512, shuffle=False, scale=getattr(model, "input_scale", "standardized"))
    with torch.no_grad():
        logits, labels = predict(model, loader)
        probabilities = F.softmax(logits.float(), dim=1)
        return {
            "test_cross_entropy": float(F.cross_entropy(logits.float(), labels)),
            "test_confidence": float(probabilities.max(1).values.mean()),
            "test_ece": expected_calibration_error(probabilities, labels),
        }


def expected_calibration_error(
    probabilities: torch.Tensor, labels: torch.Tensor, bins: int = CALIBRATION_BINS
) -> float:
    """Sum over equal-width confidence bins of (share of images) x |accuracy - mean confidence|."""
    confidence, predicted = probabilities.max(1)
    correct = (predicted == labels).double()
    # Bin b holds confidences in (b/bins, (b+1)/bins]; a confidence of exactly 0 cannot occur.
    index = (confidence.double() * bins).ceil().long().clamp(1, bins) - 1
    total = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            gap = (correct[members].mean() - confidence[members].double().mean()).abs()
            total += float(members.double().mean() * gap)
    return total


def _explain(ctx: Context) -> None:
    cells = ctx.cells
    ce, nll = cells["cross-entropy"], cells["NLL on log-softmax"]
    same = ce.values("test_accuracy") == nll.values("test_accuracy")
    summary: dict[str, Any] = {label: cell.summary("test_ece") for label, cell in cells.items()}
    best_calibrated = min(summary, key=lambda label: summary[label].mean)
    mse = ctx.compare("MSE on one-hot", "cross-entropy")
    smoothing = ctx.compare("label smoothing 0.1", "cross-entropy")
    confidence = {label: cell.summary("test_confidence").mean for label, cell in cells.items()}
    ctx.results["nll_equals_cross_entropy"] = same
    ctx.answer.text(
        "**NLL on a log-softmax is cross-entropy.** PyTorch's `cross_entropy` is `nll_loss(log_softmax(x))` "
        f"in one call; with the same seeds the two rows give {'identical' if same else 'different'} "
        "per-seed accuracies"
        + (
            " (bit for bit)."
            if same
            else f" ({summarize(ce.values('test_accuracy')).mean:.4f} vs "
            f"{summarize(nll.values('test_accuracy')).mean:.4f})."
        )  # fmt: skip
        + " The course's two-step form is the same loss.",
        f"**MSE on one-hot targets** changes accuracy by {mse.difference * 100:+.2f} points against "
        f"cross-entropy ({mse.verdict()}). Its gradient through the softmax vanishes when the model is "
        "confidently wrong (the softmax saturates), exactly where cross-entropy's gradient is largest.",
        f"**Label smoothing** changes accuracy by {smoothing.difference * 100:+.2f} points "
        f"({smoothing.verdict()}), but its real effect is on confidence: mean top probability "
        f"{confidence['label smoothing 0.1']:.3f} against {confidence['cross-entropy']:.3f} for plain "
        "cross-entropy, because a target of 0.9 instead of 1 stops the logits from growing without end. "
        "The focal loss also damps confident predictions, by down-weighting the examples already right.",
        f"**Best calibrated** (lowest ECE): {best_calibrated} "
        f"({format_summary(summary[best_calibrated], 'test_ece')}). Use cross-entropy by default, label "
        "smoothing when probabilities are read as confidences or the net is large, focal loss for heavily "
        "imbalanced classes (its original purpose), and not MSE for classification.",
    )
