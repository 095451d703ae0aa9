"""The Bernoulli-Bernoulli restricted Boltzmann machine, trained with CD-k or persistent CD.

Binary visible units v (the pixels) and hidden units h, energy E(v, h) = -b.v - c.h - h.W v and
p(v, h) proportional to exp(-E). Summing h out gives the free energy

    F(v) = -b.v - sum_j softplus(c_j + W_j.v),   p(v) = exp(-F(v)) / Z,

so the gradient of -log p(v) is dF(v)/dtheta - E_model[dF/dtheta]. Contrastive divergence (Hinton
2002) replaces the model expectation by the end of a k-step Gibbs chain started at the data;
persistent CD (Tieleman 2008) keeps the chains running across updates. ``objective`` returns the
surrogate ``loss = mean F(v_data) - mean F(v_model)`` with v_model detached, whose gradient is
exactly that estimate, so any optimiser can train the RBM.

Inputs are on the [0, 1] scale; grey pixels are used as they are (as probabilities) for the
positive phase and to start the chains. Terms logged by ``objective`` (scalars):

- ``recon_error``: mean squared error per pixel between v and p(v | h), h ~ p(h | v): one Gibbs step.
- ``pseudo_log_likelihood``: the stochastic PLL estimate per image (of v binarised at 0.5),
  D * log sigmoid(F(v with pixel i flipped) - F(v)) for one random pixel i, averaged over images.
- ``free_energy``: mean F(v) over the batch. The test mean minus the train mean (on a fixed train
  subset) is the free-energy gap; :func:`free_energy_gap` computes it, and it grows as the RBM
  overfits (Hinton's practical guide, section 6).

Sampling (hidden and visible states, the PLL's pixel) uses torch's global RNG unless a generator is
passed; the trainer seeds that RNG per step, so seeded runs repeat. In eval mode the objective runs
CD-k from the data and leaves the persistent chains alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.models.autoencoders import MNIST_INPUT, InputShape, as_input_shape
from cnnlab.models.registry import register


class RBM(nn.Module):
    """Bernoulli-Bernoulli RBM over flattened images of ``input_shape``."""

    input_scale = "unit"
    denoising = False

    def __init__(
        self,
        input_shape: InputShape,
        hidden: int = 500,
        *,
        k: int = 1,
        persistent: bool = False,
        chains: int = 100,
    ):
        super().__init__()
        if hidden < 1 or k < 1 or chains < 1:
            raise ConfigError(f"hidden, k and chains must be >= 1; got {hidden}, {k}, {chains}.")
        self.input_shape, self.latent_dim = tuple(input_shape), hidden
        self.k, self.persistent = k, persistent
        visible = input_shape[0] * input_shape[1] * input_shape[2]
        # Small random weights and zero hidden biases (Hinton's practical guide, section 8); the
        # visible biases are set from the first training batch (see _init_visible_bias).
        self.weight = nn.Parameter(0.01 * torch.randn(hidden, visible))
        self.visible_bias = nn.Parameter(torch.zeros(visible))
        self.hidden_bias = nn.Parameter(torch.zeros(hidden))
        self.register_buffer("visible_bias_ready", torch.tensor(False))
        if persistent:
            # Saved with the weights, so a resumed run continues the same chains.
            self.register_buffer("chains", torch.bernoulli(torch.full((chains, visible), 0.5)))

    @property
    def visible_count(self) -> int:
        return self.weight.shape[1]

    def _flat(self, v: torch.Tensor) -> torch.Tensor:
        return v.reshape(v.shape[0], -1)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) per row, shape (N,); ``v`` is (N, D) or images (N, C, H, W)."""
        v = self._flat(v)
        return -(v @ self.visible_bias) - F.softplus(v @ self.weight.t() + self.hidden_bias).sum(1)

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """p(h_j = 1 | v), (N, hidden)."""
        return torch.sigmoid(self._flat(v) @ self.weight.t() + self.hidden_bias)

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        """p(v_i = 1 | h), (N, D)."""
        return torch.sigmoid(h @ self.weight + self.visible_bias)

    @torch.no_grad()
    def gibbs_step(
        self, v: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step v -> h ~ p(h | v) -> v' ~ p(v | h); returns (v' sampled, p(v' | h)), each (N, D)."""
        h = torch.bernoulli(self.hidden_probs(v), generator=generator)
        probs = self.visible_probs(h)
        return torch.bernoulli(probs, generator=generator), probs

    @torch.no_grad()
    def run_chain(
        self, v: torch.Tensor, steps: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``steps`` Gibbs steps from ``v``; returns the last (sample, probabilities)."""
        sample, probs = self._flat(v), self._flat(v)
        for _ in range(steps):
            sample, probs = self.gibbs_step(sample, generator)
        return sample, probs

    def objective(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The CD-k (or PCD-k) surrogate ``loss`` and the monitoring terms of the module docstring."""
        v = self._flat(x)
        if self.training and not self.visible_bias_ready:
            self._init_visible_bias(v)
        if self.persistent and self.training:
            negatives, _ = self.run_chain(self.chains, self.k)
            self.chains.copy_(negatives)
        else:
            negatives, _ = self.run_chain(v, self.k)
        data_energy = self.free_energy(v)
        loss = data_energy.mean() - self.free_energy(negatives.detach()).mean()
        with torch.no_grad():
            _, reconstruction = self.gibbs_step(v)
            terms = {
                "recon_error": F.mse_loss(reconstruction, v),
                "pseudo_log_likelihood": self.pseudo_log_likelihood(v).mean(),
                "free_energy": data_energy.detach().mean(),
            }
        return {"loss": loss, **terms}

    @torch.no_grad()
    def _init_visible_bias(self, v: torch.Tensor) -> None:
        """b_i = log(p_i / (1 - p_i)), p_i the mean of pixel i over the first training batch.

        Hinton's guide (section 8) sets the visible biases from the data's pixel means. With zero
        biases, CD-1 lets the hidden units switch the always-black border off, so with every hidden
        unit off the model gives each pixel probability ~0.5: a grey region of huge entropy that
        Gibbs chains from noise fall into and never leave. Initialised from the first batch (as
        Glow's ActNorm initialises from data); a flag saved with the weights keeps it to once.
        """
        share_on = v.mean(0).clamp(1e-3, 1 - 1e-3)
        self.visible_bias.copy_(torch.log(share_on / (1 - share_on)))
        self.visible_bias_ready.fill_(True)

    def pseudo_log_likelihood(
        self, v: torch.Tensor, *, exact: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Per image (N,): sum_i log p(v_i | v_-i) of ``v`` binarised at 0.5.

        ``exact=False`` estimates the sum from one random pixel per image (D times its term; an
        unbiased estimate); ``exact=True`` flips every pixel (D free energies per image: small D only).
        """
        v = (self._flat(v) >= 0.5).to(self.weight.dtype)
        count, visible = v.shape
        energy = self.free_energy(v)
        if exact:
            flipped = v.unsqueeze(1).repeat(1, visible, 1)  # (N, D, D): row i has pixel i flipped
            index = torch.arange(visible, device=v.device)
            flipped[:, index, index] = 1 - flipped[:, index, index]
            flipped_energy = self.free_energy(flipped.reshape(count * visible, visible)).view(count, visible)
            return F.logsigmoid(flipped_energy - energy.unsqueeze(1)).sum(1)
        pixel = torch.randint(visible, (count,), generator=generator, device=v.device)
        rows = torch.arange(count, device=v.device)
        flipped = v.clone()
        flipped[rows, pixel] = 1 - flipped[rows, pixel]
        return visible * F.logsigmoid(self.free_energy(flipped) - energy)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean-field reconstruction p(v | p(h | x)) as images (no sampling: deterministic)."""
        return self.decode(self.encode(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden probabilities p(h | x), the RBM's code, (N, hidden)."""
        return self.hidden_probs(x)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Visible probabilities p(v | h) as images (N, C, H, W)."""
        return self.visible_probs(h).view(-1, *self.input_shape)

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return x

    @torch.no_grad()
    def sample(
        self,
        count: int,
        steps: int = 1000,
        generator: torch.Generator | None = None,
        start: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Images (count, C, H, W) after ``steps`` Gibbs steps from ``start`` (default: coin-flip
        noise); returns the last step's visible probabilities, which show the sample without the
        salt-and-pepper of the binary state."""
        if start is None:
            start = torch.bernoulli(
                torch.full((count, self.visible_count), 0.5, device=self.weight.device), generator=generator
            )
        _, probs = self.run_chain(start, steps, generator)
        return probs.view(-1, *self.input_shape)

    def features(self) -> torch.Tensor:
        """Each hidden unit's weights (its receptive field) as an image: (hidden, C, H, W)."""
        return self.weight.detach().view(-1, *self.input_shape)


@torch.no_grad()
def free_energy_gap(model: RBM, train: torch.Tensor, test: torch.Tensor) -> float:
    """Mean free energy of ``test`` minus that of ``train`` (both on the [0, 1] scale).

    Near 0 while the RBM generalises; it grows as the training data gets lower free energy (higher
    probability) than unseen data. Pass a fixed train subset about the size of the test set.
    """
    return float(model.free_energy(test).mean() - model.free_energy(train).mean())


@register(
    "rbm",
    family="rbm",
    task="rbm",
    default_input=MNIST_INPUT,
    year=2002,
    paper="Hinton, Training products of experts by minimizing contrastive divergence "
    "(Neural Computation 2002)",
)
def rbm(
    num_classes: int,
    in_channels: int,
    input_size: int | Sequence[int],
    *,
    hidden: int = 500,
    k: int = 1,
    persistent: bool = False,
    chains: int = 100,
) -> RBM:
    """Bernoulli-Bernoulli RBM, 784 visible and 500 hidden units, CD-k (persistent=True: PCD-k)."""
    return RBM(
        as_input_shape(in_channels, input_size),
        int(hidden),
        k=int(k),
        persistent=_flag(persistent),
        chains=int(chains),
    )


def _flag(value: bool | str) -> bool:
    """A boolean model option, also when it arrives as text from the command line."""
    if isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"persistent takes true or false, not {value!r}.")
        return value.lower() in ("true", "1", "yes")
    return bool(value)
