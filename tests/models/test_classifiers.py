"""Every registry classifier at every input it supports: output shape, forward and backward,
parameter counts (the course pair exactly, the original forms exactly as the references).

Two kinds of pass keep this fast on two shared cores: every model at every size runs forward and
backward on the meta device (PyTorch's shape kernels on the same Python code, no compute), and
each distinct architecture also runs a real forward and backward on a batch of two at a dataset
size (AlexNet and ZFNet, which refuse those, at the smallest input they take).
"""

from __future__ import annotations

import pytest
import torch

from cnnlab.errors import ModelError, UnknownNameError
from cnnlab.models import create, get_info, list_models

DATASET_SHAPES = ((1, 28, 28), (3, 32, 32))
NO_SMALL_FORM = {"alexnet", "zfnet"}  # the 11x11/4 and 7x7/2 stems cannot take 32 px
CLASSIFIERS = [info.name for info in list_models(task="classify")]

# torchvision's counts (for the families it has) and the papers' (ZFNet: Fig. 3; LeNet-5: 60,000
# trainable C1..F6 + 850 for the linear output layer) at the original input and class count.
REFERENCE_PARAMS = {
    "alexnet": 61_100_840,
    "zfnet": 62_357_608,
    "vgg11": 132_863_336,
    "vgg11-bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13-bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16-bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19-bn": 143_678_248,
    "googlenet": 6_624_904,
    "inception-v3": 27_161_264,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "se-resnet50": 28_088_024,  # the paper's 28.09 M
    "mobilenet-v2": 3_504_872,
    "lenet5": 60_850,
}


def supported_shapes(name: str) -> list[tuple[int, int, int]]:
    info = get_info(name)
    shapes = [] if name in NO_SMALL_FORM else list(DATASET_SHAPES)
    return shapes + [info.paper_input] if info.paper_input not in shapes else shapes


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "shape"), [(name, shape) for name in CLASSIFIERS for shape in supported_shapes(name)]
)
def test_forward_and_backward_on_meta(name, shape):
    info = get_info(name)
    classes = info.paper_classes if shape == info.paper_input else 10
    with torch.device("meta"):
        model = create(name, classes, shape[0], shape[1:])
        logits = model(torch.zeros(2, *shape))
    assert logits.shape == (2, classes)
    auxiliary = getattr(model, "aux_outputs", [])
    assert all(aux.shape == (2, classes) for aux in auxiliary)
    sum((aux.sum() for aux in auxiliary), logits.sum()).backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]  # not airbench's whitening
    missing = [n for n, p in trainable if p.grad is None or p.grad.shape != p.shape]
    assert trainable and missing == []


# One real pass per distinct architecture; between them they cover both dataset sizes, the
# small-input stems, VGG's padding of 28 to 32, LeNet-5's padding, and the auxiliary heads.
REAL_PASSES = [
    ("mlp", (1, 28, 28), {}),
    ("fc2layer", (1, 28, 28), {}),
    ("course-cnn", (1, 28, 28), {}),
    ("tutorial-cnn", (3, 32, 32), {}),
    ("lenet5", (1, 28, 28), {}),
    ("lenet5", (3, 32, 32), {}),
    ("alexnet", (3, 63, 63), {}),
    ("zfnet", (3, 63, 63), {}),
    ("vgg11-bn", (1, 28, 28), {}),
    ("vgg11", (3, 32, 32), {}),
    ("resnet18", (3, 32, 32), {}),
    ("resnet50", (1, 28, 28), {}),
    ("googlenet", (3, 32, 32), {"aux_logits": True}),
    ("inception-v3", (1, 28, 28), {}),
    ("mobilenet-v2", (3, 32, 32), {}),
    ("se-resnet18", (1, 28, 28), {}),
]


@pytest.mark.parametrize(("name", "shape", "kwargs"), REAL_PASSES, ids=lambda v: str(v))
def test_forward_and_backward_for_real(name, shape, kwargs):
    torch.manual_seed(0)
    model = create(name, 10, shape[0], shape[1:], **kwargs)
    model.train()
    logits = model(torch.randn(2, *shape))
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([1, 7]))
    for aux in getattr(model, "aux_outputs", []):
        assert aux.shape == (2, 10)
        loss = loss + model.aux_loss_weight * torch.nn.functional.cross_entropy(aux, torch.tensor([1, 7]))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    if kwargs.get("aux_logits"):
        assert len(model.aux_outputs) == 2
        model.eval()
        model(torch.randn(2, *shape))
        assert model.aux_outputs == []  # auxiliary heads run in training only


@pytest.mark.parametrize("name", sorted(REFERENCE_PARAMS))
def test_original_forms_have_the_reference_parameter_counts(name):
    info = get_info(name)
    with torch.device("meta"):
        model = create(name, info.paper_classes, info.paper_input[0], info.paper_input[1:])
    assert count(model) == REFERENCE_PARAMS[name]


def test_meta_and_real_builds_count_alike():
    real = create("resnet18", 1000, 3, 224)
    with torch.device("meta"):
        meta = create("resnet18", 1000, 3, 224)
    assert count(real) == count(meta) == 11_689_512


def test_googlenet_auxiliary_heads_and_paper_kernel_are_options():
    with torch.device("meta"):
        assert (
            count(create("googlenet", 1000, 3, 224, aux_logits=True)) == 13_004_888
        )  # torchvision's, aux on
        five = create("googlenet", 1000, 3, 224, five_by_five=True)
    assert five.inception["3a"][2][1].conv.kernel_size == (5, 5)
    assert count(five) > REFERENCE_PARAMS["googlenet"]


def test_inception_v3_auxiliary_head_defaults_on_only_where_it_fits():
    with torch.device("meta"):
        assert create("inception-v3", 1000, 3, 299).aux is not None
        assert create("inception-v3", 1000, 3, 224).aux is None
        assert create("inception-v3", 10, 3, 32).aux is None
    too_small = r"aux\.conv1\.conv.*smallest square input of 64 px or more it accepts is 299x299"
    with pytest.raises(ModelError, match=too_small), torch.device("meta"):
        create("inception-v3", 1000, 3, 224, aux_logits=True)


def test_course_inception_is_the_notebooks_small_inception_v3():
    """Notebook 05_05: stem 3->32 stride 2 and 32->32, modules A-E once; 32 -> 15 -> 13 -> 6 -> 2 -> 1."""
    torch.manual_seed(0)
    model = create("course-inception", 10, 3, 32)
    assert count(model) == 9_313_802  # the notebook's get_n_params of Inception3(num_classes=10)
    sizes, x = [], model.stem[0](torch.zeros(1, 3, 32, 32))
    sizes.append(x.shape[-1])
    x = model.stem[1](x)
    sizes.append(x.shape[-1])
    for stage in model.mixed.values():
        x = stage(x)
        sizes.append((x.shape[1], x.shape[-1]))
    assert sizes == [15, 13, (256, 13), (736, 6), (768, 6), (1280, 2), (2048, 2)]
    weights = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, torch.nn.Conv2d)])
    assert weights.abs().max() <= 0.2  # truncated at two standard deviations of 0.1, as scipy's truncnorm
    assert abs(weights.std().item() - 0.088) < 0.003  # a N(0, 0.1) truncated at 2 std has std 0.088
    assert count(create("inception-v3", 10, 3, 32)) == 21_806_058  # the full network stays what it is
    with pytest.raises(ModelError, match="at least 19x19"):
        create("course-inception", 10, 3, 16)


def test_course_pair_is_parameter_matched():
    fc = create("fc2layer", 10, 1, 28)
    cnn = create("course-cnn", 10, 1, 28)
    assert count(fc) == 784 * 8 + 8 + 8 * 8 + 8 + 8 * 10 + 10 == 6_442
    assert count(cnn) == (25 * 6 + 6) + (6 * 25 * 6 + 6) + (96 * 50 + 50) + (50 * 10 + 10) == 6_422
    assert cnn.classifier[1].in_features == 96  # 28 -> 24 -> 12 -> 8 -> 4: 6 maps of 4x4


def test_tutorial_cnn_is_the_pytorch_tutorial_net():
    model = create("tutorial-cnn", 10, 3, 32)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(400, 120), (120, 84), (84, 10)]
    assert count(model) == 62_006
    assert model.input_scale == "standardized"
    course = create("tutorial-cnn", 10, 3, 32, input_scale="symmetric")  # the course's mean 0.5, std 0.5
    assert course.input_scale == "symmetric"
    with pytest.raises(UnknownNameError, match="input scale"):
        create("tutorial-cnn", 10, 3, 32, input_scale="0.5")


def test_lenet5_layers_have_the_papers_parameter_counts():
    model = create("lenet5", 10, 1, 32)
    features, classifier = model.features, model.classifier
    per_layer = {name: count(getattr(features, name)) for name in ("c1", "s2", "c3", "s4", "c5")}
    assert per_layer == {"c1": 156, "s2": 12, "c3": 1_516, "s4": 32, "c5": 48_120}
    assert count(classifier.f6) == 10_164
    assert sum(per_layer.values()) + count(classifier.f6) == 60_000  # the paper's figure
    assert count(classifier.output) == 850


def test_lenet5_c3_sees_only_the_maps_of_table_one():
    from cnnlab.models.lenet import C3_TABLE

    c3 = create("lenet5", 10, 1, 32).features.c3
    x = torch.randn(1, 6, 10, 10)
    base = c3(x)
    for in_map in range(6):
        changed = x.clone()
        changed[:, in_map] += 1.0
        moved = (c3(changed) - base).abs().amax(dim=(0, 2, 3)) > 0
        expected = torch.tensor([in_map in row for row in C3_TABLE])
        assert torch.equal(moved, expected), f"S2 map {in_map}"


def test_lenet5_pads_mnist_to_the_papers_32x32():
    model = create("lenet5", 10, 1, 28)
    assert model.features.c1.padding == (2, 2)
    assert model.classifier.f6.in_features == 120  # C5 is 1x1, as on the paper's 32x32 input


def test_small_forms_use_the_cifar_adaptations():
    resnet = create("resnet18", 10, 3, 32)
    assert resnet.stem[0][0].kernel_size == (3, 3) and resnet.stem[0][0].stride == (1, 1)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in resnet.stem)
    with torch.device("meta"):
        large = create("resnet18", 10, 3, 224)
    assert large.stem[0][0].kernel_size == (7, 7) and isinstance(large.stem[2], torch.nn.MaxPool2d)
    vgg = create("vgg16", 10, 3, 32)
    assert isinstance(vgg.classifier, torch.nn.Linear) and vgg.classifier.in_features == 512
    assert vgg.pad is None and create("vgg11", 10, 1, 28).pad.padding == (2, 2, 2, 2)


@pytest.mark.parametrize("shape", DATASET_SHAPES)
def test_alexnet_refuses_small_images_naming_the_layer(shape):
    with pytest.raises(ModelError) as caught:
        create("alexnet", 10, shape[0], shape[1:])
    message = str(caught.value)
    layer = "features.5" if shape[1] == 28 else "features.12"
    assert f"at layer '{layer}' (MaxPool2d, k3 s2 p0) the height drops below 1" in message
    assert "smallest square input it accepts is 63x63" in message
    assert "Traceback" not in message
