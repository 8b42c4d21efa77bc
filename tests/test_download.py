"""`ddrm download` / `load_prior(NAME)` against an HTTP server on 127.0.0.1: resume, size, SHA-256, key check."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_models import DATA, tiny_net

from ddrm.checkpoints import CheckpointError, DownloadError, download_checkpoint, load_prior
from ddrm.models import PRESETS, Preset


class Server:
    """Serves ``files`` (name -> bytes) with HTTP ranges; ``cut`` drops the first response after that many bytes;
    ``ranges = False`` answers every request with the whole file (200), as some servers do."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.cut, self.ranges, self.requests = files, None, True, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                data = server.files.get(self.path.lstrip("/"))
                rng = self.headers.get("Range")
                server.requests.append(rng)
                if data is None:
                    self.send_error(404)
                    return
                start = int(rng.split("=")[1].split("-")[0]) if rng and server.ranges else 0
                if start >= len(data) and rng:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return
                body = data[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut is not None:
                    body, server.cut = body[: server.cut], None  # the connection drops mid-body
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def checkpoint_bytes(stem: str) -> bytes:
    buf = io.BytesIO()
    torch.save(load_file(str(DATA / f"{stem}.safetensors")), buf)
    return buf.getvalue()


@pytest.fixture()
def served():
    server = Server({"adm_tiny.pt": checkpoint_bytes("adm_tiny"), "plain.pt": checkpoint_bytes("adm_tiny_plain")})
    yield server
    server.close()


def tiny_preset(url: str) -> Preset:
    return Preset("adm-tiny", lambda: tiny_net("adm_tiny"), "fixture", ("adm_tiny.pt",), 32, url=url)


def test_interrupted_download_resumes_and_is_recorded(served, tmp_path, monkeypatch):
    data = served.files["adm_tiny.pt"]
    served.cut = len(data) // 3
    path = download_checkpoint(tiny_preset(served.url + "adm_tiny.pt"), tmp_path, progress=False)
    assert path.read_bytes() == data and not list(tmp_path.glob("*.part"))
    assert served.requests == [None, f"bytes={len(data) // 3}-"]  # the second request asked only for the rest
    record = json.loads((tmp_path / "adm_tiny.pt.sha256.json").read_text())
    assert record["sha256"] == hashlib.sha256(data).hexdigest() and record["size"] == len(data)
    # load_prior(NAME) without checkpoint= uses the cache (DDRM_HOME); no second download
    monkeypatch.setenv("DDRM_HOME", str(tmp_path))
    monkeypatch.setitem(PRESETS, "adm-tiny", tiny_preset(served.url + "adm_tiny.pt"))
    prior = load_prior("adm-tiny")
    assert prior.denoise(torch.zeros(1, 3, 32, 32), 1.0).shape == (1, 3, 32, 32) and len(served.requests) == 2


def test_a_part_file_left_by_a_killed_run_is_resumed(served, tmp_path):
    data = served.files["adm_tiny.pt"]
    (tmp_path / "adm_tiny.pt.part").write_bytes(data[:1000])
    download_checkpoint(tiny_preset(served.url + "adm_tiny.pt"), tmp_path, progress=False)
    assert served.requests == ["bytes=1000-"] and (tmp_path / "adm_tiny.pt").read_bytes() == data


def test_a_complete_part_file_is_not_fetched_again(served, tmp_path):
    """A run killed between the last byte and the rename: the server answers 416 with the full size, and the file is
    checked and renamed without a second transfer."""
    data = served.files["adm_tiny.pt"]
    (tmp_path / "adm_tiny.pt.part").write_bytes(data)
    download_checkpoint(tiny_preset(served.url + "adm_tiny.pt"), tmp_path, progress=False)
    assert served.requests == [f"bytes={len(data)}-"] and (tmp_path / "adm_tiny.pt").read_bytes() == data


def test_a_server_without_ranges_restarts_the_file(served, tmp_path):
    data = served.files["adm_tiny.pt"]
    served.ranges = False
    (tmp_path / "adm_tiny.pt.part").write_bytes(b"x" * 1000)  # garbage: replaced by the whole answer
    download_checkpoint(tiny_preset(served.url + "adm_tiny.pt"), tmp_path, progress=False)
    assert (tmp_path / "adm_tiny.pt").read_bytes() == data


def test_corrupted_or_wrong_files_are_refused(served, tmp_path):
    preset = tiny_preset(served.url + "adm_tiny.pt")
    path = download_checkpoint(preset, tmp_path, progress=False)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="changed since it was downloaded"):
        download_checkpoint(preset, tmp_path, progress=False)
    # another architecture's weights: refused by the key check, and nothing is kept
    other = tmp_path / "other"
    with pytest.raises(CheckpointError, match="does not match adm-tiny"):
        download_checkpoint(tiny_preset(served.url + "plain.pt"), other, progress=False)
    assert not list(other.glob("*"))
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_checkpoint(tiny_preset(served.url + "missing.pt"), other, progress=False)


def test_offline_is_one_line_and_exit_2(tmp_path):
    ddrm = str(Path(sys.executable).parent / "ddrm")
    res = subprocess.run(
        [ddrm, "download", "adm-imagenet256-uncond", "--dir", tmp_path, "--url", "http://127.0.0.1:9/x.pt"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "cannot reach" in res.stderr
    assert not list(tmp_path.glob("*"))
