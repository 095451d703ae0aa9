"""The course's experiments, one module each. Importing this package registers them; the import order
is the order the course meets them, which is the order ``cnnlab experiment list`` shows."""

# isort: off
from cnnlab.experiments.catalog import fc_vs_cnn
from cnnlab.experiments.catalog import cifar_tutorial
from cnnlab.experiments.catalog import cifar_classics
from cnnlab.experiments.catalog import optimizers
from cnnlab.experiments.catalog import losses
from cnnlab.experiments.catalog import dropout
from cnnlab.experiments.catalog import mixup
from cnnlab.experiments.catalog import seed_noise
from cnnlab.experiments.catalog import autoencoders
from cnnlab.experiments.catalog import transfer

# isort: on

__all__ = [
    "autoencoders",
    "cifar_classics",
    "cifar_tutorial",
    "dropout",
    "fc_vs_cnn",
    "losses",
    "mixup",
    "optimizers",
    "seed_noise",
    "transfer",
]
