"""The prepared GPU script: its dry run on a CPU trains every listed recipe end to end."""

from __future__ import annotations

import json

import pytest

from benchmarks import gpu


def test_dry_run_on_cpu_trains_each_recipe_and_writes_the_results(cifar10_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_DATA", str(cifar10_dir))
    out = tmp_path / "gpu.json"
    assert gpu.main(["--device", "cpu", "--quick", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert [row["recipe"] for row in results["recipes"]] == [recipe for recipe, _ in gpu.GPU_RUNS]
    assert results["recipes"][0]["recipe"] == "cifar10-quick"  # goal 1's recipe, measured on the GPU too
    for row in results["recipes"]:
        assert row["settings"]["device"] == "cpu" and len(row["accuracies"]) == 1
        assert 0.0 <= row["accuracies"][0] <= 1.0


def test_without_a_gpu_the_script_says_how_to_dry_run(monkeypatch, capsys):
    monkeypatch.setattr(gpu.torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as stopped:
        gpu.main([])
    assert stopped.value.code == 2
    assert "--device cpu --quick" in capsys.readouterr().err
