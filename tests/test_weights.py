"""Pretrained weights as part of the DAG: fetched once from a local stand-in of the Hugging Face
hub, then read by training without network; without network the fetch fails in seconds with
the command to run elsewhere."""

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
import yaml

from .workflow import TINY, cxrloc, run_args, snakemake

REPO = "timm/test_resnet.r160_in1k"  # resnet_tiny's weights on the hub
UNET_REPO, UNET_REVISION = "smp-hub/resnet18.imagenet", "3f2325ff978283d47aa6a1d6878ca20565622683"  # smp 0.6's
STANDARDIZE = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "input_range": [0, 1]}


def _safetensors(state: dict, path) -> bytes:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, path)
    return path.read_bytes()


def _tensors(data: bytes) -> dict:
    from safetensors.torch import load

    return load(data)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The bytes of resnet_tiny's ImageNet-shaped weights, as the stand-in hub serves them."""
    import timm

    torch.manual_seed(7)
    return _safetensors(timm.create_model("test_resnet").state_dict(), tmp_path_factory.mktemp("hub") / "m.safetensors")


@pytest.fixture(scope="module")
def served_encoder(tmp_path_factory):
    """The bytes of a resnet18 U-Net encoder's weights, as the stand-in hub serves smp's."""
    from segmentation_models_pytorch.encoders import get_encoder

    torch.manual_seed(8)
    return _safetensors(get_encoder("resnet18").state_dict(), tmp_path_factory.mktemp("hub") / "e.safetensors")


@pytest.fixture(scope="module")
def hub(served, served_encoder):
    """A local stand-in of the hub's resolve endpoint (HEAD and GET of the files it holds)."""
    files = {f"/{REPO}/resolve/main/model.safetensors": served,
             f"/{UNET_REPO}/resolve/{UNET_REVISION}/model.safetensors": served_encoder,
             f"/{UNET_REPO}/resolve/{UNET_REVISION}/config.json": json.dumps({**STANDARDIZE, "input_space": "RGB"}).encode()}

    class Handler(BaseHTTPRequestHandler):
        def _headers(self) -> bytes | None:
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.send_header("ETag", f'"{hashlib.sha256(body or b"").hexdigest()}"')
            self.send_header("X-Repo-Commit", UNET_REVISION if UNET_REPO in self.path else "0" * 40)
            self.end_headers()
            return body

        def do_HEAD(self):  # noqa: N802
            self._headers()

        def do_GET(self):  # noqa: N802
            body = self._headers()
            if body is not None:
                self.wfile.write(body)

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
    from cxrloc.train import models
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


def test_without_network_it_fails_at_the_probe_with_the_command_to_run(tmp_path, monkeypatch):
    """One short request finds the hub unreachable: the hub client, which retries for about a minute,
    is never called."""
    import huggingface_hub
    from cxrloc.train.weights import WeightsUnreachable, fetch

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: pytest.fail("the hub client was called"))
    out = tmp_path / "resnet_tiny.safetensors"
    with pytest.raises(WeightsUnreachable, match=rf"cannot reach http://127.0.0.1:9 for {REPO}.*"
                                                 rf"run `cxrloc fetch-weights --backbone resnet_tiny --out {out}`"):
        fetch("resnet_tiny", out)
    assert not out.exists()


def test_hf_hub_offline_refuses_at_once_with_the_command(monkeypatch):
    from cxrloc.train.weights import WeightsUnreachable, _probe

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnreachable, match=r"HF_HUB_OFFLINE is set.*run `cxrloc fetch-weights --backbone x`"):
        _probe(REPO, "cxrloc fetch-weights --backbone x")


def test_the_unet_encoder_is_fetched_once_then_trained_from_without_network(hub, served_encoder, study, tmp_path):
    """smp's ImageNet weights of the encoder, with the input standardization they expect: the
    U-Net starts from them (a learning rate of ~0 keeps them) and its checkpoint standardizes
    its inputs, in training as in every later use."""
    from cxrloc.config import UNetConfig
    from cxrloc.lungs import unet, unet_training
    from safetensors import safe_open
    from safetensors.torch import load_file

    from .workflow import OUT

    out = tmp_path / "weights/unet/resnet18.imagenet.safetensors"
    cxrloc("fetch-weights", "--unet-encoder", "resnet18", "--encoder-weights", "imagenet", "--out", str(out),
           env=hub_env(hub))
    weights, expected = load_file(out), _tensors(served_encoder)
    assert weights.keys() == expected.keys() and all(torch.equal(weights[k], v) for k, v in expected.items())
    with safe_open(str(out), "pt") as f:
        assert {k: json.loads(v) for k, v in f.metadata().items() if k != "source"} == STANDARDIZE
    cfg = UNetConfig(image_size=32, epochs=1, max_images=12, batch_size=4, lr=1e-12, held_out=0.25,
                     decoder_channels=(16, 8, 8, 8, 8))
    raw = study / OUT / "raw"
    report, *_ = unet_training.train_unet(raw / "images", raw / "lung_masks", cfg, tmp_path / "unet.pt", torch.device("cpu"),
                                 encoder_weights=out)
    assert report["encoder_weights"] == f"{UNET_REPO}@{UNET_REVISION}"
    model, *_ = unet.load(tmp_path / "unet.pt", torch.device("cpu"))
    assert isinstance(model[0], unet.Standardize) and model[0].mean.flatten().tolist() == pytest.approx(STANDARDIZE["mean"])
    conv = model[1].encoder.conv1.weight
    assert torch.allclose(conv, weights["conv1.weight"], atol=1e-6)
    assert not torch.allclose(unet.build("resnet18", (16, 8, 8, 8, 8)).encoder.conv1.weight, conv, atol=1e-3)


def test_the_unet_encoder_offline_or_with_an_unknown_name_fails_naming_what_to_do(tmp_path, monkeypatch):
    """(The probe's behaviour without network is the backbones' test above.)"""
    from cxrloc.config import ConfigError
    from cxrloc.train.weights import WeightsUnreachable, fetch_unet_encoder, unet_hub

    out = tmp_path / "resnet18.imagenet.safetensors"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    command = f"cxrloc fetch-weights --unet-encoder resnet18 --encoder-weights imagenet --out {out}"
    with pytest.raises(WeightsUnreachable, match=f"{UNET_REPO} cannot be fetched here.*run `{re.escape(command)}`"):
        fetch_unet_encoder("resnet18", "imagenet", out)
    assert not out.exists()
    with pytest.raises(ConfigError, match=r"unet.encoder_weights: 'imagenet21k' .* valid: imagenet, ssl, swsl"):
        unet_hub("resnet18", "imagenet21k")
    with pytest.raises(ConfigError, match=r"unet.encoder 'tu-resnet18' is not one of them"):
        unet_hub("tu-resnet18", "imagenet")


def test_a_pretrained_study_fetches_each_backbone_once_before_training(tmp_path):
    cfg = yaml.safe_load(TINY.read_text())
    cfg["train"]["pretrained"] = True
    cfg["unet"]["encoder_weights"] = "imagenet"
    cfg["weights"] = {"resnet18": "mine/resnet18.safetensors"}
    cfg.update(backbones=["resnet18", "resnet_tiny"], weights_cache="shared/weights")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/resnet18.safetensors").write_bytes(b"given")
    (tmp_path / "pre.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(tmp_path, "--configfile", str(tmp_path / "pre.yaml"), "-n", "-p").stdout
    assert re.search(r"^fetch_weights\s+1$", out, re.M)
    assert "--weights shared/weights/resnet_tiny.safetensors" in out and "--weights mine/resnet18.safetensors" in out
    assert re.search(r"^fetch_unet_weights\s+1$", out, re.M)
    assert "--encoder-weights shared/weights/unet/resnet18.imagenet.safetensors" in out
