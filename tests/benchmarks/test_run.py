"""The benchmark runner's command line."""

from __future__ import annotations

import pytest

from benchmarks import run


def test_quick_is_the_default_and_runs_the_short_parts():
    args = run.parse_args([])
    assert args.mode == "quick"
    assert args.parts == ["peak", "breakdown", "throughput", "evaluation"]


def test_full_runs_every_part_and_only_selects():
    assert run.parse_args(["--full"]).parts == list(run.PARTS)
    assert run.parse_args(["--full", "--only", "recipes, peak"]).parts == ["recipes", "peak"]


def test_unknown_part_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        run.parse_args(["--only", "peak,speed"])
    assert stopped.value.code == 2
    assert "unknown part(s) speed" in capsys.readouterr().err


def test_models_narrow_the_throughput_part_to_known_classifiers(capsys):
    assert run.parse_args([]).models is None
    assert run.parse_args(["--only", "throughput", "--models", "airbench, speedrun"]).models == [
        "airbench",
        "speedrun",
    ]
    with pytest.raises(SystemExit) as stopped:
        run.parse_args(["--models", "airbench,vae"])  # the VAE has no labels to compare on
    assert stopped.value.code == 2
    assert "unknown model(s) vae" in capsys.readouterr().err


def test_every_part_has_a_runner():
    assert set(run.RUNNERS) == set(run.PARTS)


def test_peak_part_writes_its_result(monkeypatch, capsys):
    monkeypatch.setattr(run, "matmul_gflops", lambda: 123.4)
    results = {}
    run.part_peak("quick", results)
    assert results == {"matmul_gflops": 123.4}
    assert "123.4 GFLOP/s" in capsys.readouterr().out


def _run(accuracies, seconds):
    from benchmarks.accuracy import AccuracyRun

    return AccuracyRun("x", accuracies=accuracies, train_seconds=seconds)


def test_time_to_target_ratio_when_both_reach_it():
    verdict = run.time_to_target_verdict(_run([0.5, 0.65], [10.0, 20.0]), _run([0.66], [4.0]), 0.64)
    assert verdict == "time to 64%: x5.0 shorter with cnnlab"


def test_time_to_target_is_a_lower_bound_when_the_plain_run_never_gets_there():
    verdict = run.time_to_target_verdict(_run([0.5, 0.62], [10.0, 30.0]), _run([0.66], [5.0]), 0.64)
    assert verdict.startswith("time to 64%: at least x6.0 shorter")
    assert "62.00% after 30.0 s" in verdict


def test_no_ratio_when_cnnlab_misses_the_target():
    assert "did not reach" in run.time_to_target_verdict(_run([0.7], [1.0]), _run([0.6], [1.0]), 0.64)


def test_compile_part_reports_a_failure_instead_of_a_time(monkeypatch):
    from benchmarks import compiled

    def broken_compile(model):
        raise RuntimeError("no C++ compiler found\nmore detail")

    monkeypatch.setattr(compiled.torch, "compile", broken_compile)
    result = compiled.measure_compile("tutorial-cnn", 4, steps=1)
    assert result.compiled_ms is None and result.ratio is None
    assert result.error == "no C++ compiler found" and result.eager_ms > 0
    assert "compiled: failed (no C++ compiler found)" in result.line()


def test_recipes_part_trains_each_recipe_and_with_float32_also_without_amp(monkeypatch, capsys):
    from benchmarks import accuracy

    trained = []

    def fake_run(recipe, **settings):
        trained.append((recipe, settings))
        precision = "float32" if settings.get("amp") is False else "bfloat16"
        variant = "float32" if precision == "float32" else None  # the recipe's float32 settings taken
        return accuracy.AccuracyRun(
            "x", [0.99], [9.0], 10.0, precision, "amp off" if variant else "", recipe_variant=variant
        )

    monkeypatch.setattr(accuracy, "cnnlab_recipe_run", fake_run)
    results = {"recipes_chosen": ["mnist-fast"], "float32": True}
    run.part_recipes("full", results)
    assert trained == [("mnist-fast", {}), ("mnist-fast", {"amp": False})]
    out = capsys.readouterr().out
    assert "--recipe mnist-fast (bfloat16" in out and "--recipe mnist-fast --no-amp (float32: amp off" in out
    assert "the recipe's float32 settings: model_args=" in out and "'stem': 'patch'" in out
    assert [row["precision"] for row in results["recipes"]] == ["bfloat16", "float32"]
    args = run.parse_args(["--only", "recipes", "--recipes", "mnist-fast", "--float32"])
    assert args.recipes == ["mnist-fast"] and args.float32
    with pytest.raises(SystemExit):
        run.parse_args(["--recipes", "mnist-slow"])


def test_evaluation_part_prints_the_ratio_to_the_arithmetic_floor(monkeypatch, capsys):
    from benchmarks import accuracy, evaluation
    from cnnlab.training import hardware

    found = evaluation.EvaluationResult("tutorial-cnn", 10_000, 2.0, 0.5, 0.1, 0.1, gflop_per_image=0.01)
    monkeypatch.setattr(evaluation, "measure_load", lambda: evaluation.LoadResult("cifar10", 1.0, 0.5))
    monkeypatch.setattr(accuracy, "load_cifar10", lambda: (None, None))
    monkeypatch.setattr(evaluation, "measure_evaluation", lambda test, name, **settings: found)
    monkeypatch.setattr(hardware, "cpu_has_bfloat16_kernels", lambda: True)
    results = {"matmul_gflops": 400.0, "matmul_gflops_bfloat16": 800.0}  # floors: 0.25 s, 0.125 s
    run.part_evaluation("quick", results)
    rows = results["evaluation"]
    assert [row["precision"] for row in rows] == ["float32", "bfloat16"]
    assert [row["to_floor"] for row in rows] == pytest.approx([2.0, 4.0])
    assert not any(row["goal_met"] for row in rows)
    assert "2.00x that floor (goal: within 1.5x): NOT met" in capsys.readouterr().out


def test_airbench_part_runs_each_schedule_side_by_side_or_says_it_needs_the_script(monkeypatch, capsys):
    from benchmarks import airbench

    results = {}
    run.part_airbench("full", results)
    assert results["airbench"].startswith("skipped") and "--airbench PATH" in capsys.readouterr().out
    compared = []
    monkeypatch.setattr(airbench, "compare", lambda args: compared.append((args.epochs, args.seeds)) or {})
    args = run.parse_args(["--full", "--only", "airbench", "--airbench", "/x/airbench94_muon.py"])
    assert args.parts == ["airbench"] and str(args.airbench) == "/x/airbench94_muon.py"
    results = {"airbench_script": "/x/airbench94_muon.py"}
    run.part_airbench("full", results)
    assert compared == [(8, 3), (2, 3)] and results["airbench"] == [{}, {}]
