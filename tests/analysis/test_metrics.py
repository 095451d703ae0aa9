"""Metrics on hand-computed examples, and on the small trained run (see conftest.py)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cnnlab.analysis import metrics
from cnnlab.errors import CnnlabError, ConfigError

# A 3-class example small enough to check by hand.
LABELS = torch.tensor([0, 0, 1, 1, 2, 2, 2])
PREDICTIONS = torch.tensor([0, 1, 1, 1, 2, 0, 1])
CLASSES = ["cat", "dog", "bird"]


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    confusion = metrics.confusion_matrix(LABELS, PREDICTIONS, 3)
    assert confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 1, 1]]
    assert confusion.dtype == torch.int64


def test_class_scores_match_hand_computation():
    scores = metrics.class_scores(metrics.confusion_matrix(LABELS, PREDICTIONS, 3), CLASSES)
    # cat: 1 hit of 2 predicted, 2 true. dog: 2 of 4 predicted, 2 true. bird: 1 of 1 predicted, 3 true.
    expected = {
        "cat": (1 / 2, 1 / 2, 1 / 2, 2),
        "dog": (2 / 4, 2 / 2, 2 * 0.5 * 1.0 / 1.5, 2),
        "bird": (1 / 1, 1 / 3, 2 * 1.0 * (1 / 3) / (4 / 3), 3),
    }
    for score in scores:
        precision, recall, f1, support = expected[score.name]
        assert score.precision == pytest.approx(precision)
        assert score.recall == pytest.approx(recall)
        assert score.f1 == pytest.approx(f1)
        assert score.support == support


def test_class_never_predicted_and_absent_scores_zero_not_nan():
    confusion = metrics.confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), 3)
    absent = metrics.class_scores(confusion, CLASSES)[2]
    assert (absent.precision, absent.recall, absent.f1, absent.support) == (0.0, 0.0, 0.0, 0)


def test_most_confused_lists_off_diagonal_pairs_by_count():
    confusion = torch.tensor([[5, 3, 0], [1, 7, 0], [4, 0, 2]])
    pairs = metrics.most_confused(confusion, CLASSES, top=5)
    assert [(p.true, p.predicted, p.count) for p in pairs] == [
        ("bird", "cat", 4),
        ("cat", "dog", 3),
        ("dog", "cat", 1),
    ]


def test_confident_mistakes_are_the_wrong_answers_the_model_was_surest_of():
    probabilities = torch.tensor(
        [
            [0.90, 0.05, 0.05],  # label 0: correct, never listed
            [0.10, 0.80, 0.10],  # label 0: wrong with p 0.80
            [0.01, 0.01, 0.98],  # label 1: wrong with p 0.98 -> first
            [0.30, 0.40, 0.30],  # label 2: wrong with p 0.40
            [0.15, 0.80, 0.05],  # label 2: wrong with p 0.80, higher loss than row 1 -> before it
        ]
    )
    labels = torch.tensor([0, 0, 1, 2, 2])
    mistakes = metrics.confident_mistakes(probabilities, labels, k=3)
    assert [m.index for m in mistakes] == [2, 4, 1]
    first = mistakes[0]
    assert (first.true, first.predicted) == (1, 2)
    assert first.probability == pytest.approx(0.98)
    assert first.true_probability == pytest.approx(0.01)
    assert first.loss == pytest.approx(-math.log(0.01))


def test_summarize_accuracy_loss_and_macro_average():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1, 2, 2])
    evaluation = metrics.evaluation_from_logits(logits, labels, CLASSES)
    assert evaluation.accuracy == pytest.approx(0.75)
    assert evaluation.loss == pytest.approx(float(F.cross_entropy(logits, labels)))
    assert evaluation.num_images == 4 and evaluation.num_correct == 3
    # cat: p 1/2, r 1; dog: p 1, r 1; bird: p 1, r 1/2 -> macro precision and recall 5/6.
    assert evaluation.macro_average()["precision"] == pytest.approx(5 / 6)
    assert evaluation.macro_average()["recall"] == pytest.approx(5 / 6)
    document = json.loads(json.dumps(evaluation.to_dict()))
    assert document["confusion_matrix"]["counts"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    assert document["most_confidently_wrong"][0]["true_class"] == "bird"


def test_summarize_refuses_outputs_that_are_not_one_logit_per_class():
    with pytest.raises(CnnlabError, match="one logit per class"):
        metrics.evaluation_from_logits(torch.zeros(4, 5), torch.zeros(4, dtype=torch.long), CLASSES)
    with pytest.raises(CnnlabError, match=r"outputs of shape \(4, 3, 8, 8\)"):
        metrics.check_classifier_output(torch.zeros(4, 3, 8, 8), CLASSES)  # an autoencoder's


def test_evaluate_counts_every_image_and_agrees_with_the_model(trained, mnist_test):
    split = mnist_test.subset(2000)
    evaluation = metrics.evaluate_trained(trained, split, batch_size=512)
    assert int(evaluation.confusion.sum()) == len(split) == 2000
    row_sums = evaluation.confusion.sum(dim=1)
    assert torch.equal(row_sums, torch.bincount(split.labels, minlength=10))
    with torch.inference_mode():
        direct = trained.model(trained.preprocess(split.images)).argmax(dim=1)
    assert evaluation.accuracy == pytest.approx((direct == split.labels).float().mean().item())
    assert 0.5 < evaluation.accuracy < 1.0  # trained, but not so well that there are no mistakes
    assert all(m.true != m.predicted for m in evaluation.mistakes)
    confidences = [m.probability for m in evaluation.mistakes]
    assert len(confidences) == 16 and confidences == sorted(confidences, reverse=True)


def test_predict_logits_does_not_depend_on_the_batch_size(trained, mnist_test):
    images = mnist_test.images[:50]
    small = metrics.predict_logits(trained, images, batch_size=7)
    large = metrics.predict_logits(trained, images, batch_size=512)
    assert small.shape == (50, 10)
    assert torch.allclose(small, large, atol=1e-5)


def test_predict_logits_refuses_images_of_the_wrong_shape(trained):
    with pytest.raises(CnnlabError, match=r"\(1, 28, 28\)"):
        metrics.predict_logits(trained, torch.zeros(2, 3, 32, 32, dtype=torch.uint8))


def test_validation_split_is_rebuilt_as_the_run_made_it(trained_run, trained):
    from cnnlab.data import load_dataset, split_validation

    config = json.loads((trained_run / "config.json").read_text())
    train = load_dataset("mnist", "train", subset=config["subset"], progress=False)
    expected = split_validation(train, config["val_split"], config["seed"])[1]
    val = metrics.load_split(trained_run, trained, "val")
    assert len(val) == len(expected) > 0
    assert torch.equal(val.labels, expected.labels)
    assert torch.equal(val.images, expected.images)


def test_validation_split_of_a_run_without_one_is_a_clear_error(trained_run, trained, tmp_path: Path):
    run = tmp_path / "no-val"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(trained_run / "checkpoints" / "best.pt", run / "checkpoints" / "best.pt")
    (run / "config.json").write_text(json.dumps({"val_split": 0.0, "seed": 0}))
    with pytest.raises(ConfigError, match="held out no validation split"):
        metrics.load_split(run, trained, "val")
    with pytest.raises(ConfigError, match="Unknown split 'train'"):
        metrics.load_split(run, trained, "train")
    loose = tmp_path / "loose.pt"
    shutil.copy(trained_run / "checkpoints" / "best.pt", loose)
    with pytest.raises(ConfigError, match="checkpoint without its run directory"):
        metrics.load_split(loose, trained, "val")


def test_run_directory_of_a_checkpoint_inside_a_run(trained_run, tmp_path: Path):
    assert metrics.run_directory(trained_run / "checkpoints" / "best.pt") == trained_run
    assert metrics.run_directory(trained_run) == trained_run
    assert metrics.run_directory(tmp_path / "loose.pt") is None
