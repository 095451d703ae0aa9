"""The variational autoencoder (Kingma & Welling 2014): a code that is a distribution.

The encoder gives a mean and a log-variance per latent dimension; a code is drawn from that Gaussian
(the reparameterisation z = mu + sigma * eps keeps it differentiable) and the decoder turns it into
Bernoulli pixel probabilities. Training maximises the evidence lower bound, i.e. minimises

    loss = recon + beta * kl,   recon = -log p(x | z) = BCE summed over the pixels of an image,
                                kl = KL(q(z | x) || N(0, I)) in closed form,

both per image and averaged over the images of the batch (the course's 98.28 after 10 epochs on
the MNIST test set is this ``loss``, with beta = 1). Inputs are on the [0, 1] scale.

The course's model is the MLP 784-400-(20+20) with a 20-d latent (``vae``); ``arch="conv"`` swaps in
the two-stage conv body of :mod:`cnnlab.models.autoencoders`. ``eps`` comes from torch's global RNG
unless a generator is passed; the trainer seeds that RNG per step, so seeded runs repeat.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.models.autoencoders import (
    CONV_CHANNELS,
    MNIST_INPUT,
    Autoencoder,
    as_input_shape,
    layer_sizes,
    make_decoder,
    make_encoder,
    reconstruction_loss,
)
from cnnlab.models.registry import register


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row: -1/2 sum(1 + logvar - mu^2 - exp(logvar)). Shape (N,)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)


class VAE(Autoencoder):
    """Variational autoencoder with a Gaussian code and a Bernoulli decoder."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *, beta: float = 1.0, **kwargs):
        super().__init__(encoder, decoder, input_scale="unit", recon="bce", **kwargs)
        if beta < 0:
            raise ConfigError(f"beta weighs the KL term and must be >= 0; got {beta}.")
        self.beta = beta

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar), each (N, latent_dim)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean: the deterministic code used for latent maps and interpolation."""
        return self.encode_distribution(x)[0]

    def reparameterize(
        self, mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + eps * torch.exp(0.5 * logvar)

    def objective(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``loss`` (the negative ELBO), ``recon`` and ``kl``: per-image sums, averaged over images.

        The code is sampled in eval mode too, so the test ``loss`` is a one-sample estimate of the
        negative ELBO. In eval mode ``loss_at_mean`` and ``recon_at_mean`` are also returned: the
        same terms with the code set to the posterior mean (z = mu), which is what the course's
        notebook 07 measures (its ``reparameterise`` returns mu in eval mode): a few points lower.
        """
        mu, logvar = self.encode_distribution(x)
        z = self.reparameterize(mu, logvar)
        recon = reconstruction_loss(self.decoder(z), x, "bce", "unit")
        kl = gaussian_kl(mu, logvar).mean()
        terms = {"loss": recon + self.beta * kl, "recon": recon, "kl": kl}
        if not self.training:
            terms["recon_at_mean"] = reconstruction_loss(self.decoder(mu), x, "bce", "unit")
            terms["loss_at_mean"] = terms["recon_at_mean"] + self.beta * kl
        return terms

    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``count`` images decoded from codes drawn from the prior N(0, I): pixel probabilities."""
        device = next(self.parameters()).device
        z = torch.randn((count, self.latent_dim), generator=generator, device=device)
        return self.decode(z)


@register(
    "vae",
    family="autoencoder",
    task="autoencoder",
    default_input=MNIST_INPUT,
    year=2014,
    paper="Kingma & Welling, Auto-encoding variational Bayes (ICLR 2014)",
)
def vae(
    num_classes: int,
    in_channels: int,
    input_size: int | Sequence[int],
    *,
    arch: str = "mlp",
    hidden: int | str | Sequence[int] | None = None,
    latent: int = 20,
    beta: float = 1.0,
) -> VAE:
    """Variational autoencoder; by default the course's MLP 784-400-(20+20), 20-d latent.

    MLP: ``hidden`` hidden sizes (default 400); conv: channels per stride-2 stage (default
    :data:`CONV_CHANNELS`). ReLU inside, linear heads for mu and logvar, Bernoulli decoder.
    """
    input_shape = as_input_shape(in_channels, input_size)
    hidden = layer_sizes(hidden, CONV_CHANNELS if arch == "conv" else (400,))
    latent, beta = int(latent), float(beta)
    encoder = make_encoder(
        arch, input_shape, 2 * latent, hidden=hidden, activation_name="relu", code_activation="identity"
    )
    decoder = make_decoder(arch, input_shape, latent, hidden=hidden, activation_name="relu")
    return VAE(encoder, decoder, input_shape=input_shape, latent_dim=latent, beta=beta)
