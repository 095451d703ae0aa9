"""The course's recipes, one module each. Importing this package registers them; the import order
is the order the course meets them, which is the order ``cnnlab experiment list`` shows."""

# isort: off
from cnnlab.experiments.recipes import fc_vs_cnn
from cnnlab.experiments.recipes import cifar_tutorial
from cnnlab.experiments.recipes import cifar_classics
from cnnlab.experiments.recipes import optimizers
from cnnlab.experiments.recipes import losses
from cnnlab.experiments.recipes import dropout
from cnnlab.experiments.recipes import seed_noise
from cnnlab.experiments.recipes import autoencoders

# isort: on

__all__ = [
    "autoencoders",
    "cifar_classics",
    "cifar_tutorial",
    "dropout",
    "fc_vs_cnn",
    "losses",
    "optimizers",
    "seed_noise",
]
