import re

import pytest

from cnnlab.data.registry import DATASETS, get_spec
from cnnlab.errors import UnknownNameError


def test_known_datasets_have_consistent_specs():
    assert list(DATASETS) == ["mnist", "fashion-mnist", "cifar10", "cifar100"]
    for spec in DATASETS.values():
        assert all(re.fullmatch(r"[0-9a-f]{32}", f.md5) for f in spec.files), spec.name
        split_files = {name for names in spec.split_files.values() for name in names}
        assert split_files <= {f.name for f in spec.files}, spec.name
        assert spec.mirrors and all(m.startswith(("http://", "https://")) for m in spec.mirrors)
    assert get_spec("cifar100").num_classes == 100
    assert get_spec("CIFAR10").classes[0] == "airplane"
    assert get_spec("mnist").num_images == 70000


def test_unknown_name_suggests_and_lists_known():
    with pytest.raises(UnknownNameError) as info:
        get_spec("minst")
    message = str(info.value)
    assert "Did you mean 'mnist'?" in message
    assert "cifar10, cifar100, fashion-mnist, mnist" in message
