"""The shared download path of published wheels, against a real HTTP server on loopback.

What the corpus and the test pins rely on: bytes that do not match their pin never land in the
cache, a corrupt cached copy is replaced, and "unreachable" (a skip) is told apart from "the
registry answered wrongly" (a failure).
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.wheelcache import (
    Artifact,
    DigestMismatch,
    DownloadFailed,
    Unavailable,
    cached,
    download,
    download_all,
)

PAYLOAD = b"PK\x05\x06" + bytes(range(256)) * 4096  # ~1 MiB, several read chunks


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/files/good.whl":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _artifact(base: str, *, sha256: str | None = None, size: int | None = len(PAYLOAD),
              path: str = "/files/good.whl") -> Artifact:
    digest = sha256 or hashlib.sha256(PAYLOAD).hexdigest()
    return Artifact("good-1.0-py3-none-any.whl", digest, base + path, size)


def test_download_verifies_and_reuses(server: str, tmp_path: Path) -> None:
    seen: list[int] = []
    got = download(_artifact(server), tmp_path, progress=lambda _a, n: seen.append(n))
    assert got.read_bytes() == PAYLOAD
    assert seen[-1] == len(PAYLOAD)
    assert [p.name for p in tmp_path.iterdir()] == [got.name], "no temporary file is left"
    # A second call finds it cached: nothing is read from the server (the URL is dead).
    assert download(_artifact("http://127.0.0.1:9", size=len(PAYLOAD)), tmp_path) == got


@pytest.mark.parametrize(
    ("sha256", "size", "match"),
    [("0" * 64, len(PAYLOAD), "sha256"), (None, len(PAYLOAD) + 1, "bytes")],
)
def test_a_mismatch_is_an_error_and_leaves_nothing(
    server: str, tmp_path: Path, sha256: str | None, size: int, match: str
) -> None:
    with pytest.raises(DigestMismatch, match=match):
        download(_artifact(server, sha256=sha256, size=size), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_cached_copy_is_downloaded_again(server: str, tmp_path: Path) -> None:
    artifact = _artifact(server)
    (tmp_path / artifact.filename).write_bytes(b"x" * len(PAYLOAD))  # right size, wrong bytes
    assert cached(artifact, tmp_path, verify=False) is not None
    assert cached(artifact, tmp_path) is None
    assert download(artifact, tmp_path).read_bytes() == PAYLOAD


def test_http_errors_fail_and_dead_hosts_are_unavailable(server: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadFailed, match="HTTP 404"):
        download(_artifact(server, path="/files/missing.whl"), tmp_path)
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(Unavailable, match="cannot reach"):
        download(_artifact(dead), tmp_path)


def test_download_all_reports_each_outcome(server: str, tmp_path: Path) -> None:
    good = _artifact(server)
    bad = Artifact("bad-1.0-py3-none-any.whl", "0" * 64, server + "/files/good.whl", None)
    results = download_all([good, bad, good], tmp_path, jobs=2)
    assert list(results) == [good, bad]
    assert results[good] == tmp_path / good.filename
    assert isinstance(results[bad], DigestMismatch)
