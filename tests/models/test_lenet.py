"""LeNet-5's squashing function: computed through sigmoid for speed, the paper's A tanh(S a) in value."""

from __future__ import annotations

import pytest
import torch

from cnnlab.models import create
from cnnlab.models.lenet import SQUASH_A, SQUASH_S, Squash


def paper_squash(x: torch.Tensor) -> torch.Tensor:
    return SQUASH_A * torch.tanh(SQUASH_S * x)


def _value_and_gradient(function, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().clone().requires_grad_(True)
    y = function(x)
    (gradient,) = torch.autograd.grad(y, x, torch.linspace(-2, 2, y.numel(), dtype=x.dtype).view_as(y))
    return y.detach(), gradient


@pytest.mark.parametrize("scale", [1e-6, 1e-2, 1.0, 5.0, 40.0])
def test_squash_is_the_papers_function_and_gradient(scale):
    torch.manual_seed(0)
    x = torch.randn(4, 6, 7, 7, dtype=torch.float64) * scale
    ours, paper = _value_and_gradient(Squash(), x), _value_and_gradient(paper_squash, x)
    # float64: equal to a few units in the last place of A (2.2e-16 x 1.7159; they differ in rounding)
    torch.testing.assert_close(ours[0], paper[0], rtol=0, atol=1e-14)
    torch.testing.assert_close(ours[1], paper[1], rtol=0, atol=1e-14)


def test_squash_in_float32_and_bfloat16_is_within_their_rounding():
    x = torch.linspace(-12, 12, 100_001)
    exact = paper_squash(x.double())
    for dtype, ulp_of_a in ((torch.float32, 2.0**-23), (torch.bfloat16, 2.0**-7)):
        ours = Squash()(x.to(dtype)).double()
        papers = paper_squash(x.to(dtype)).double()
        # both forms round the same exact value; ours by at most a few units in the last place of A
        assert (ours - exact).abs().max() <= 4 * ulp_of_a * SQUASH_A + (papers - exact).abs().max()
    assert float(Squash()(torch.tensor(1.0))) == pytest.approx(1.0, abs=1e-4)  # the paper's f(1) = 1


def test_lenet5_trains_the_same_with_either_form(monkeypatch):
    """A few float64 steps of LeNet-5 with the sigmoid form and with the paper's tanh form."""

    def losses() -> list[float]:
        torch.manual_seed(0)
        model = create("lenet5", 10, 1, (28, 28)).double()
        optimizer = torch.optim.Adam(model.parameters(), 5e-3)
        images, labels = torch.randn(32, 1, 28, 28, dtype=torch.float64), torch.arange(32) % 10
        found = []
        for _ in range(5):
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            found.append(loss.item())
        return found

    ours = losses()
    monkeypatch.setattr(Squash, "forward", lambda self, x: paper_squash(x))
    assert ours == pytest.approx(losses(), rel=1e-10)
