"""Tests of ``seed_brain.dataio.download`` against a local HTTP server.

The server (``http.server`` on 127.0.0.1 in a thread) serves small files
and archives the tests build, honours ``Range: bytes=N-`` requests with
206 answers, and can be told to cut a transfer after half of the body
(the announced ``Content-Length`` stays the full size), to ignore ranges,
or to answer 404. Every request is recorded, so the tests can check that a
resumed transfer asked for the missing bytes only and that an idempotent
second call made no request at all.
"""

import hashlib
import io
import os
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from seed_brain.dataio.download import (
    ChecksumError,
    DownloadError,
    download,
    extract,
    file_checksum,
    parse_checksum,
)


class _Handler(BaseHTTPRequestHandler):
    """GET with Range support, cuts and range-ignoring paths."""

    server_version = "TestServer/1.0"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        state = self.server.state
        path = self.path.split("?")[0]
        state["requests"].append((path, self.headers.get("Range")))
        if path not in state["files"]:
            self.send_error(404, "Not Found")
            return
        body = state["files"][path]
        start = 0
        rng = self.headers.get("Range")
        honour = path not in state["no_range"]
        if rng and honour:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header(
                "Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}"
            )
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Accept-Ranges", "bytes" if honour else "none")
        self.end_headers()
        cuts = state["cuts"].get(path, 0)
        if cuts > 0:
            state["cuts"][path] = cuts - 1
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


@pytest.fixture
def server():
    """A local HTTP server; yields (base_url, state)."""
    state = {"files": {}, "requests": [], "cuts": {}, "no_range": set()}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = state
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _blob(n=300_000, seed=0):
    """Deterministic, incompressible-ish bytes."""
    out, counter = bytearray(), 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}-{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def _serve(state, path, n=300_000, seed=0):
    """Serves ``_blob(n, seed)`` at ``path`` of the server; returns it."""
    state["files"][path] = data = _blob(n, seed)
    return data


def _md5(data):
    return "md5:" + hashlib.md5(data).hexdigest()


def test_download_checksum_and_idempotent(server, tmp_path):
    base, state = server
    data = _serve(state, "/corpus.bin")
    dest = tmp_path / "dl" / "corpus.bin"
    download(f"{base}/corpus.bin", dest, checksum=_md5(data))
    assert dest.read_bytes() == data
    assert not (tmp_path / "dl" / "corpus.bin.part").exists()
    assert (tmp_path / "dl" / "corpus.bin.done").is_file()
    count = len(state["requests"])
    # Second run: no request at all, file untouched.
    mtime = dest.stat().st_mtime_ns
    download(f"{base}/corpus.bin", dest, checksum=_md5(data))
    assert len(state["requests"]) == count
    assert dest.stat().st_mtime_ns == mtime


def test_interrupted_transfer_resumes_on_next_run(server, tmp_path):
    base, state = server
    data = _serve(state, "/big.tar", 400_001, seed=1)
    state["cuts"]["/big.tar"] = 1
    dest = tmp_path / "big.tar"
    with pytest.raises(DownloadError, match="run the same command again"):
        download(f"{base}/big.tar", dest, checksum=_md5(data), retries=0)
    part = tmp_path / "big.tar.part"
    assert part.is_file() and not dest.exists()
    have = part.stat().st_size
    assert 0 < have < len(data)
    assert part.read_bytes() == data[:have]
    download(f"{base}/big.tar", dest, checksum=_md5(data), retries=0)
    assert dest.read_bytes() == data
    assert state["requests"][-1] == ("/big.tar", f"bytes={have}-")
    assert not part.exists()


def test_interrupted_transfer_retried_within_one_call(server, tmp_path):
    base, state = server
    data = _serve(state, "/a.bin", 250_000, seed=2)
    state["cuts"]["/a.bin"] = 2  # two broken transfers, then a good one
    dest = tmp_path / "a.bin"
    download(
        f"{base}/a.bin",
        dest,
        checksum="sha256:" + hashlib.sha256(data).hexdigest(),
        retries=3,
        retry_wait=0.0,
    )
    assert dest.read_bytes() == data
    ranges = [r for p, r in state["requests"] if p == "/a.bin"]
    assert ranges[0] is None
    assert all(r is not None and r.startswith("bytes=") for r in ranges[1:])
    assert len(ranges) == 3


def test_checksum_mismatch_raises_and_cleans_up(server, tmp_path):
    base, state = server
    data = _serve(state, "/x.bin", 1000, seed=3)
    dest = tmp_path / "x.bin"
    with pytest.raises(ChecksumError, match="published one is"):
        download(f"{base}/x.bin", dest, checksum="md5:" + "0" * 32)
    assert not dest.exists()
    assert not (tmp_path / "x.bin.part").exists()
    assert not (tmp_path / "x.bin.done").exists()
    # With the right checksum the next run downloads it again.
    download(f"{base}/x.bin", dest, checksum=_md5(data))
    assert dest.read_bytes() == data


def test_server_without_ranges_restarts(server, tmp_path):
    base, state = server
    data = _serve(state, "/n.bin", 200_000, seed=4)
    state["no_range"].add("/n.bin")
    dest = tmp_path / "n.bin"
    (tmp_path / "n.bin.part").write_bytes(data[:1000])
    download(f"{base}/n.bin", dest, checksum=_md5(data))
    assert dest.read_bytes() == data


def test_complete_part_file_and_416(server, tmp_path):
    base, state = server
    data = _serve(state, "/p.bin", 5000, seed=5)
    (tmp_path / "p.bin.part").write_bytes(data)
    download(f"{base}/p.bin", tmp_path / "p.bin", checksum=_md5(data))
    assert (tmp_path / "p.bin").read_bytes() == data
    assert state["requests"][-1] == ("/p.bin", "bytes=5000-")


def test_http_error_names_url(server, tmp_path):
    base, _ = server
    with pytest.raises(DownloadError, match="HTTP 404.*place it at"):
        download(f"{base}/missing.tar.gz", tmp_path / "m.tar.gz")


def test_unreachable_server(tmp_path):
    # Port 9 on 127.0.0.1: nothing listens there, the connection is refused.
    with pytest.raises(DownloadError, match="local copy"):
        download(
            "http://127.0.0.1:9/x.bin",
            tmp_path / "x.bin",
            retries=0,
            timeout=5,
        )


def test_file_placed_by_hand_is_kept(server, tmp_path):
    base, state = server
    data = _serve(state, "/h.bin", 3000, seed=6)
    dest = tmp_path / "h.bin"
    dest.write_bytes(data)
    download(f"{base}/h.bin", dest, checksum=_md5(data))
    download(f"{base}/h.bin", dest)
    assert state["requests"] == []


def test_stale_file_with_wrong_checksum_is_replaced(server, tmp_path):
    base, state = server
    data = _serve(state, "/s.bin", 3000, seed=7)
    dest = tmp_path / "s.bin"
    dest.write_bytes(b"garbage")
    download(f"{base}/s.bin", dest, checksum=_md5(data))
    assert dest.read_bytes() == data


def _tar_gz(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def test_download_then_extract_archive(server, tmp_path):
    base, state = server
    archive = _tar_gz(
        {"corpus/a/1.txt": b"one", "corpus/b/2.txt": _blob(100_000, 8)}
    )
    state["files"]["/corpus.tar.gz"] = archive
    state["cuts"]["/corpus.tar.gz"] = 1
    path = tmp_path / "corpus.tar.gz"
    download(
        f"{base}/corpus.tar.gz", path, checksum=_md5(archive), retry_wait=0
    )
    out = tmp_path / "out"
    assert extract(path, out) is True
    assert (out / "corpus" / "a" / "1.txt").read_bytes() == b"one"
    assert (out / "corpus" / "b" / "2.txt").read_bytes() == _blob(100_000, 8)
    assert not any(p.name.startswith(".extracting") for p in out.iterdir())
    mtime = (out / "corpus" / "a" / "1.txt").stat().st_mtime_ns
    assert extract(path, out) is False
    assert (out / "corpus" / "a" / "1.txt").stat().st_mtime_ns == mtime


def test_extract_zip_and_refuse_traversal(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("rirs/room1.wav", b"RIFF")
    extract(good, tmp_path / "z")
    assert (tmp_path / "z" / "rirs" / "room1.wav").read_bytes() == b"RIFF"
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="outside"):
        extract(bad, tmp_path / "t")
    assert not (tmp_path / "evil.txt").exists()
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="neither a tar nor a zip"):
        extract(junk, tmp_path / "j")


def test_parse_checksum_errors():
    assert parse_checksum("sha256:" + "ab" * 32) == ("sha256", "ab" * 32)
    with pytest.raises(ValueError, match="algorithm"):
        parse_checksum("abc")
    with pytest.raises(ValueError, match="Unsupported"):
        parse_checksum("crc:1234")
    with pytest.raises(ValueError, match="hexadecimal"):
        parse_checksum("md5:" + "z" * 32)


def test_file_checksum_matches_hashlib(tmp_path):
    path = tmp_path / "f.bin"
    data = _blob(3 << 20, seed=9)
    path.write_bytes(data)
    assert file_checksum(path) == hashlib.sha256(data).hexdigest()
    assert os.path.getsize(path) == len(data)
