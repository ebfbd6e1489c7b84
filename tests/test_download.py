"""Downloads against a real HTTP server on 127.0.0.1: resume, retry, failures, no rework."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cxrloc.data.download import DownloadError, fetch

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(BaseHTTPRequestHandler):
    plan: dict = {}
    log: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        name = self.path.strip("/")
        self.log.append((name, self.headers.get("Range")))
        steps = self.plan.setdefault(name, [])
        step = steps.pop(0) if steps else "ok"
        if step == "404":
            self.send_error(404)
            return
        if step == "500":
            self.send_error(500)
            return
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
        body = getattr(self, "body", PAYLOAD)[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if step == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    Handler.plan, Handler.log = {}, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", Handler
    httpd.shutdown()


def test_a_transfer_cut_halfway_resumes_and_completes(server, tmp_path):
    url, h = server
    h.plan["a.tar.gz"] = ["cut"]
    out = fetch(f"{url}/a.tar.gz", tmp_path / "a.tar.gz", sha256=SHA, backoff=0.01)
    assert out.read_bytes() == PAYLOAD
    ranges = [r for name, r in h.log if name == "a.tar.gz"]
    assert ranges[0] is None and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"


def test_a_500_is_retried(server, tmp_path):
    url, h = server
    h.plan["b"] = ["500", "500"]
    fetch(f"{url}/b", tmp_path / "b", sha256=SHA, backoff=0.01)
    assert len([1 for name, _ in h.log if name == "b"]) == 3


def test_a_404_fails_naming_the_url_and_leaves_nothing(server, tmp_path):
    url, h = server
    h.plan["c"] = ["404"]
    with pytest.raises(DownloadError, match=f"{url}/c.*404"):
        fetch(f"{url}/c", tmp_path / "c", backoff=0.01)
    assert not (tmp_path / "c").exists()


def test_a_wrong_checksum_fails_and_leaves_nothing_that_looks_finished(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match=f"{url}/d.*checksum"):
        fetch(f"{url}/d", tmp_path / "d", sha256="0" * 64, backoff=0.01)
    assert list(tmp_path.iterdir()) == []


def test_a_second_run_downloads_nothing(server, tmp_path):
    url, h = server
    fetch(f"{url}/e", tmp_path / "e", sha256=SHA)
    n = len(h.log)
    fetch(f"{url}/e", tmp_path / "e", sha256=SHA)
    assert len(h.log) == n


def test_a_wrong_size_is_refused_and_removed(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match=rf"size {len(PAYLOAD)} ≠ expected 12345"):
        fetch(f"{url}/f", tmp_path / "f", size=12345, backoff=0.01)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_verified_before_it_is_trusted(server, tmp_path):
    url, h = server
    (tmp_path / "g").write_bytes(PAYLOAD[:-1] + b"x")  # right size, wrong bytes
    fetch(f"{url}/g", tmp_path / "g", sha256=SHA, size=len(PAYLOAD), backoff=0.01)
    assert (tmp_path / "g").read_bytes() == PAYLOAD and [n for n, _ in h.log] == ["g"]


def test_the_manifest_records_first_downloads_and_refuses_a_different_copy(server, tmp_path):
    url, h = server
    manifest = tmp_path / "SHA256SUMS"
    fetch(f"{url}/h", tmp_path / "h", manifest=manifest, backoff=0.01)  # nothing known: recorded
    assert manifest.read_text() == f"{SHA}  h\n"
    (tmp_path / "h").unlink()
    h.plan["h"] = ["ok"]
    Handler.body = PAYLOAD[::-1]  # the server now serves other bytes under the same name
    try:
        with pytest.raises(DownloadError, match=rf"checksum mismatch: .*{manifest}.*first download"):
            fetch(f"{url}/h", tmp_path / "h", manifest=manifest, backoff=0.01)
    finally:
        del Handler.body
    assert not (tmp_path / "h").exists() and not (tmp_path / "h.part").exists()


def test_the_nih_config_knows_every_archive_size():
    import yaml

    from .workflow import ROOT

    archives = yaml.safe_load((ROOT / "config/nih.yaml").read_text())["source"]["archives"]
    assert sorted(archives) == [f"images_{i:03d}.tar.gz" for i in range(1, 13)]
    assert all(a["size"] > 10**9 for a in archives.values())
