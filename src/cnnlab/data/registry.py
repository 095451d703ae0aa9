"""The datasets cnnlab knows by name: where they come from, their files, checksums and classes.

Everything else in :mod:`cnnlab.data` (locating, verifying, downloading, decoding, ``cnnlab data
list``) reads these specs; adding a dataset in an official format is one more entry here.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnlab.registry import Registry, lowercase


@dataclass(frozen=True)
class SourceFile:
    """One official file: its path inside the dataset folder and its published checksum."""

    name: str
    md5: str
    size: int | None = None  # bytes, where published; used for the progress bar and a quick check


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: its official files, how to read them, and where to download them."""

    name: str
    title: str
    reader: str  # "idx" (gzipped IDX files) or "cifar" (the python-pickle batches)
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]  # (C, H, W)
    split_sizes: dict[str, int]
    # For each split, the files it is decoded from (paths relative to the dataset folder).
    split_files: dict[str, tuple[str, ...]]
    # Every file the dataset consists of, in extracted form.
    files: tuple[SourceFile, ...]
    # Base URLs, tried in order; a file's URL is base + file name (or base + archive name).
    mirrors: tuple[str, ...]
    # The official archive that holds ``files`` (CIFAR), read directly without extracting.
    archive: SourceFile | None = None
    credit: str = ""
    homepage: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_images(self) -> int:
        return sum(self.split_sizes.values())

    @property
    def downloads(self) -> tuple[SourceFile, ...]:
        """The files a download fetches: the archive when there is one, else every file."""
        return (self.archive,) if self.archive else self.files

    def file(self, name: str) -> SourceFile:
        return next(f for f in self.files if f.name == name)


DIGITS = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
# The 100 fine labels in label order, as in the official `meta` file; kept here so that
# `cnnlab data list` can describe CIFAR-100 before it is downloaded.
_CIFAR100_NAMES = """
    apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly
    camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup
    dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower
    leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid
    otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray
    road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar
    sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle
    wardrobe whale willow_tree wolf woman worm
"""
CIFAR100_CLASSES = tuple(_CIFAR100_NAMES.split())

IDX_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

MNIST = DatasetSpec(
    name="mnist",
    title="MNIST handwritten digits",
    reader="idx",
    classes=DIGITS,
    image_shape=(1, 28, 28),
    split_sizes={"train": 60000, "test": 10000},
    split_files=IDX_SPLIT_FILES,
    files=(
        SourceFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9912422),
        SourceFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28881),
        SourceFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1648877),
        SourceFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4542),
    ),
    # The original host is often down, so the well-known PyTorch mirror goes first.
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    credit="Yann LeCun and Corinna Cortes (CC BY-SA 3.0)",
    homepage="http://yann.lecun.com/exdb/mnist/",
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST (Zalando article images)",
    reader="idx",
    classes=FASHION_CLASSES,
    image_shape=(1, 28, 28),
    split_sizes={"train": 60000, "test": 10000},
    split_files=IDX_SPLIT_FILES,
    files=(
        SourceFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880),
        SourceFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", 29515),
        SourceFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", 4422102),
        SourceFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", 5148),
    ),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    credit="Han Xiao, Kashif Rasul and Roland Vollgraf, Zalando Research (MIT licence)",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
)

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10 = DatasetSpec(
    name="cifar10",
    title="CIFAR-10 tiny images, 10 classes",
    reader="cifar",
    classes=CIFAR10_CLASSES,
    image_shape=(3, 32, 32),
    split_sizes={"train": 50000, "test": 10000},
    split_files={
        "train": tuple(f"{CIFAR10_FOLDER}/data_batch_{i}" for i in range(1, 6)),
        "test": (f"{CIFAR10_FOLDER}/test_batch",),
    },
    files=(
        SourceFile(f"{CIFAR10_FOLDER}/batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
        SourceFile(f"{CIFAR10_FOLDER}/data_batch_1", "c99cafc152244af753f735de768cd75f"),
        SourceFile(f"{CIFAR10_FOLDER}/data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
        SourceFile(f"{CIFAR10_FOLDER}/data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
        SourceFile(f"{CIFAR10_FOLDER}/data_batch_4", "634d18415352ddfa80567beed471001a"),
        SourceFile(f"{CIFAR10_FOLDER}/data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
        SourceFile(f"{CIFAR10_FOLDER}/test_batch", "40351d587109b95175f43aff81a1287e"),
    ),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    archive=SourceFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
    credit="Alex Krizhevsky, Vinod Nair and Geoffrey Hinton",
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
)

CIFAR100_FOLDER = "cifar-100-python"
CIFAR100 = DatasetSpec(
    name="cifar100",
    title="CIFAR-100 tiny images, 100 fine classes",
    reader="cifar",
    classes=CIFAR100_CLASSES,
    image_shape=(3, 32, 32),
    split_sizes={"train": 50000, "test": 10000},
    split_files={"train": (f"{CIFAR100_FOLDER}/train",), "test": (f"{CIFAR100_FOLDER}/test",)},
    files=(
        SourceFile(f"{CIFAR100_FOLDER}/meta", "7973b15100ade9c7d40fb424638fde48"),
        SourceFile(f"{CIFAR100_FOLDER}/train", "16019d7e3df5f24257cddd939b257f8d"),
        SourceFile(f"{CIFAR100_FOLDER}/test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),
    ),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    archive=SourceFile("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),
    credit="Alex Krizhevsky, Vinod Nair and Geoffrey Hinton",
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
)

# Dataset names are case-insensitive: "CIFAR10" is "cifar10".
DATASETS: Registry[DatasetSpec] = Registry("dataset", normalize=lowercase)
for _spec in (MNIST, FASHION_MNIST, CIFAR10, CIFAR100):
    DATASETS.add(_spec.name, _spec)
SPLITS = ("train", "test")


def get_spec(name: str) -> DatasetSpec:
    """The spec of a named dataset; an unknown name raises :class:`UnknownNameError`."""
    return DATASETS.get(name)
