"""torchvision's state-dict names for the ImageNet-form networks, and the checked load.

There is no torchvision here: the expected names and shapes below are torchvision's, written out
from its model definitions (resnet.py, googlenet.py, inception.py, vgg.py, alexnet.py), so the
mapping is checked against them rather than against itself. Networks are built on the meta device
(no memory, no initialisation) and given real, uninitialised storage only where a load is tested.
"""

from __future__ import annotations

import pytest
import torch

from cnnlab.errors import CheckpointError
from cnnlab.models import create
from cnnlab.models.torchvision_weights import load_state, renamer, torchvision_state_dict

IMAGENET = {"inception-v3": 299}  # the others at 224
# (network, build options, torchvision key, its shape)
TORCHVISION_KEYS = [
    ("alexnet", {}, "features.10.weight", (256, 256, 3, 3)),
    ("alexnet", {}, "classifier.1.weight", (4096, 9216)),
    ("alexnet", {}, "classifier.6.weight", (1000, 4096)),
    ("vgg16", {}, "features.28.weight", (512, 512, 3, 3)),
    ("vgg16", {}, "classifier.0.weight", (4096, 25088)),
    ("vgg16-bn", {}, "features.40.weight", (512, 512, 3, 3)),
    ("vgg16-bn", {}, "features.41.running_var", (512,)),
    ("resnet18", {}, "conv1.weight", (64, 3, 7, 7)),
    ("resnet18", {}, "bn1.running_mean", (64,)),
    ("resnet18", {}, "layer2.0.downsample.0.weight", (128, 64, 1, 1)),
    ("resnet18", {}, "layer2.0.downsample.1.num_batches_tracked", ()),
    ("resnet18", {}, "layer4.1.bn2.weight", (512,)),
    ("resnet18", {}, "fc.weight", (1000, 512)),
    ("resnet50", {}, "layer1.0.conv3.weight", (256, 64, 1, 1)),
    ("resnet50", {}, "layer1.0.downsample.1.weight", (256,)),
    ("resnet50", {}, "layer4.2.bn3.running_var", (2048,)),
    ("googlenet", {"aux_logits": True}, "conv1.conv.weight", (64, 3, 7, 7)),
    ("googlenet", {"aux_logits": True}, "conv3.bn.weight", (192,)),
    ("googlenet", {"aux_logits": True}, "inception3a.branch1.conv.weight", (64, 192, 1, 1)),
    ("googlenet", {"aux_logits": True}, "inception3a.branch2.1.conv.weight", (128, 96, 3, 3)),
    ("googlenet", {"aux_logits": True}, "inception3a.branch3.1.conv.weight", (32, 16, 3, 3)),
    ("googlenet", {"aux_logits": True}, "inception5b.branch4.1.conv.weight", (128, 832, 1, 1)),
    ("googlenet", {"aux_logits": True}, "aux1.conv.conv.weight", (128, 512, 1, 1)),
    ("googlenet", {"aux_logits": True}, "aux2.fc2.weight", (1000, 1024)),
    ("googlenet", {"aux_logits": True}, "fc.weight", (1000, 1024)),
    ("inception-v3", {}, "Conv2d_1a_3x3.conv.weight", (32, 3, 3, 3)),
    ("inception-v3", {}, "Conv2d_4a_3x3.conv.weight", (192, 80, 3, 3)),
    ("inception-v3", {}, "Mixed_5b.branch_pool.conv.weight", (32, 192, 1, 1)),
    ("inception-v3", {}, "Mixed_5d.branch5x5_2.conv.weight", (64, 48, 5, 5)),
    ("inception-v3", {}, "Mixed_6a.branch3x3.conv.weight", (384, 288, 3, 3)),
    ("inception-v3", {}, "Mixed_6e.branch7x7dbl_5.conv.weight", (192, 192, 1, 7)),
    ("inception-v3", {}, "Mixed_7a.branch7x7x3_4.conv.weight", (192, 192, 3, 3)),
    ("inception-v3", {}, "Mixed_7b.branch3x3_2a.bn.running_mean", (384,)),
    ("inception-v3", {}, "Mixed_7c.branch3x3dbl_3b.conv.weight", (384, 384, 3, 1)),
    ("inception-v3", {}, "AuxLogits.conv1.conv.weight", (768, 128, 5, 5)),
    ("inception-v3", {}, "AuxLogits.fc.weight", (1000, 768)),
    ("inception-v3", {}, "fc.weight", (1000, 2048)),
]


def imagenet_model(name: str, meta: bool = True, **kwargs) -> torch.nn.Module:
    with torch.device("meta"):
        model = create(name, 1000, 3, IMAGENET.get(name, 224), **kwargs)
    return model if meta else model.to_empty(device="cpu")


def torchvision_file(name: str, **kwargs) -> dict[str, torch.Tensor]:
    """A state dict as torchvision's ``state_dict()`` of that network would be, random values."""
    shapes = {key: tensor.shape for key, tensor in imagenet_model(name, **kwargs).state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    named = torchvision_state_dict(name, shapes)
    return {key: torch.randn(shape, generator=generator) for key, shape in named.items()}


@pytest.mark.parametrize(("name", "kwargs", "key", "shape"), TORCHVISION_KEYS)
def test_cnnlab_keys_map_to_torchvisions_names_and_shapes(name, kwargs, key, shape):
    named = torchvision_state_dict(name, imagenet_model(name, **kwargs).state_dict())
    assert key in named
    assert tuple(named[key].shape) == shape


CNNLAB_ONLY = ("stem.", "mixed.", "inception.", "aux.")  # module names torchvision does not use


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("alexnet", {}), ("vgg11-bn", {}), ("resnet18", {}), ("resnet50", {}),
     ("googlenet", {"aux_logits": True}), ("inception-v3", {})],
)  # fmt: skip
def test_every_name_is_torchvisions_and_unique(name, kwargs):
    state = imagenet_model(name, **kwargs).state_dict()
    named = torchvision_state_dict(name, state)
    assert len(named) == len(state)  # no two tensors under one name
    leftovers = [k for k in named if k.startswith(CNNLAB_ONLY) or ".residual." in k]
    assert leftovers == []
    assert len(torchvision_state_dict("resnet18", imagenet_model("resnet18").state_dict())) == 122


@pytest.mark.parametrize("name", ["resnet18", "googlenet"])
def test_a_torchvision_file_loads_tensor_for_tensor(name):
    file = torchvision_file(name)
    model = imagenet_model(name, meta=False)
    assert load_state(model, file, rename=renamer(name)) == []
    rename = renamer(name)
    for key, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, file[rename(key)].to(tensor.dtype))


def test_auxiliary_heads_of_the_file_are_skipped_when_the_network_has_none():
    file = torchvision_file("googlenet", aux_logits=True)
    model = imagenet_model("googlenet", meta=False)  # no auxiliary heads by default
    load_state(model, file, rename=renamer("googlenet"))
    assert torch.equal(model.fc.weight, file["fc.weight"])


def test_a_new_head_is_skipped_and_kept():
    file = torchvision_file("resnet18")
    model = imagenet_model("resnet18", meta=False)
    before = model.fc.weight.clone()
    skipped = load_state(model, file, rename=renamer("resnet18"), skip=lambda key: key.startswith("fc."))
    assert skipped == ["fc.weight", "fc.bias"]
    # Bit for bit: to_empty leaves memory as it was, and it may hold NaNs (NaN != NaN for torch.equal).
    assert torch.equal(model.fc.weight.view(torch.int32), before.view(torch.int32))
    assert torch.equal(model.stem[0][0].weight, file["conv1.weight"])


def test_a_partial_file_names_the_first_missing_tensor():
    file = torchvision_file("resnet18")
    del file["layer3.0.conv2.weight"]
    with pytest.raises(CheckpointError, match=r"no tensor 'layer3\.0\.conv2\.weight' \(the network's "
                       r"'layer3\.0\.residual\.2\.0\.weight'"):  # fmt: skip
        load_state(imagenet_model("resnet18", meta=False), file, rename=renamer("resnet18"))


def test_a_file_of_another_network_is_refused():
    deeper = torchvision_file("resnet34")  # every resnet18 tensor is in it, with the same shape
    with pytest.raises(
        CheckpointError, match=r"'layer1\.2\.conv1\.weight' that the network has no layer for"
    ):
        load_state(imagenet_model("resnet18", meta=False), deeper, rename=renamer("resnet18"))
    wider = torchvision_file("resnet50")
    with pytest.raises(CheckpointError, match=r"'layer1\.0\.conv1\.weight' has shape \(64, 64, 1, 1\)"):
        load_state(imagenet_model("resnet18", meta=False), wider, rename=renamer("resnet18"))


def test_a_file_whose_tensors_were_shuffled_between_keys_is_refused():
    file = torchvision_file("resnet18")
    keys = list(file)
    order = torch.randperm(len(keys), generator=torch.Generator().manual_seed(1)).tolist()
    shuffled = {key: file[keys[i]] for key, i in zip(keys, order, strict=True)}
    with pytest.raises(CheckpointError, match="its tensors are not where their names say"):
        load_state(imagenet_model("resnet18", meta=False), shuffled, rename=renamer("resnet18"))


def test_networks_torchvision_does_not_have_get_no_renaming():
    assert renamer("course-inception") is None and renamer("lenet5") is None
    assert renamer("vgg19-bn") is not None and renamer("resnet152") is not None
    with pytest.raises(CheckpointError, match="torchvision has no lenet5"):
        torchvision_state_dict("lenet5", {})
