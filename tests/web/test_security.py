"""The token of a lab served beyond the loopback, the origin check, and `cnnlab serve`'s address."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cnnlab.commands import serve
from cnnlab.web.app import create_app

TOKEN = "s3cret-token"


@pytest.fixture
def guarded(runs_dir) -> TestClient:
    with TestClient(create_app(runs_dir, token=TOKEN)) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/runs"),
        ("GET", "/api/runs/lenet/metrics"),
        ("GET", "/api/runs/lenet/stream"),
        ("GET", "/api/runs/lenet/test-images/0.png"),
        ("GET", "/api/experiments"),
        ("POST", "/api/train"),
        ("POST", "/api/runs/lenet/predict"),
        ("POST", "/api/jobs/1/stop"),
        ("GET", "/"),
        ("GET", "/openapi.json"),
    ],
)
def test_without_the_token_every_request_is_401(guarded, method, path):
    response = guarded.request(method, path)
    assert response.status_code == 401
    assert "token" in response.json()["detail"]


def test_a_wrong_token_is_401(guarded):
    assert guarded.get("/api/runs", headers={"X-Cnnlab-Token": "guess"}).status_code == 401
    assert guarded.get("/api/runs?token=guess").status_code == 401


def test_the_token_by_header_bearer_or_the_printed_address(guarded):
    assert guarded.get("/api/runs", headers={"X-Cnnlab-Token": TOKEN}).status_code == 200
    assert guarded.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    page = guarded.get(f"/?token={TOKEN}")
    assert page.status_code == 200
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=Strict" in page.headers["set-cookie"]
    # The cookie the page got now carries the token on the page's own requests.
    assert guarded.get("/api/runs").status_code == 200


def test_static_assets_need_no_token(guarded):
    assert guarded.get("/static/lab.css").status_code == 200


def test_requests_that_change_something_from_another_site_are_403(client):
    response = client.post("/api/train", json={"model": "lenet5"}, headers={"Origin": "http://evil.example"})
    assert response.status_code == 403


def test_train_refuses_unknown_choices_without_starting_anything(client):
    assert client.post("/api/train", json={"model": "no-such-net"}).status_code == 404
    response = client.post("/api/train", json={"dataset": "../../etc"})
    assert response.status_code == 400 and "unknown dataset" in response.json()["detail"]
    assert client.post("/api/train", json={"epochs": 0}).status_code == 422
    assert client.get("/api/jobs").json() == []


@pytest.mark.parametrize(
    ("host", "token", "needs_token"),
    [("127.0.0.1", None, False), ("0.0.0.0", None, True), ("192.168.1.5", "given", True)],
)
def test_serve_binds_the_loopback_and_any_other_host_needs_a_token(
    monkeypatch, capsys, tmp_path, host, token, needs_token
):
    seen = {}

    def fake_run(app, host, port, log_level):
        seen.update(host=host, port=port, app=app)

    monkeypatch.setattr("uvicorn.run", fake_run)
    monkeypatch.setattr(serve, "_check_port_free", lambda host, port: None)
    serve.serve_command(
        runs_dir=tmp_path,
        host=host,
        port=8123,
        token=token,
        open_browser=False,
        results_dir=None,
        data_dir=None,
    )
    printed = capsys.readouterr().out
    assert seen["host"] == host and seen["port"] == 8123
    assert ("?token=" in printed) == needs_token
    if token:
        assert f"?token={token}" in printed
    with TestClient(seen["app"]) as client:
        assert (client.get("/api/runs").status_code == 401) == needs_token


def test_serve_is_the_default_loopback_address():
    assert serve.page_address("127.0.0.1", 8000, None) == "http://127.0.0.1:8000/"
    assert serve.page_address("0.0.0.0", 8000, "t") == "http://127.0.0.1:8000/?token=t"
    assert serve.page_address("::1", 8000, None) == "http://[::1]:8000/"


def test_serve_refuses_a_port_in_use():
    import socket

    from cnnlab.errors import UsageError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(UsageError, match="in use"):
            serve._check_port_free("127.0.0.1", busy.getsockname()[1])
