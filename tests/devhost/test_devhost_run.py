"""``python -m ireserve_devhost`` serves a host on a SQLite file until Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_the_command_serves_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    db = tmp_path / "host.db"
    env = {**os.environ, "IRESERVE_DISABLED_PLUGINS": "calendar"}  # the host alone, no plugin
    process = subprocess.Popen(
        [sys.executable, "-m", "ireserve_devhost", "--db", str(db), "--create", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                page = requests.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the host did not start"
                time.sleep(0.05)
        assert page.status_code == 200 and "No integrations" in page.text
        assert requests.get(f"http://127.0.0.1:{port}/ext/x", timeout=5).status_code == 404
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert f"http://127.0.0.1:{port}/ext/" in stderr
    # the person who started it is told where it listens and where the admin page is
    assert f"Reference host listening on http://127.0.0.1:{port}" in stdout
    assert f"admin page:    http://127.0.0.1:{port}/admin/" in stdout
    assert db.exists() and (tmp_path / "host.db.keys.json").exists()
