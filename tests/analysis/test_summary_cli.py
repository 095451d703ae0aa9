"""`cnnlab explain` and `cnnlab models` through cnnlab.cli.main, as a user runs them."""

from __future__ import annotations

import json

import pytest

from cnnlab.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_explain_prints_every_layer_with_its_formula(capsys):
    code, out, _ = run(capsys, "explain", "lenet5", "--input", "1x28x28")
    assert code == 0
    assert "features.c1" in out and "(28 + 2*2 - 5)/1 + 1 = 28" in out
    c3_row = next(line for line in out.splitlines() if "features.c3 " in line)
    assert "TableConv" in c3_row and "(14 + 2*0 - 5)/1 + 1 = 10" in c3_row and "1,516" in c3_row
    assert "Parameters: 60,850" in out


def test_explain_json_for_scripts(capsys):
    code, out, _ = run(
        capsys, "explain", "resnet18", "--input", "3x32x32", "--format", "json", "--depth", "1"
    )
    assert code == 0
    report = json.loads(out)
    assert (report["params"], report["input_shape"], report["output_shape"]) == (
        11_173_962,
        [3, 32, 32],
        [10],
    )
    assert [layer["name"] for layer in report["layers"]] == [
        "stem",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
        "fc",
    ]


def test_explain_markdown_for_reports(capsys):
    code, out, _ = run(capsys, "explain", "vgg11", "--format", "markdown", "--depth", "1")
    assert code == 0
    assert out.startswith("### vgg11 on 3x32x32\n")
    assert "| classifier | Linear |  | 10 |" in out


def test_explain_refuses_alexnet_on_mnist_naming_the_layer(capsys):
    code, out, err = run(capsys, "explain", "alexnet", "--input", "1x28x28")
    assert code == 1 and out == ""
    flat = " ".join(err.split())
    assert "at layer 'features.5' (MaxPool2d, k3 s2 p0) the height drops below 1" in flat
    assert "(2 + 2*0 - 3)/2 + 1 = floor(-0.5) + 1 = 0" in flat
    assert "Traceback" not in err


def test_explain_unknown_model_suggests_the_closest(capsys):
    code, _, err = run(capsys, "explain", "resnt18")
    assert code == 2
    assert "Did you mean 'resnet18'?" in " ".join(err.split())


@pytest.mark.parametrize("bad", ["3x32", "3x0x32", "axbxc"])
def test_explain_rejects_malformed_inputs(capsys, bad):
    code, _, err = run(capsys, "explain", "vgg11", "--input", bad)
    assert code == 2 and "--input must be CxHxW" in err


def test_explain_compares_models_side_by_side(capsys):
    argv = ("explain", "--compare", "vgg16,resnet18,googlenet", "--input", "3x224x224", "--format", "json")
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert {entry["model"]: entry["params"] for entry in json.loads(out)} == {
        "vgg16": 138_357_544,
        "resnet18": 11_689_512,
        "googlenet": 6_624_904,
    }
    code, out, _ = run(capsys, "explain", "--compare", "vgg16,resnet18", "--input", "3x224x224")
    assert code == 0 and "138,357,544" in out and "11,689,512" in out


def test_explain_model_args_build_the_model_a_recipe_trains(capsys):
    argv = ("explain", "speedrun", "--model-arg", "widths=16,32,64", "--model-arg", "stem=patch")
    code, out, _ = run(capsys, *argv, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert (report["params"], report["macs"]) == (103_328, 1_376_896)
    first_conv = next(layer for layer in report["layers"] if layer["name"] == "groups.0.0")
    assert first_conv["output_shape"] == [16, 16, 16] and first_conv["window"] == "k4 s2 p1"
    code, out, _ = run(capsys, *argv, "--compare", "tutorial-cnn", "--format", "json")
    assert code == 0 and [entry["params"] for entry in json.loads(out)] == [103_328, 62_006]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("speedrun", "--model-arg", "stem=pixel"), "stem must be one of conv, patch"),
        (("--compare", "vgg11,vgg13", "--model-arg", "batch_norm=true"), "name one"),
    ],
)
def test_explain_bad_model_args_are_errors(capsys, argv, message):
    code, _, err = run(capsys, "explain", *argv)
    assert code == 2 and message in err


def test_explain_a_users_own_module_from_a_file(capsys, tmp_path):
    source = tmp_path / "mynet.py"
    source.write_text(
        "from torch import nn\n"
        "class Net(nn.Sequential):\n"
        "    def __init__(self):\n"
        "        layers = nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 15 * 15, 4)\n"
        "        super().__init__(*layers)\n"
    )
    code, out, _ = run(capsys, "explain", f"{source}:Net", "--input", "3x32x32", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["params"] == 8 * 27 + 8 + 8 * 225 * 4 + 4
    assert report["layers"][0]["formula"] == "(32 + 2*0 - 3)/2 + 1 = floor(14.5) + 1 = 15"
    code, _, err = run(capsys, "explain", f"{source}:Net")
    assert code == 2 and "--input" in err


def test_models_lists_the_zoo_with_costs(capsys):
    code, out, _ = run(capsys, "models", "--family", "vgg", "--format", "json")
    assert code == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert len(rows) == 8
    assert rows["vgg16"]["params_paper"] == 138_357_544 and rows["vgg16"]["paper_input"] == "3x224x224"
    assert rows["vgg16"]["params_3x32x32"] == 14_719_818  # the CIFAR form: 512 -> 10 head
    code, out, _ = run(capsys, "models", "--family", "alexnet")
    assert code == 0 and "61.1 M" in out


def test_models_table_marks_refused_inputs(capsys):
    code, out, _ = run(capsys, "models", "--family", "zfnet", "--format", "markdown")
    assert code == 0
    assert out.splitlines()[2].startswith("| zfnet | zfnet | Zeiler & Fergus")
    assert "| - | - | - | - | 3x224x224 | 62.4 M | 1.17 G |" in out


def test_models_unknown_family(capsys):
    code, _, err = run(capsys, "models", "--family", "resnets")
    assert code == 2 and "Did you mean 'resnet'?" in " ".join(err.split())
