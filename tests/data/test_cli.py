import numpy as np
from PIL import Image

from cnnlab.cli import main


def test_list_shows_every_dataset_with_its_state(tiny_mnist, capsys):
    root, _, _ = tiny_mnist
    assert main(["data", "list", "--data-dir", str(root), "--json"]) == 0
    out = capsys.readouterr().out
    for name in ("mnist", "fashion-mnist", "cifar10", "cifar100", "tiny-mnist"):
        assert f'"name": "{name}"' in out
    assert '"verified": "not checked yet"' in out  # tiny-mnist: found, never verified
    assert '"origin": "shipped with cnnlab"' in out  # mnist: nothing else in this test's world


def test_verify_then_list_reports_verified(tiny_mnist, capsys):
    root, _, _ = tiny_mnist
    assert main(["data", "verify", "tiny-mnist", "--data-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "all 4 files match (official)" in out
    assert main(["data", "list", "--data-dir", str(root)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "tiny-mnist" in line)
    assert "official" in row and "--data-dir" in row


def test_verify_mismatch_exits_1_with_the_file(tiny_mnist, capsys):
    root, _, _ = tiny_mnist
    path = root / "tiny-mnist" / "train-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[12] ^= 0x10
    path.write_bytes(bytes(data))
    assert main(["data", "verify", "tiny-mnist", "--data-dir", str(root)]) == 1
    captured = capsys.readouterr()
    assert "MISMATCH" in captured.out
    assert "1 of 4 files of tiny-mnist" in captured.err and "train-labels-idx1-ubyte.gz" in captured.err


def test_unknown_dataset_exits_2_listing_known(capsys):
    assert main(["data", "verify", "cifar-100"]) == 2
    err = capsys.readouterr().err
    assert "Unknown dataset 'cifar-100'" in err and "fashion-mnist" in err


def test_download_offline_and_missing_says_where(tiny_mnist, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    assert main(["data", "download", "tiny-mnist", "--data-dir", str(tmp_path / "new")]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "not on this machine" in err and "train-images-idx3-ubyte.gz" in err
    assert main(["data", "download", "tiny-mnist", "--data-dir", str(tiny_mnist[0])]) == 0
    assert "Already here: tiny-mnist" in capsys.readouterr().out


def test_show_writes_a_png_grid(tiny_mnist, tmp_path, capsys):
    root, _, _ = tiny_mnist
    out = tmp_path / "grid.png"
    code = main(["data", "show", "tiny-mnist", "--data-dir", str(root), "--out", str(out), "--count", "12"])
    assert code == 0
    assert "Wrote" in capsys.readouterr().out
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (1200, 2 * 175 + 40)
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10  # not a blank canvas


def test_show_image_folder_skips_bad_images_with_a_warning(tmp_path, capsys, cache_dir):
    for name in ("a", "b"):
        (tmp_path / "f" / name).mkdir(parents=True)
        Image.fromarray(np.full((8, 8, 3), 100, np.uint8)).save(tmp_path / "f" / name / "0.png")
    (tmp_path / "f" / "b" / "1.jpg").write_bytes(b"broken")
    out = tmp_path / "f.png"
    assert main(["data", "show", str(tmp_path / "f"), "--out", str(out)]) == 1
    assert "cannot be read" in capsys.readouterr().err
    assert main(["data", "show", str(tmp_path / "f"), "--out", str(out), "--skip-bad-images"]) == 0
    assert "Warning: Skipped 1 unreadable image(s)" in " ".join(capsys.readouterr().err.split())
    assert out.is_file()
