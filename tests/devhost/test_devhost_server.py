"""The reference host over real HTTP: plugin routes, errors, body limits, its index, cron and workers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hookspecs import HttpRequest
from hookspecs import HttpResponse
from hookspecs import Job
from ireserve_devhost import HostServer
from ireserve_devhost import ReferenceHost
from ireserve_devhost.server import MAX_BODY


@pytest.fixture
def server(host: ReferenceHost, plugin: Any) -> Iterator[HostServer]:
    with HostServer(host, cron_interval=None, workers=0) as running:
        yield running


def test_requests_under_the_prefix_reach_the_plugin(server: HostServer, plugin: Any) -> None:
    plugin.http_answer = lambda request: HttpResponse(
        201, b'{"ok": true}', {"Content-Type": "application/json", "X-Channel": "abc"}
    )
    response = requests.post(
        f"{server.url}/ext/google/push?token=a&token=b&empty=",
        data=b"payload",
        headers={"X-Goog-Channel-ID": "ch-1", "Content-Type": "text/plain"},
        timeout=5,
    )
    assert (response.status_code, response.content) == (201, b'{"ok": true}')
    assert response.headers["Content-Type"] == "application/json" and response.headers["X-Channel"] == "abc"
    [call] = plugin.of("on_http_route")
    request: HttpRequest = call["request"]
    assert (request.method, request.path, request.body) == ("POST", "/google/push", b"payload")
    assert request.query == {"token": ("a", "b"), "empty": ("",)}
    assert request.header("X-GOOG-CHANNEL-ID") == "ch-1" and request.headers["x-goog-channel-id"] == "ch-1"
    assert all(name == name.lower() for name in request.headers)
    assert request.remote_addr == "127.0.0.1"


def test_the_prefix_root_is_path_slash(server: HostServer, plugin: Any) -> None:
    plugin.http_answer = lambda request: HttpResponse(200, b"root", {"Content-Type": "text/plain"})
    assert requests.get(f"{server.url}/ext", timeout=5).text == "root"
    assert plugin.of("on_http_route")[0]["request"].path == "/"


def test_unclaimed_paths_are_404(server: HostServer, plugin: Any) -> None:
    assert requests.get(f"{server.url}/ext/nobody/home", timeout=5).status_code == 404
    assert requests.get(f"{server.url}/extra", timeout=5).status_code == 404  # not under the prefix
    assert requests.get(f"{server.url}/elsewhere", timeout=5).status_code == 404
    assert [c["request"].path for c in plugin.of("on_http_route")] == ["/nobody/home"]


def test_a_plugin_exception_is_a_500_without_details(
    server: HostServer, plugin: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("secret-token-value leaked?")

    plugin.http_answer = explode
    with caplog.at_level(logging.ERROR):
        response = requests.get(f"{server.url}/ext/boom", timeout=5)
    assert response.status_code == 500
    assert "secret" not in response.text and "RuntimeError" not in response.text
    assert "secret-token-value" in caplog.text  # the detail goes to the log only


def test_a_body_over_the_limit_is_413(server: HostServer, plugin: Any) -> None:
    plugin.http_answer = lambda request: HttpResponse(
        200, str(len(request.body)).encode(), {"Content-Type": "text/plain"}
    )
    assert requests.post(f"{server.url}/ext/upload", data=b"x" * MAX_BODY, timeout=10).text == str(MAX_BODY)
    response = requests.post(f"{server.url}/ext/upload", data=b"x" * (MAX_BODY + 1), timeout=10)
    assert response.status_code == 413
    assert len(plugin.of("on_http_route")) == 1  # the plugin never saw the big one


def test_a_chunked_body_over_the_limit_is_413(server: HostServer, plugin: Any) -> None:
    plugin.http_answer = lambda request: HttpResponse(204)
    chunks = (b"y" * 65536 for _ in range(MAX_BODY // 65536 + 1))
    response = requests.post(f"{server.url}/ext/upload", data=chunks, timeout=10)
    assert response.status_code == 413 and plugin.of("on_http_route") == []


def test_the_index_lists_integrations_escaped(host: ReferenceHost, server: HostServer) -> None:
    host.integrations.add_integration("gcal", provider="google", name="<script>alert(1)</script>")
    page = requests.get(server.url + "/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "gcal" in page.text and "google" in page.text
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


def test_url_for_points_at_the_server(host: ReferenceHost, server: HostServer) -> None:
    assert host.url_for("/google/push") == f"{server.url}/ext/google/push"


def test_the_server_runs_cron_ticks_and_jobs(host: ReferenceHost, plugin: Any) -> None:
    ticked, ran = threading.Event(), threading.Event()
    plugin.on_cron = lambda **_: ticked.set()

    def handle(job: Job) -> bool:
        ran.set()
        return True

    plugin.job_answer = handle
    with HostServer(host, cron_interval=0.05, workers=2, poll_interval=0.01):
        host.jobs.enqueue("sync", {"calendar": "c1"})
        assert ticked.wait(5) and ran.wait(5)
    assert plugin.of("on_cron_tick")[0]["now"].tzinfo is not None
    assert host.jobs.counts()["done"] == 1
