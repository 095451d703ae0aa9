"""Autoencoders and the VAE: shapes, each objective's terms against hand computations, and training."""

from __future__ import annotations

import math

import pytest
import torch

from cnnlab.errors import ConfigError, ModelError, UnknownNameError
from cnnlab.models import create, get_info
from cnnlab.models.autoencoders import (
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
    bernoulli_kl,
    build_autoencoder,
)
from cnnlab.models.vae import VAE, gaussian_kl


def mnist_model(name: str, **kwargs) -> torch.nn.Module:
    return create(name, in_channels=1, input_size=28, **kwargs)


@pytest.fixture(scope="module")
def mnist_batches() -> dict[str, torch.Tensor]:
    """512 MNIST training images (shipped with the package) on both input scales."""
    from cnnlab.data import load_dataset, to_model_input

    data = load_dataset("mnist", "train", subset=512, progress=False)
    return {scale: to_model_input(data.images, data.mean, data.std, scale) for scale in ("unit", "symmetric")}


@pytest.mark.parametrize(
    "name, kwargs, latent",
    [
        ("ae", {}, 30),
        ("ae", {"arch": "conv", "latent": 16}, 16),
        ("dae", {}, 500),
        ("sparse-ae", {}, 196),
        ("contractive-ae", {}, 128),
        ("vae", {}, 20),
        ("vae", {"arch": "conv"}, 20),
    ],
)
def test_shapes_and_registry(name, kwargs, latent):
    model = mnist_model(name, **kwargs)
    x = torch.rand(3, 1, 28, 28)
    assert get_info(name).task == "autoencoder"
    assert model(x).shape == (3, 1, 28, 28)
    assert model.encode(x).shape == (3, latent)
    assert model.decode(torch.zeros(2, latent)).shape == (2, 1, 28, 28)
    features = model.features()
    assert features.shape[1:] == ((1, 28, 28) if kwargs.get("arch") != "conv" else (1, 3, 3))
    assert model.input_scale == ("unit" if name == "vae" else "symmetric")


def test_course_shapes():
    ae = mnist_model("ae")
    linear = [m for m in ae.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(784, 30), (30, 784)]
    vae = mnist_model("vae")
    linear = [(m.in_features, m.out_features) for m in vae.modules() if isinstance(m, torch.nn.Linear)]
    assert linear == [(784, 400), (400, 40), (20, 400), (400, 784)]  # 784-400-(20+20), mirrored


def test_conv_body_on_colour_images():
    model = create("ae", in_channels=3, input_size=32, arch="conv", hidden="16,32")
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"arch": "conv", "hidden": [8, 8, 8]}, ModelError),  # 28 is not a multiple of 8
        ({"recon": "bce"}, ConfigError),  # BCE needs [0, 1] targets
        ({"hidden": "wide"}, ConfigError),
        ({"activation": "gelu"}, UnknownNameError),
        ({"arch": "transformer"}, UnknownNameError),
    ],
)
def test_bad_options_raise_clear_errors(kwargs, error):
    with pytest.raises(error):
        mnist_model("ae", **kwargs)


def test_kl_matches_closed_form():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])
    # 1/2 sum(var + mu^2 - 1 - log var): (1 + 1 - 1 - 0) + (4 + 0 - 1 - log 4), and 0 for N(0, I).
    expected = torch.tensor([0.5 * (1.0 + 3.0 - math.log(4.0)), 0.0])
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)
    normal = torch.distributions.Normal
    reference = torch.distributions.kl_divergence(normal(mu, (0.5 * logvar).exp()), normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), reference)


def test_vae_objective_terms_are_per_image_sums():
    torch.manual_seed(0)
    model: VAE = mnist_model("vae", latent=4)
    x = torch.rand(5, 1, 28, 28)
    torch.manual_seed(1)
    terms = model.objective(x)
    torch.manual_seed(1)  # the same eps
    mu, logvar = model.encode_distribution(x)
    z = mu + torch.randn(mu.shape) * (0.5 * logvar).exp()
    probs = torch.sigmoid(model.decoder(z))
    bce = -(x * probs.log() + (1 - x) * (1 - probs).log()).flatten(1).sum(1).mean()
    torch.testing.assert_close(terms["recon"], bce, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(terms["kl"], gaussian_kl(mu, logvar).mean())
    torch.testing.assert_close(terms["loss"], terms["recon"] + terms["kl"])
    assert model.sample(6, torch.Generator().manual_seed(0)).shape == (6, 1, 28, 28)


def test_masking_noise_blackens_about_half_the_pixels_reproducibly():
    model: DenoisingAutoencoder = mnist_model("dae")
    x = torch.rand(64, 1, 28, 28) * 2 - 1 + 1e-3  # no pixel is exactly black yet
    corrupted = model.corrupt(x, torch.Generator().manual_seed(3))
    black = corrupted == -1.0
    assert abs(black.float().mean().item() - 0.5) < 0.02
    assert torch.equal(corrupted[~black], x[~black])
    assert torch.equal(corrupted, model.corrupt(x, torch.Generator().manual_seed(3)))


def test_the_courses_dropout_noise_zeroes_half_the_pixels_and_doubles_the_rest():
    """Notebook 06: ``img * nn.Dropout()(torch.ones(img.shape))``, a mask of 0 and 2."""
    model: DenoisingAutoencoder = mnist_model("dae", noise="dropout")
    x = torch.rand(64, 1, 28, 28) * 2 - 1 + 1e-3  # no pixel is exactly 0 yet
    corrupted = model.corrupt(x, torch.Generator().manual_seed(3))
    dropped = corrupted == 0.0
    assert abs(dropped.float().mean().item() - 0.5) < 0.02
    torch.testing.assert_close(corrupted[~dropped], 2 * x[~dropped])
    torch.manual_seed(0)
    mask = torch.nn.Dropout(0.5).train()(torch.ones(x.shape))
    assert set(mask.unique().tolist()) == {0.0, 2.0}  # the course's mask takes the same two values
    with pytest.raises(ConfigError, match="out of range"):
        mnist_model("dae", noise="dropout", level=1.0)


def test_vae_reports_the_loss_at_the_posterior_mean_in_eval_mode_only():
    """The course's notebook 07 evaluates with z = mu: ``loss_at_mean`` is that number."""
    torch.manual_seed(0)
    model: VAE = mnist_model("vae", latent=4)
    x = torch.rand(5, 1, 28, 28)
    assert "loss_at_mean" not in model.objective(x)  # training: no extra decoder pass
    model.eval()
    terms = model.objective(x)
    mu, logvar = model.encode_distribution(x)
    probs = torch.sigmoid(model.decoder(mu))
    bce = -(x * probs.log() + (1 - x) * (1 - probs).log()).flatten(1).sum(1).mean()
    torch.testing.assert_close(terms["recon_at_mean"], bce, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(terms["loss_at_mean"], terms["recon_at_mean"] + gaussian_kl(mu, logvar).mean())
    assert not torch.equal(terms["loss"], terms["loss_at_mean"])  # the sampled code is another estimate


def test_gaussian_noise_is_scaled_to_the_input_scale():
    model = mnist_model("dae", noise="gaussian", level=0.1)
    x = torch.zeros(100, 1, 28, 28)
    noise = model.corrupt(x, torch.Generator().manual_seed(0))
    assert abs(noise.std().item() - 0.2) < 0.005  # 0.1 of the [0, 1] range is 0.2 on [-1, 1]


def test_dae_logs_clean_reconstruction_without_minimising_it():
    model = mnist_model("dae", latent=32)
    terms = model.objective(torch.rand(4, 1, 28, 28) * 2 - 1)
    assert set(terms) == {"loss", "recon", "recon_clean"}
    assert terms["loss"].requires_grad and not terms["recon_clean"].requires_grad


def test_sparsity_penalties():
    assert bernoulli_kl(0.05, torch.tensor(0.05)).item() == pytest.approx(0.0, abs=1e-7)
    expected = 0.05 * math.log(0.05 / 0.5) + 0.95 * math.log(0.95 / 0.5)
    assert bernoulli_kl(0.05, torch.tensor(0.5)).item() == pytest.approx(expected, rel=1e-5)
    code = torch.tensor([[0.1, 0.3], [0.5, 0.1]])
    kl_model: SparseAutoencoder = mnist_model("sparse-ae", latent=2, weight=2.0)
    penalty, terms = kl_model.regularizer(code)
    kl = bernoulli_kl(0.05, torch.tensor([0.3, 0.2])).sum()
    torch.testing.assert_close(terms["sparsity"], kl)
    torch.testing.assert_close(penalty, 2.0 * kl)
    l1_model = mnist_model("sparse-ae", latent=2, sparsity="l1", weight=0.5)
    penalty, terms = l1_model.regularizer(code)
    assert terms["sparsity"].item() == pytest.approx((0.4 + 0.6) / 2)
    assert penalty.item() == pytest.approx(0.25)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_contractive_penalty_equals_the_jacobian_norm(activation):
    torch.manual_seed(0)
    model = create("contractive-ae", in_channels=1, input_size=4, latent=5, activation=activation)
    x = torch.randn(3, 1, 4, 4)
    _, terms = model.regularizer(model.encoder(x))
    norms = [
        torch.autograd.functional.jacobian(lambda image: model.encoder(image.unsqueeze(0))[0], image)
        .pow(2)
        .sum()
        for image in x
    ]
    torch.testing.assert_close(terms["contractive"], torch.stack(norms).mean())


def test_contractive_needs_a_one_layer_sigmoid_or_tanh_encoder():
    with pytest.raises(ConfigError, match="sigmoid or tanh"):
        create("contractive-ae", in_channels=1, input_size=28, activation="relu")
    with pytest.raises(ModelError, match="one linear layer"):
        build_autoencoder(ContractiveAutoencoder, 1, 28, hidden=(8,), activation_name="sigmoid", weight=0.1)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("ae", {}),
        ("ae", {"arch": "conv", "hidden": [4, 8]}),
        ("dae", {"latent": 128}),
        ("sparse-ae", {}),
        ("contractive-ae", {}),
        ("vae", {}),
        ("vae", {"arch": "conv", "hidden": [4, 8]}),
    ],
)
def test_objective_decreases_on_a_short_run(name, kwargs, mnist_batches):
    torch.manual_seed(0)
    model = mnist_model(name, **kwargs)
    x = mnist_batches[model.input_scale]
    held_out, train = x[:128], x[128:]

    def evaluate() -> dict[str, float]:
        model.eval()
        torch.manual_seed(1)  # the same noise before and after
        with torch.no_grad():
            terms = {key: float(value) for key, value in model.objective(held_out).items()}
        model.train()
        return terms

    before = evaluate()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for step in range(30):
        batch = train[(step * 64) % len(train) :][:64]
        optimizer.zero_grad()
        model.objective(batch)["loss"].backward()
        optimizer.step()
    after = evaluate()
    assert after["loss"] < 0.8 * before["loss"], (before, after)
    assert after["recon"] < before["recon"]
