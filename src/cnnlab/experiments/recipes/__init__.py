"""The course's recipes, one module each; importing this package registers them in course order."""

from cnnlab.experiments.recipes import fc_vs_cnn

__all__ = ["fc_vs_cnn"]
