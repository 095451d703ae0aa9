"""The RBM: free energy and pseudo-likelihood against brute force, CD's gradient, PCD chains, training."""

from __future__ import annotations

import itertools

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.models import create, get_info
from cnnlab.models.rbm import RBM, free_energy_gap


def small_rbm(visible: int = 4, hidden: int = 3, seed: int = 0, **kwargs) -> RBM:
    """An RBM on 1 x 1 x ``visible`` "images" with weights large enough to matter."""
    torch.manual_seed(seed)
    rbm = RBM((1, 1, visible), hidden, **kwargs)
    with torch.no_grad():
        rbm.weight.normal_(0, 1.0)
        rbm.visible_bias.normal_(0, 0.5)
        rbm.hidden_bias.normal_(0, 0.5)
    return rbm


def all_states(count: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=count)))


def energy(rbm: RBM, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """E(v, h) = -b.v - c.h - h.W v for every pair of rows of v (N, D) and h (M, H): (N, M)."""
    return -(v @ rbm.visible_bias)[:, None] - (h @ rbm.hidden_bias)[None, :] - v @ rbm.weight.t() @ h.t()


def test_free_energy_matches_brute_force_on_a_4x3_rbm():
    rbm = small_rbm()
    visible = all_states(4)  # the 16 visible states
    hidden = all_states(3)  # the 8 hidden states, summed out by hand
    brute = -torch.logsumexp(-energy(rbm, visible, hidden), dim=1)
    torch.testing.assert_close(rbm.free_energy(visible), brute)


def test_exact_pseudo_log_likelihood_matches_the_joint():
    rbm = small_rbm()
    visible = all_states(4)
    log_p = -rbm.free_energy(visible).detach()  # unnormalised: Z cancels in the conditionals
    index = {tuple(v.tolist()): i for i, v in enumerate(visible)}
    expected = []
    for v in visible:
        total = 0.0
        for i in range(4):
            flipped = v.clone()
            flipped[i] = 1 - flipped[i]
            own, other = log_p[index[tuple(v.tolist())]], log_p[index[tuple(flipped.tolist())]]
            total += float(own - torch.logaddexp(own, other))  # log p(v_i | v_-i)
        expected.append(total)
    torch.testing.assert_close(rbm.pseudo_log_likelihood(visible, exact=True), torch.tensor(expected))


def test_stochastic_pseudo_log_likelihood_is_unbiased():
    rbm = small_rbm(visible=6, hidden=4)
    v = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0, 0.0]])
    exact = rbm.pseudo_log_likelihood(v, exact=True).item()
    estimates = rbm.pseudo_log_likelihood(v.repeat(20000, 1), generator=torch.Generator().manual_seed(0))
    assert estimates.mean().item() == pytest.approx(exact, rel=0.03)
    assert exact < 0


def test_gibbs_step_shapes_and_values():
    rbm = create("rbm", in_channels=1, input_size=28, hidden=50)
    v = torch.rand(7, 1, 28, 28)
    sample, probs = rbm.gibbs_step(v, torch.Generator().manual_seed(0))
    assert sample.shape == probs.shape == (7, 784)
    assert set(sample.unique().tolist()) <= {0.0, 1.0}
    assert probs.min() >= 0 and probs.max() <= 1
    assert rbm.free_energy(v).shape == (7,)
    assert rbm.hidden_probs(v).shape == (7, 50)
    assert rbm(v).shape == (7, 1, 28, 28)
    assert rbm.features().shape == (50, 1, 28, 28)
    assert rbm.sample(3, steps=2).shape == (3, 1, 28, 28)
    again, _ = rbm.gibbs_step(v, torch.Generator().manual_seed(0))
    assert torch.equal(sample, again)
    assert get_info("rbm").task == "rbm" and rbm.input_scale == "unit"


def test_cd_surrogate_has_the_cd_gradient():
    rbm = small_rbm(visible=5, hidden=3, k=2)
    v = torch.bernoulli(torch.full((8, 5), 0.5), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(2)
    rbm.objective(v)["loss"].backward()
    torch.manual_seed(2)  # the same chain
    negatives, _ = rbm.run_chain(v, 2)
    with torch.no_grad():
        positive = rbm.hidden_probs(v).t() @ v / len(v)
        negative = rbm.hidden_probs(negatives).t() @ negatives / len(negatives)
    # dF/dW = -p(h | v) v^T, so the surrogate's gradient is -(<h v>_data - <h v>_model).
    torch.testing.assert_close(rbm.weight.grad, -(positive - negative))
    torch.testing.assert_close(rbm.visible_bias.grad, -(v.mean(0) - negatives.mean(0)))


def test_persistent_chains_advance_in_training_only_and_are_saved():
    rbm = small_rbm(visible=6, hidden=4, persistent=True, chains=10)
    v = torch.rand(4, 6)
    start = rbm.chains.clone()
    rbm.eval()
    rbm.objective(v)
    assert torch.equal(rbm.chains, start)
    rbm.train()
    torch.manual_seed(0)
    rbm.objective(v)
    assert not torch.equal(rbm.chains, start)
    assert "chains" in rbm.state_dict() and rbm.chains.shape == (10, 6)


def test_visible_biases_come_from_the_first_training_batch():
    rbm = small_rbm(visible=3, hidden=2)
    first = torch.tensor([[0.0, 1.0, 0.5], [0.0, 0.5, 0.5]])  # means 0, 0.75, 0.5
    rbm.eval()
    rbm.objective(first)
    assert not rbm.visible_bias_ready  # evaluation does not initialise
    rbm.train()
    rbm.objective(first)
    expected = torch.tensor(
        [torch.logit(torch.tensor(1e-3)).item(), torch.logit(torch.tensor(0.75)).item(), 0.0]
    )
    torch.testing.assert_close(rbm.visible_bias.detach(), expected)
    rbm.objective(torch.ones(2, 3))  # later batches leave them to the optimiser
    torch.testing.assert_close(rbm.visible_bias.detach(), expected)
    assert bool(rbm.state_dict()["visible_bias_ready"])


def test_free_energy_gap():
    rbm = small_rbm(visible=6, hidden=4)
    train, test = torch.rand(20, 6), torch.rand(30, 6)
    with torch.no_grad():
        expected = float(rbm.free_energy(test).mean() - rbm.free_energy(train).mean())
    assert free_energy_gap(rbm, train, test) == pytest.approx(expected)
    assert free_energy_gap(rbm, train, train) == pytest.approx(0.0, abs=1e-6)


def test_bad_options():
    with pytest.raises(ConfigError):
        create("rbm", in_channels=1, input_size=28, k=0)
    with pytest.raises(ConfigError):
        create("rbm", in_channels=1, input_size=28, persistent="maybe")
    assert create("rbm", in_channels=1, input_size=28, persistent="true", chains=5).chains.shape == (5, 784)


@pytest.mark.parametrize("persistent", [False, True])
def test_training_improves_reconstruction_and_pseudo_likelihood(persistent):
    from cnnlab.data import load_dataset, to_model_input

    data = load_dataset("mnist", "train", subset=640, progress=False)
    x = to_model_input(data.images, data.mean, data.std, "unit")
    torch.manual_seed(0)
    rbm = create("rbm", in_channels=1, input_size=28, hidden=64, persistent=persistent, chains=64)
    held_out = x[:128]

    def evaluate() -> dict[str, float]:
        rbm.eval()
        torch.manual_seed(1)
        with torch.no_grad():
            terms = {key: float(value) for key, value in rbm.objective(held_out).items()}
        rbm.train()
        return terms

    before = evaluate()
    optimizer = torch.optim.SGD(rbm.parameters(), lr=0.1, momentum=0.5)
    for step in range(40):
        batch = x[128 + (step * 64) % 512 :][:64]
        optimizer.zero_grad()
        rbm.objective(batch)["loss"].backward()
        optimizer.step()
    after = evaluate()
    # Measured: recon 0.23 -> 0.05 (PCD 0.06), PLL -544 -> -179 (PCD -199) per image.
    assert after["recon_error"] < 0.5 * before["recon_error"], (before, after)
    assert after["pseudo_log_likelihood"] > before["pseudo_log_likelihood"] + 200, (before, after)
