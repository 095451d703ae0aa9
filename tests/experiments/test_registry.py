"""The experiment registry: names, lookup, plans that the trainer accepts, sizes."""

from __future__ import annotations

import pytest

from cnnlab.data import get_spec
from cnnlab.errors import UnknownNameError
from cnnlab.experiments import (
    CellSpec,
    Plan,
    Reference,
    Size,
    experiment,
    get_experiment,
    list_experiments,
    registry,
)
from cnnlab.training import TrainConfig, resolve_config

COURSE_ORDER = [
    "fc-vs-cnn",
    "cifar-tutorial",
    "cifar-classics",
    "optimizers",
    "losses",
    "dropout",
    "mixup",
    "seed-noise",
    "autoencoders",
    "transfer",
]


def test_experiments_are_listed_in_course_order():
    assert [e.name for e in list_experiments()] == COURSE_ORDER


def test_unknown_name_suggests_and_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as caught:
        get_experiment("fc-vs-cn")
    message = str(caught.value)
    assert "Did you mean 'fc-vs-cnn'?" in message
    assert all(name in message for name in COURSE_ORDER)


@pytest.mark.parametrize("name", COURSE_ORDER)
@pytest.mark.parametrize("quick", [False, True])
def test_every_planned_cell_is_a_valid_training_setting(name, quick):
    found = get_experiment(name)
    size = found.size(quick)
    cells = found.plan(size).cells
    labels = [cell.label for cell in cells]
    assert len(labels) == len(set(labels)), "cell labels must be unique: they key the tables"
    for cell in cells:
        config = resolve_config(overrides={"model": cell.model_name, **cell.settings})
        if size.train_images is not None:
            assert config.subset <= size.train_images
        if size.epochs is not None:
            assert config.epochs == size.epochs
    assert all(reference.cell in labels for reference in found.references)
    assert found.quick.seeds <= found.full.seeds


def _images_trained(cell: CellSpec) -> int:
    """Training images one seed of ``cell`` goes through: its subset (or the whole split) x epochs."""
    config = TrainConfig().replace(**cell.settings)
    return (config.subset or get_spec(cell.dataset).split_sizes["train"]) * config.epochs


def test_quick_versions_are_smaller_than_full_ones():
    for found in list_experiments():
        assert found.quick.train_images is not None, found.name
        assert found.quick.seeds <= found.full.seeds, found.name
        full = {cell.label: _images_trained(cell) for cell in found.plan(found.full).cells}
        quick = {cell.label: _images_trained(cell) for cell in found.plan(found.quick).cells}
        assert set(quick) == set(full), found.name  # the same cells, each cut down
        for label, images in quick.items():
            assert images <= full[label], (found.name, label)
        quick_total = sum(quick.values()) * found.quick.seeds
        assert quick_total < sum(full.values()) * found.full.seeds, found.name


def test_size_apply_keeps_the_smaller_subset_and_replaces_epochs():
    size = Size(seeds=1, train_images=1000, test_images=200, epochs=2)
    assert size.apply({"subset": 5000, "epochs": 15}) == {"subset": 1000, "test_subset": 200, "epochs": 2}
    assert size.apply({"subset": 300}) == {"subset": 300, "test_subset": 200, "epochs": 2}
    assert Size(seeds=3).apply({"epochs": 10, "lr": 0.1}) == {"epochs": 10, "lr": 0.1}


def test_course_numbers_of_fc_vs_cnn():
    values = {ref.cell: ref.value for ref in get_experiment("fc-vs-cnn").references}
    # 05_01 prints 8003, 8348, 8735 and 9615 right of 10,000: the exact numbers, not their rounding
    assert sorted(values.values()) == [0.8003, 0.8348, 0.8735, 0.9615]


def test_a_truncated_course_number_is_a_range():
    (reference,) = get_experiment("cifar-tutorial").references
    assert (reference.value, reference.high) == (0.64, 0.6499)  # "64 %" printed with %d


def _plan(size: Size) -> Plan:
    return Plan([CellSpec("only", "fc2layer", "mnist", {"epochs": 1})])


def test_registering_twice_or_referencing_an_unknown_cell_fails(monkeypatch):
    monkeypatch.setattr(registry, "_EXPERIMENTS", registry._EXPERIMENTS.copy())
    with pytest.raises(ValueError, match="registered twice"):
        experiment("fc-vs-cnn", version=1, title="t", question="q", full=Size(1), quick=Size(1), plan=_plan)(
            lambda ctx: None
        )
    with pytest.raises(ValueError, match="unknown cells"):
        experiment(
            "new", version=1, title="t", question="q", full=Size(1), quick=Size(1), plan=_plan,
            references=(Reference("missing", 0.5),),
        )(lambda ctx: None)  # fmt: skip


def test_model_labels_show_factory_arguments():
    import functools

    from cnnlab.experiments.catalog.dropout import small_alexnet

    assert registry.model_label("resnet18") == "resnet18"
    assert registry.model_label(functools.partial(small_alexnet, 0.25)) == "small_alexnet(0.25)"


def test_a_table_swapped_before_the_catalog_loaded_still_lists_the_course(monkeypatch):
    """The catalog registers itself on first use; a table swapped in before that (a test's copy)
    must not lose the course's experiments for the rest of the process."""
    from cnnlab.experiments import registry
    from cnnlab.registry import Registry

    names = [found.name for found in registry.list_experiments()]
    monkeypatch.setattr(registry, "_EXPERIMENTS", Registry("experiment"))
    assert [found.name for found in registry.list_experiments()] == names
    assert registry.get_experiment("fc-vs-cnn").name == "fc-vs-cnn"
