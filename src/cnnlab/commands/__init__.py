"""The CLI's command modules, one an area. Each exposes ``register(app)``; cli.py calls them in order.

Modules import torch and the heavy parts of cnnlab inside the command bodies, so ``--help`` is fast.
"""

from __future__ import annotations

from cnnlab.commands import data, experiment, generative, inspect, models, serve, sweep, train

COMMAND_MODULES = [data, models, train, inspect, generative, experiment, sweep, serve]
