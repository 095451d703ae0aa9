"""Autoencoders: plain, denoising, sparse and contractive; MLP or convolutional bodies.

An autoencoder squeezes an image through a small code and rebuilds it; what it learns depends on
what makes the job hard. Every model here has the same shape (an encoder to a code, a decoder back
to the image) and differs only in :meth:`Autoencoder.corrupt` (the DAE) or
:meth:`Autoencoder.regularizer` (sparse, contractive), so a student can read the difference.

Course references on MNIST (all four variants default to the course's setting: tanh output on
[-1, 1] inputs and a per-pixel MSE, so their test ``recon`` numbers compare directly):

- ``ae``: 784-30-784, tanh, 3 epochs, test MSE 0.1378.
- ``dae``: 784-500-784, masking noise 0.5 (each pixel set to black with probability 0.5), 3 epochs;
  ``noise="dropout"`` is the course's own corruption (notebook 06: ``nn.Dropout()`` applied to a
  tensor of ones and multiplied in, a mask of 0 and 2: a dropped pixel becomes 0, mid-grey on
  [-1, 1], and a kept one is doubled).

Terms returned by ``objective`` (scalar tensors; the trainer minimises ``loss`` and logs the rest):

- ``recon``: mean squared error per pixel (``recon="mse"``) or binary cross-entropy summed over
  the pixels of an image and averaged over images (``recon="bce"``, [0, 1] inputs only).
- ``recon_clean`` (DAE): the same, reconstructing the *uncorrupted* input; logged, not minimised.
- ``sparsity`` (sparse AE): KL(rho || mean activation) summed over code units, or the L1 norm of
  the code summed over units and averaged over images; ``mean_code`` is the mean code activation.
- ``contractive`` (CAE): squared Frobenius norm of the encoder's Jacobian, per image, averaged.

Randomness (the DAE's noise) comes from torch's global RNG unless a generator is passed; the trainer
seeds that RNG per step from (seed, epoch, batch), so a seeded run is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ConfigError, ModelError, UnknownNameError
from cnnlab.models.registry import register

InputShape = tuple[int, int, int]  # (C, H, W)

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "identity": nn.Identity,
}
# The output non-linearity that maps the decoder's raw output onto the input scale.
OUTPUT_ACTIVATIONS = {"unit": torch.sigmoid, "symmetric": torch.tanh}
# The pixel value of black on each scale: what masking noise writes.
BLACK = {"unit": 0.0, "symmetric": -1.0}
RECON_LOSSES = ("mse", "bce")
ARCHS = ("mlp", "conv")
CONV_CHANNELS = (32, 64)  # default conv body: two stride-2 stages, 28x28 -> 14x14 -> 7x7


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise UnknownNameError("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]()


def as_input_shape(in_channels: int, input_size: int | Sequence[int]) -> InputShape:
    """(C, H, W) from the registry's ``in_channels`` and ``input_size`` (int or (H, W))."""
    height, width = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    return (int(in_channels), int(height), int(width))


def layer_sizes(value: int | str | Sequence[int] | None, default: Sequence[int]) -> tuple[int, ...]:
    """Hidden sizes from a model option: None (the default), 500, "400,200" or [400, 200]."""
    if value is None:
        return tuple(default)
    items = value.split(",") if isinstance(value, str) else [value] if isinstance(value, int) else list(value)
    try:
        sizes = tuple(int(item) for item in items if str(item).strip())
    except ValueError:
        sizes = ()
    if (items and not sizes) or any(size < 1 for size in sizes):
        raise ConfigError(f"hidden takes positive layer sizes such as 500 or 400,200; got {value!r}.")
    return sizes


def make_encoder(
    arch: str,
    input_shape: InputShape,
    out_features: int,
    *,
    hidden: Sequence[int],
    activation_name: str,
    code_activation: str,
) -> nn.Sequential:
    """Image (N, C, H, W) -> code (N, out_features).

    ``hidden`` is the MLP's hidden-layer sizes, or the conv body's channels per stride-2 stage.
    """
    channels, height, width = input_shape
    layers: list[nn.Module] = []
    if arch == "mlp":
        layers.append(nn.Flatten())
        features = channels * height * width
    elif arch == "conv":
        _check_conv_fits(input_shape, len(hidden))
        for width_out in hidden:
            layers += [nn.Conv2d(channels, width_out, 3, stride=2, padding=1), activation(activation_name)]
            channels, height, width = width_out, height // 2, width // 2
        layers.append(nn.Flatten())
        features, hidden = channels * height * width, ()
    else:
        raise UnknownNameError("architecture", arch, ARCHS)
    for size in hidden:
        layers += [nn.Linear(features, size), activation(activation_name)]
        features = size
    layers += [nn.Linear(features, out_features), activation(code_activation)]
    return nn.Sequential(*layers)


def make_decoder(
    arch: str, input_shape: InputShape, code_features: int, *, hidden: Sequence[int], activation_name: str
) -> nn.Sequential:
    """Code (N, code_features) -> raw output (N, C, H, W), before the output non-linearity.

    The mirror image of :func:`make_encoder` with the same ``hidden``.
    """
    channels, height, width = input_shape
    layers: list[nn.Module] = []
    features = code_features
    if arch == "mlp":
        for size in reversed(hidden):
            layers += [nn.Linear(features, size), activation(activation_name)]
            features = size
        layers += [nn.Linear(features, channels * height * width), nn.Unflatten(1, input_shape)]
        return nn.Sequential(*layers)
    _check_conv_fits(input_shape, len(hidden))
    stages = len(hidden)
    small = (hidden[-1], height >> stages, width >> stages)
    layers += [nn.Linear(features, small[0] * small[1] * small[2]), activation(activation_name)]
    layers.append(nn.Unflatten(1, small))
    widths_out = [*reversed(hidden[:-1]), channels]
    for index, (width_in, width_out) in enumerate(zip(reversed(hidden), widths_out, strict=True)):
        # output_padding=1 makes each stage exactly double the size (7 -> 14 -> 28).
        layers.append(nn.ConvTranspose2d(width_in, width_out, 3, stride=2, padding=1, output_padding=1))
        if index < stages - 1:
            layers.append(activation(activation_name))
    return nn.Sequential(*layers)


def _check_conv_fits(input_shape: InputShape, stages: int) -> None:
    _, height, width = input_shape
    factor = 2**stages
    if stages == 0 or height % factor or width % factor:
        raise ModelError(
            f"The conv autoencoder halves the image {stages} times, so its height and width must be "
            f"multiples of {factor}; got {height}x{width}. Resize the images or use arch='mlp'."
        )


def reconstruction_loss(
    raw_output: torch.Tensor, target: torch.Tensor, kind: str, scale: str
) -> torch.Tensor:
    """``raw_output`` is the decoder's output before the output non-linearity (logits for BCE).

    "mse": mean over every pixel of every image (as torch's ``MSELoss``, the course's number).
    "bce": summed over the pixels of an image, averaged over images (the VAE's per-image number).
    """
    if kind == "bce":
        per_image = F.binary_cross_entropy_with_logits(raw_output, target, reduction="none")
        return per_image.flatten(1).sum(1).mean()
    return F.mse_loss(OUTPUT_ACTIVATIONS[scale](raw_output), target)


class Autoencoder(nn.Module):
    """Encoder -> code -> decoder, trained to reproduce its input (``ae``).

    ``input_scale`` is the scale the trainer feeds ("symmetric": [-1, 1] with a tanh output,
    "unit": [0, 1] with a sigmoid output).
    """

    denoising = False  # whether ``corrupt`` changes the input (the figures show a corrupted column)

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        *,
        input_shape: InputShape,
        latent_dim: int,
        input_scale: str = "symmetric",
        recon: str = "mse",
    ):
        super().__init__()
        if input_scale not in OUTPUT_ACTIVATIONS:
            raise ConfigError(
                f"input_scale must be one of {sorted(OUTPUT_ACTIVATIONS)}, got {input_scale!r}."
            )
        if recon not in RECON_LOSSES:
            raise UnknownNameError("reconstruction loss", recon, RECON_LOSSES)
        if recon == "bce" and input_scale != "unit":
            raise ConfigError("recon='bce' needs targets in [0, 1]: use input_scale='unit' with it.")
        self.encoder, self.decoder = encoder, decoder
        self.input_shape, self.latent_dim = tuple(input_shape), latent_dim
        self.input_scale, self.recon = input_scale, recon

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code (N, latent_dim) of a batch on the model's input scale."""
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) on the model's input scale."""
        return OUTPUT_ACTIVATIONS[self.input_scale](self.decoder(code))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction of ``x`` (no corruption, even for a DAE)."""
        return self.decode(self.encode(x))

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The input the encoder sees in the objective; unchanged for a plain autoencoder."""
        return x

    def regularizer(self, code: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(weighted penalty added to the loss, unweighted terms to log); none for a plain AE."""
        return code.new_zeros(()), {}

    def objective(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``loss`` = ``recon`` + weighted penalty; see the module docstring for the units."""
        code = self.encoder(self.corrupt(x))
        recon = reconstruction_loss(self.decoder(code), x, self.recon, self.input_scale)
        penalty, terms = self.regularizer(code)
        return {"loss": recon + penalty, "recon": recon, **terms}

    def features(self) -> torch.Tensor:
        """The first layer's weights as images: (K, C, H, W) for an MLP, (K, C, 3, 3) for a conv."""
        first = next(m for m in self.encoder.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))
        weight = first.weight.detach()
        return weight.view(-1, *self.input_shape) if isinstance(first, nn.Linear) else weight


class DenoisingAutoencoder(Autoencoder):
    """Reconstructs the clean image from a corrupted one (Vincent et al. 2008; ``dae``).

    ``noise="masking"``: each pixel is set to black with probability ``level`` (0.5 by default).
    ``noise="dropout"``: the course's corruption, inverted dropout of the pixels: each is set to 0
    with probability ``level`` and the others are divided by 1 - ``level`` (doubled at 0.5), as
    ``x * nn.Dropout(level)(torch.ones_like(x))``; on [-1, 1] a dropped pixel is mid-grey.
    ``noise="gaussian"``: adds N(0, level^2) noise, ``level`` in units of the [0, 1] pixel scale.
    """

    denoising = True
    NOISES = ("masking", "dropout", "gaussian")

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *, noise: str, level: float, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        if noise not in self.NOISES:
            raise UnknownNameError("noise", noise, self.NOISES)
        highest = {"masking": 1.0, "dropout": 0.99}.get(noise, float("inf"))  # dropout divides by 1 - level
        if not 0.0 <= level <= highest:
            raise ConfigError(f"noise level {level} is out of range for {noise} noise (0 to {highest}).")
        self.noise, self.level = noise, level

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.noise == "masking":
            dropped = torch.rand(x.shape, generator=generator, device=x.device) < self.level
            return x.masked_fill(dropped, BLACK[self.input_scale])
        if self.noise == "dropout":
            kept = torch.rand(x.shape, generator=generator, device=x.device) >= self.level
            return x * kept.to(x.dtype) / (1.0 - self.level)
        # The symmetric scale is twice as wide as [0, 1], so the same noise is twice as large there.
        std = self.level * (2.0 if self.input_scale == "symmetric" else 1.0)
        return x + std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)

    def objective(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = super().objective(x)
        with torch.no_grad():
            terms["recon_clean"] = reconstruction_loss(
                self.decoder(self.encoder(x)), x, self.recon, self.input_scale
            )
        return terms


class SparseAutoencoder(Autoencoder):
    """A code pushed towards few active units (``sparse-ae``).

    ``sparsity="kl"``: ``weight`` * sum_j KL(target || mean activation of unit j over the batch),
    with a sigmoid code (Ng's lecture notes); ``sparsity="l1"``: ``weight`` * mean_i sum_j |h_ij|.
    """

    KINDS = ("kl", "l1")

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, *, sparsity: str, target: float, weight: float, **kwargs
    ):
        super().__init__(encoder, decoder, **kwargs)
        if sparsity not in self.KINDS:
            raise UnknownNameError("sparsity penalty", sparsity, self.KINDS)
        if sparsity == "kl" and not 0.0 < target < 1.0:
            raise ConfigError(f"The KL sparsity target is a mean activation in (0, 1); got {target}.")
        self.sparsity, self.target, self.weight = sparsity, target, weight

    def regularizer(self, code: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if self.sparsity == "kl":
            penalty = bernoulli_kl(self.target, code.mean(0)).sum()
        else:
            penalty = code.abs().sum(1).mean()
        return self.weight * penalty, {"sparsity": penalty, "mean_code": code.detach().mean()}


def bernoulli_kl(target: float, mean: torch.Tensor) -> torch.Tensor:
    """KL(Bernoulli(target) || Bernoulli(mean)), elementwise; ``mean`` clamped away from 0 and 1."""
    mean = mean.clamp(1e-6, 1 - 1e-6)
    return target * torch.log(target / mean) + (1 - target) * torch.log((1 - target) / (1 - mean))


class ContractiveAutoencoder(Autoencoder):
    """Penalises how much the code moves when the input moves (Rifai et al. 2011; ``contractive-ae``).

    The encoder is one linear layer and an elementwise non-linearity s, h = s(Wx + b), as in the
    paper, so the Jacobian's squared Frobenius norm has a closed form:
    ||dh/dx||_F^2 = sum_j s'(a_j)^2 * ||W_j||^2, with s' written in terms of h.
    """

    DERIVATIVES = {"sigmoid": lambda h: h * (1 - h), "tanh": lambda h: 1 - h * h}

    def __init__(self, encoder: nn.Sequential, decoder: nn.Module, *, weight: float, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        layers = [m for m in encoder if not isinstance(m, nn.Flatten)]
        if len(layers) != 2 or not isinstance(layers[0], nn.Linear):
            raise ModelError("The contractive autoencoder's encoder must be one linear layer (hidden=()).")
        self.code_activation = type(layers[1]).__name__.lower()
        if self.code_activation not in self.DERIVATIVES:
            raise ConfigError(
                f"The contractive penalty needs a sigmoid or tanh code, not {self.code_activation}."
            )
        # The index, not the layer: a second reference would register the layer twice.
        self.linear_index, self.weight = list(encoder).index(layers[0]), weight

    def regularizer(self, code: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        slope = self.DERIVATIVES[self.code_activation](code)
        row_norms = self.encoder[self.linear_index].weight.pow(2).sum(1)  # ||W_j||^2, one a code unit
        penalty = (slope.pow(2) * row_norms).sum(1).mean()
        return self.weight * penalty, {"contractive": penalty}


def build_autoencoder(
    cls: type[Autoencoder],
    in_channels: int,
    input_size: int | Sequence[int],
    *,
    arch: str = "mlp",
    hidden: Sequence[int] | None = None,
    latent: int = 30,
    activation_name: str = "tanh",
    code_activation: str | None = None,
    input_scale: str = "symmetric",
    recon: str = "mse",
    **extra,
) -> Autoencoder:
    """One builder for every variant: the body from ``arch``/``hidden``, the rest passed to ``cls``.

    ``hidden`` defaults to no hidden layer for an MLP and to :data:`CONV_CHANNELS` for a conv body;
    the conv body uses ReLU inside and ``code_activation`` (default: ``activation_name``) on the code.
    """
    input_shape = as_input_shape(in_channels, input_size)
    hidden = layer_sizes(hidden, CONV_CHANNELS if arch == "conv" else ())
    inner = "relu" if arch == "conv" else activation_name
    encoder = make_encoder(
        arch,
        input_shape,
        latent,
        hidden=hidden,
        activation_name=inner,
        code_activation=code_activation or activation_name,
    )
    decoder = make_decoder(arch, input_shape, latent, hidden=hidden, activation_name=inner)
    return cls(
        encoder,
        decoder,
        input_shape=input_shape,
        latent_dim=latent,
        input_scale=input_scale,
        recon=recon,
        **extra,
    )


# --- Registered models ------------------------------------------------------------------------
# Every builder takes the registry's (num_classes, in_channels, input_size); num_classes is unused.
# Options common to all: arch ("mlp" or "conv"), hidden (MLP sizes or conv channels), latent
# (code size), input_scale ("symmetric" or "unit"), recon ("mse" or "bce").

MNIST_INPUT = (1, 28, 28)


@register(
    "ae",
    family="autoencoder",
    task="autoencoder",
    default_input=MNIST_INPUT,
    year=2006,
    paper="Hinton & Salakhutdinov, Reducing the dimensionality of data with neural networks (Science 2006)",
)
def ae(
    num_classes: int,
    in_channels: int,
    input_size: tuple[int, int],
    *,
    arch: str = "mlp",
    hidden: int | str | Sequence[int] | None = None,
    latent: int = 30,
    activation: str = "tanh",
    input_scale: str = "symmetric",
    recon: str = "mse",
) -> Autoencoder:
    """Plain autoencoder; by default the course's 784-30-784 tanh MLP on [-1, 1] inputs."""
    return build_autoencoder(
        Autoencoder,
        in_channels,
        input_size,
        arch=arch,
        hidden=hidden,
        latent=int(latent),
        activation_name=activation,
        input_scale=input_scale,
        recon=recon,
    )


@register(
    "dae",
    family="autoencoder",
    task="autoencoder",
    default_input=MNIST_INPUT,
    year=2008,
    paper="Vincent et al., Extracting and composing robust features with denoising autoencoders (ICML 2008)",
)
def dae(
    num_classes: int,
    in_channels: int,
    input_size: tuple[int, int],
    *,
    noise: str = "masking",
    level: float = 0.5,
    arch: str = "mlp",
    hidden: int | str | Sequence[int] | None = None,
    latent: int = 500,
    activation: str = "tanh",
    input_scale: str = "symmetric",
    recon: str = "mse",
) -> DenoisingAutoencoder:
    """Denoising autoencoder; by default the course's 784-500-784 with masking noise 0.5."""
    return build_autoencoder(
        DenoisingAutoencoder,
        in_channels,
        input_size,
        arch=arch,
        hidden=hidden,
        latent=int(latent),
        activation_name=activation,
        input_scale=input_scale,
        recon=recon,
        noise=noise,
        level=float(level),
    )


@register(
    "sparse-ae",
    family="autoencoder",
    task="autoencoder",
    default_input=MNIST_INPUT,
    year=2011,
    paper="Ng, Sparse autoencoder (CS294A lecture notes, Stanford 2011)",
)
def sparse_ae(
    num_classes: int,
    in_channels: int,
    input_size: tuple[int, int],
    *,
    sparsity: str = "kl",
    target: float = 0.05,
    weight: float = 1e-2,
    arch: str = "mlp",
    hidden: int | str | Sequence[int] | None = None,
    latent: int = 196,
    input_scale: str = "symmetric",
    recon: str = "mse",
) -> SparseAutoencoder:
    """Sparse autoencoder: 784-196-784 with a sigmoid code pushed to a mean activation of 0.05."""
    return build_autoencoder(
        SparseAutoencoder,
        in_channels,
        input_size,
        arch=arch,
        hidden=hidden,
        latent=int(latent),
        activation_name="tanh",
        code_activation="sigmoid",
        input_scale=input_scale,
        recon=recon,
        sparsity=sparsity,
        target=float(target),
        weight=float(weight),
    )


@register(
    "contractive-ae",
    family="autoencoder",
    task="autoencoder",
    default_input=MNIST_INPUT,
    year=2011,
    paper="Rifai et al., Contractive auto-encoders: explicit invariance during feature extraction "
    "(ICML 2011)",
)
def contractive_ae(
    num_classes: int,
    in_channels: int,
    input_size: tuple[int, int],
    *,
    weight: float = 1e-2,
    latent: int = 128,
    activation: str = "sigmoid",
    input_scale: str = "symmetric",
    recon: str = "mse",
) -> ContractiveAutoencoder:
    """Contractive autoencoder: 784-128-784, sigmoid code, penalty on the encoder's Jacobian."""
    return build_autoencoder(
        ContractiveAutoencoder,
        in_channels,
        input_size,
        latent=int(latent),
        activation_name=activation,
        input_scale=input_scale,
        recon=recon,
        weight=float(weight),
    )
