"""The airbench side by side: the upstream script is patched in memory, loudly refused when it
changed, and run end to end. A tiny fake script with the upstream's shape stands in for
airbench94_muon.py (never part of cnnlab); set CNNLAB_AIRBENCH to the real file to also check that
every CPU patch matches it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from benchmarks.measure import synthetic_dataset

from benchmarks import airbench
from cnnlab.training.hardware import cpu_has_bfloat16_kernels

# The upstream's shape in 80 lines: every text a CPU patch replaces, as often as upstream has it.
FAKE_SCRIPT = """
import os
import sys
with open(sys.argv[0]) as f:
    code = f.read()
from math import ceil

import torch
from torch import nn
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T

@torch.compile
def zeropower_via_newtonschulz5(G, steps=3, eps=1e-7):
    return G

CIFAR_MEAN = torch.tensor((0.4914, 0.4822, 0.4465))
CIFAR_STD = torch.tensor((0.2470, 0.2435, 0.2616))

class CifarLoader:
    def __init__(self, path, train=True, batch_size=500):
        data_path = os.path.join(path, "train.pt" if train else "test.pt")
        data = torch.load(data_path, map_location=torch.device("cuda"))
        self.images, self.labels = data["images"], data["labels"]
        self.images = (self.images.half() / 255).permute(0, 3, 1, 2).to(memory_format=torch.channels_last)
        self.normalize = T.Normalize(CIFAR_MEAN, CIFAR_STD)
        self.batch_size = batch_size

    def __len__(self):
        return ceil(len(self.images) / self.batch_size)

    def __iter__(self):
        images = self.normalize(self.images)
        for i in range(len(self)):
            part = slice(i * self.batch_size, (i + 1) * self.batch_size)
            yield images[part], self.labels[part]

class BatchNorm(nn.BatchNorm2d):
    pass

class CifarNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.norm = BatchNorm(8)
        self.head = nn.Linear(8, 10, bias=False)
        for mod in self.modules():
            if isinstance(mod, BatchNorm):
                mod.float()
            else:
                mod.half()

    def reset(self):
        self.conv.reset_parameters()

    def init_whiten(self, train_images):
        pass

    def forward(self, x, whiten_bias_grad=True):
        return self.head(F.gelu(self.norm(self.conv(x))).amax((2, 3)))

def print_training_details(variables, is_final_entry):
    print(variables["epoch"], variables.get("time_seconds"))

def main(run, model):
    batch_size = 2000
    test_loader = CifarLoader("cifar10", train=False, batch_size=2000)
    train_loader = CifarLoader("cifar10", train=True, batch_size=batch_size)
    total_train_steps = ceil(8 * len(train_loader))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    starter = torch.cuda.Event(enable_timing=True)
    ender = torch.cuda.Event(enable_timing=True)
    time_seconds = 0.0
    def start_timer():
        starter.record()
    def stop_timer():
        ender.record()
        torch.cuda.synchronize()
        nonlocal time_seconds
        time_seconds += 1e-3 * starter.elapsed_time(ender)
    model.reset()
    for epoch in range(ceil(total_train_steps / len(train_loader))):
        start_timer()
        for inputs, labels in train_loader:
            F.cross_entropy(model(inputs), labels, reduction="sum").backward()
            optimizer.step()
            model.zero_grad(set_to_none=True)
        stop_timer()
        print_training_details(locals(), is_final_entry=False)
    images, labels = next(iter(test_loader))
    with torch.no_grad():
        tta_val_acc = (model(images).argmax(1) == labels).float().mean().item()
    epoch = "eval"
    print_training_details(locals(), is_final_entry=True)
    return tta_val_acc

if __name__ == "__main__":
    model = CifarNet().cuda()
    raise SystemExit("the __main__ block must not run")
"""


@pytest.fixture
def fake_script(tmp_path: Path) -> Path:
    path = tmp_path / "airbench94_muon.py"
    path.write_text(FAKE_SCRIPT, encoding="utf-8")
    return path


@pytest.fixture
def data_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    train, test = synthetic_dataset((3, 32, 32), 64), synthetic_dataset((3, 32, 32), 32)
    airbench.write_upstream_data(folder, train, test)
    return folder


def test_each_patch_must_match_exactly_as_often_as_stated():
    patch = airbench.Patch("old", "new", "why", count=2)
    assert airbench.apply_patches("old + old", [patch]) == "new + new"
    for changed_upstream in ("old", "old old old", "renamed"):
        with pytest.raises(airbench.UpstreamChanged, match="'old'"):
            airbench.apply_patches(changed_upstream, [patch])


def test_patched_lines_keep_their_numbers():
    patch = airbench.Patch("import a\nimport b\n", "", "why")
    assert airbench.apply_patches("import a\nimport b\nboom()\n", [patch]).splitlines().index("boom()") == 2


def test_schedule_patches_only_where_the_schedule_differs():
    assert airbench.schedule_patches(airbench.UPSTREAM_EPOCHS, airbench.UPSTREAM_BATCH) == []
    epochs, batch = airbench.schedule_patches(2, 16)
    assert epochs.new == "total_train_steps = ceil(2 * len(train_loader))" and "2 epochs" in epochs.why
    assert batch.new.strip() == "batch_size = 16"


def test_the_patched_script_runs_on_the_cpu_in_float32_weights(fake_script, data_folder):
    patches = [*airbench.CPU_PATCHES, *airbench.schedule_patches(epochs=2, batch_size=16)]
    module = airbench.load_upstream(fake_script, patches)
    assert "torchvision" not in vars(module) and module.code is None  # never imported, never read
    airbench.patch_forward(module, bfloat16=False)
    assert module.CifarNet().conv.weight.dtype == torch.float32  # mod.half() became mod.float()
    run = airbench.run_upstream(module, data_folder, seed=0)
    assert len(run.epoch_seconds) == 2 and all(seconds > 0 for seconds in run.epoch_seconds)
    assert 0.0 <= run.accuracy <= 1.0
    again = airbench.run_upstream(module, data_folder, seed=0)
    assert again.accuracy == run.accuracy  # seeded: the same net, the same accuracy


@pytest.mark.skipif(not cpu_has_bfloat16_kernels(), reason="this CPU has no bfloat16 kernels")
def test_bfloat16_autocast_gives_float32_logits(fake_script):
    module = airbench.load_upstream(fake_script, airbench.CPU_PATCHES)
    airbench.patch_forward(module, bfloat16=True)
    logits = module.CifarNet()(torch.randn(2, 3, 8, 8))
    assert logits.dtype == torch.float32


def test_the_profile_names_the_convolution_kernels(fake_script):
    module = airbench.load_upstream(fake_script, airbench.CPU_PATCHES)
    airbench.patch_forward(module, bfloat16=False)
    images = airbench._normalized(module, torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8))
    kernels = airbench.conv_kernels(airbench.upstream_step(module, images, torch.tensor([0, 1, 2, 3])))
    assert kernels and all(airbench.is_conv_kernel(name) for name in kernels)
    assert not any(name in airbench.CONV_DISPATCHERS for name in kernels)
    assert airbench.is_conv_kernel("aten::_slow_conv2d_forward")
    assert airbench.is_conv_kernel("aten::mkldnn_convolution")
    assert not airbench.is_conv_kernel("autograd::engine::evaluate_function: ConvolutionBackward0")


def test_a_changed_upstream_file_is_one_line_and_exit_2(tmp_path, capsys):
    changed = tmp_path / "airbench94_muon.py"
    changed.write_text(FAKE_SCRIPT.replace("@torch.compile\n", ""), encoding="utf-8")
    assert airbench.main(["--airbench", str(changed), "--out", str(tmp_path / "out.json")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: The airbench script has 0 occurrence(s) of '@torch.compile")
    assert "Traceback" not in error and not (tmp_path / "out.json").exists()


def test_without_a_script_the_usage_says_where_to_get_it(capsys):
    with pytest.raises(SystemExit) as stopped:
        airbench.main([])
    assert stopped.value.code == 2
    assert "KellerJordan/cifar10-airbench" in capsys.readouterr().err


@pytest.mark.skipif(
    not os.environ.get("CNNLAB_AIRBENCH"), reason="CNNLAB_AIRBENCH (airbench94_muon.py) not set"
)
def test_every_cpu_patch_matches_the_real_script():
    source = Path(os.environ["CNNLAB_AIRBENCH"]).read_text(encoding="utf-8")
    patched = airbench.apply_patches(source, [*airbench.CPU_PATCHES, *airbench.schedule_patches(2, 100)])
    assert "torch.cuda" not in patched.split('if __name__ == "__main__":')[0]
    assert "@torch.compile" not in patched


def test_the_goal_allows_seed_noise_in_accuracy_but_not_a_slower_epoch():
    def side(accuracies, seconds):
        return {**airbench.summary([airbench.SideRun(k, a, [seconds]) for k, a in enumerate(accuracies)])}

    original = side([0.900, 0.905, 0.910], 120.0)
    assert airbench.goal_verdict(original, side([0.899, 0.902, 0.906], 110.0)) == "met"  # within noise
    assert airbench.goal_verdict(original, side([0.880, 0.881, 0.882], 110.0)).startswith(
        "NOT met (accuracy;"
    )
    assert airbench.goal_verdict(original, side([0.905, 0.905, 0.905], 130.0)).startswith("NOT met (time;")
    assert airbench.goal_verdict(side([0.9], 120.0), side([0.95], 100.0)).startswith("not judged")
