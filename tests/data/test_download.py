"""Downloads against a local HTTP server on 127.0.0.1 (never a real network address)."""

from __future__ import annotations

import dataclasses
import http.server
import shutil
import threading

import pytest

from cnnlab.data import download, load_dataset
from cnnlab.errors import ChecksumError, DataError

from .conftest import register_spec


class FileServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` (name -> bytes); can cut answers short, ignore Range, or send wrong bytes."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files: dict[str, bytes] = {}
        self.drop_after: int | None = None  # bytes of the body sent before closing, once
        self.honour_range = True
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        server: FileServer = self.server
        name = self.path.lstrip("/")
        range_header = self.headers.get("Range")
        server.requests.append((name, range_header))
        if name not in server.files:
            self.send_error(404)
            return
        body, start = server.files[name], 0
        if range_header and server.honour_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if server.drop_after is not None:
            self.wfile.write(body[start : start + server.drop_after])
            server.drop_after = None
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_S", 0.0)
    srv = FileServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture
def served_mnist(tiny_mnist, server, monkeypatch, tmp_path):
    """tiny-mnist's files served by the local server (and removed from the data root)."""
    root, spec, arrays = tiny_mnist
    for f in spec.files:
        server.files[f.name] = (root / spec.name / f.name).read_bytes()
    shutil.rmtree(root / spec.name)
    spec = register_spec(monkeypatch, dataclasses.replace(spec, mirrors=(server.url,)))
    return root, spec, arrays


def test_download_fetches_verifies_and_loads(served_mnist, server):
    root, spec, arrays = served_mnist
    train = load_dataset(spec.name, data_dir=root, progress=False)
    assert len(train) == 20 and train.verification == "official"
    assert sorted(p.name for p in (root / spec.name).iterdir()) == sorted(f.name for f in spec.files)
    assert all(r is None for _, r in server.requests)


def test_interrupted_download_is_never_trusted_and_resumes(served_mnist, server, monkeypatch):
    root, spec, _ = served_mnist
    name = "train-images-idx3-ubyte.gz"
    body = server.files[name]
    monkeypatch.setattr(download, "ATTEMPTS_PER_URL", 1)
    server.drop_after = len(body) // 2
    # Other files download fine; the first one is cut off mid-way.
    with pytest.raises(DataError, match=f"Could not download {name}.*closed") as info:
        load_dataset(spec.name, data_dir=root, progress=False)
    target = root / spec.name / name
    partial = download.partial_path(target)
    assert not target.exists()
    assert partial.stat().st_size == len(body) // 2
    assert f"{len(body) // 2} bytes are kept in {partial}" in str(info.value)
    # A later offline run does not take the partial file for the real one.
    with pytest.raises(DataError, match="is not on this machine"):
        load_dataset(spec.name, data_dir=root, download=False)
    # The next download resumes from the partial file and verifies the whole.
    train = load_dataset(spec.name, data_dir=root, progress=False)
    assert len(train) == 20 and target.read_bytes() == body and not partial.exists()
    assert (name, f"bytes={len(body) // 2}-") in server.requests


def test_retry_after_a_drop_resumes_within_one_call(served_mnist, server):
    root, spec, _ = served_mnist
    server.drop_after = 100
    assert len(load_dataset(spec.name, data_dir=root, progress=False)) == 20
    assert ("train-images-idx3-ubyte.gz", "bytes=100-") in server.requests


def test_server_ignoring_range_restarts_the_file(served_mnist, server):
    root, spec, _ = served_mnist
    name = "train-images-idx3-ubyte.gz"
    target = root / spec.name / name
    target.parent.mkdir(parents=True)
    download.partial_path(target).write_bytes(b"garbage that is not a prefix")
    server.honour_range = False
    assert len(load_dataset(spec.name, data_dir=root, progress=False)) == 20
    assert target.read_bytes() == server.files[name]


def test_corrupt_download_is_deleted_and_reported(served_mnist, server):
    root, spec, _ = served_mnist
    name = "t10k-labels-idx1-ubyte.gz"
    body = bytearray(server.files[name])
    body[-9] ^= 0xFF  # one byte of the CRC: same length, wrong content
    server.files[name] = bytes(body)
    with pytest.raises(ChecksumError) as info:
        load_dataset(spec.name, data_dir=root, progress=False)
    target = root / spec.name / name
    assert str(target) in str(info.value) and spec.file(name).md5 in str(info.value)
    assert not target.exists() and not download.partial_path(target).exists()


def test_missing_on_first_mirror_falls_back_to_the_next(served_mnist, server, monkeypatch):
    root, spec, _ = served_mnist
    spec = register_spec(monkeypatch, dataclasses.replace(spec, mirrors=(server.url + "gone/", server.url)))
    assert len(load_dataset(spec.name, data_dir=root, progress=False)) == 20
    assert ("gone/train-images-idx3-ubyte.gz", None) in server.requests


def test_unreachable_server_reports_every_url(served_mnist, monkeypatch):
    root, spec, _ = served_mnist
    monkeypatch.setattr(download, "ATTEMPTS_PER_URL", 2)
    spec = register_spec(monkeypatch, dataclasses.replace(spec, mirrors=("http://127.0.0.1:9/",)))
    with pytest.raises(DataError, match=r"Could not download .*127\.0\.0\.1:9.*cannot connect") as info:
        load_dataset(spec.name, data_dir=root, progress=False)
    assert str(info.value).count("cannot connect") == 2


def test_bad_kept_bytes_are_discarded_and_the_file_fetched_again(served_mnist, server):
    root, spec, _ = served_mnist
    name = "train-labels-idx1-ubyte.gz"
    target = root / spec.name / name
    target.parent.mkdir(parents=True)
    download.partial_path(target).write_bytes(b"\xff" * 10)  # wrong bytes that a resume would keep
    assert len(load_dataset(spec.name, data_dir=root, progress=False)) == 20
    assert target.read_bytes() == server.files[name]
    assert [r for n, r in server.requests if n == name] == ["bytes=10-", None]
