"""Pretrained weights as part of the DAG: fetched once from a local stand-in of the Hugging Face
hub, then read by training without network; without network the fetch fails in seconds with
the command to run elsewhere."""

import hashlib
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
import yaml

from .workflow import TINY, cxrloc, run_args, snakemake

REPO = "timm/test_resnet.r160_in1k"  # resnet_tiny's weights on the hub


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The bytes of resnet_tiny's ImageNet-shaped weights, as the stand-in hub serves them."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(7)
    path = tmp_path_factory.mktemp("hub") / "model.safetensors"
    save_file(timm.create_model("test_resnet").state_dict(), path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def hub(served):
    """A local stand-in of the hub's resolve endpoint (HEAD and GET of one file)."""
    digest = hashlib.sha256(served).hexdigest()

    class Handler(BaseHTTPRequestHandler):
        def _headers(self) -> bool:
            known = self.path == f"/{REPO}/resolve/main/model.safetensors"
            self.send_response(200 if known else 404)
            self.send_header("Content-Length", str(len(served)) if known else "0")
            self.send_header("ETag", f'"{digest}"')
            self.send_header("X-Repo-Commit", "0" * 40)
            self.end_headers()
            return known

        def do_HEAD(self):  # noqa: N802
            self._headers()

        def do_GET(self):  # noqa: N802
            if self._headers():
                self.wfile.write(served)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def hub_env(endpoint: str) -> dict:
    from .workflow import env

    return {**env(), "HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "0", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}


def test_fetched_once_then_training_reads_the_file_without_network(hub, served, study, tmp_path):
    from cxrloc import models
    from safetensors.torch import load_file

    out = tmp_path / "weights/resnet_tiny.safetensors"
    cxrloc("fetch-weights", "--backbone", "resnet_tiny", "--out", str(out), env=hub_env(hub))
    assert out.read_bytes() == served
    model, _ = models.create("resnet_tiny", 2, pretrained=True, weights_file=str(out))
    weights, state = load_file(out), model.state_dict()
    body = [k for k in state if not k.startswith(model.pretrained_cfg["classifier"])]
    assert len(body) > 10 and all(torch.equal(state[k], weights[k]) for k in body)
    args = run_args(study, lam="1", epochs=1, pretrained=True)
    cxrloc("train", *args, "--weights", str(out), "--out", str(tmp_path / "run"))  # the tests' env: no network
    assert (tmp_path / "run/model.pt").exists()


def test_without_network_it_fails_in_seconds_with_the_command_to_run(tmp_path):
    out = tmp_path / "resnet_tiny.safetensors"
    start = time.time()
    proc = cxrloc("fetch-weights", "--backbone", "resnet_tiny", "--out", str(out), check=False, env=hub_env("http://127.0.0.1:9"))
    assert proc.returncode == 1 and time.time() - start < 15
    assert f"cxrloc fetch-weights --backbone resnet_tiny --out {out}" in proc.stderr and REPO in proc.stderr
    assert not out.exists()


def test_hf_hub_offline_refuses_at_once_with_the_command(monkeypatch):
    from cxrloc.weights import WeightsUnreachable, _probe

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnreachable, match=r"HF_HUB_OFFLINE is set.*run `cxrloc fetch-weights --backbone x`"):
        _probe(REPO, "cxrloc fetch-weights --backbone x")


def test_a_pretrained_study_fetches_each_backbone_once_before_training(tmp_path):
    cfg = yaml.safe_load(TINY.read_text())
    cfg["train"]["pretrained"] = True
    cfg["weights"] = {"resnet18": "mine/resnet18.safetensors"}
    cfg.update(backbones=["resnet18", "resnet_tiny"], weights_cache="shared/weights")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/resnet18.safetensors").write_bytes(b"given")
    (tmp_path / "pre.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(tmp_path, "--configfile", str(tmp_path / "pre.yaml"), "-n", "-p").stdout
    assert re.search(r"^fetch_weights\s+1$", out, re.M)
    assert "--weights shared/weights/resnet_tiny.safetensors" in out and "--weights mine/resnet18.safetensors" in out
