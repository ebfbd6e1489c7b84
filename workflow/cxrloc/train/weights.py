"""Pretrained weights, fetched once from the Hugging Face hub into a folder on the shared file
system (the workflow's local rules ``fetch_weights`` for backbones and ``fetch_unet_weights``
for the lung U-Net's encoder), so that training jobs on compute nodes read a file and never
touch the network."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..atomic import atomic_path
from ..backbones import record
from ..config import ConfigError
from ..errors import CxrlocError

FILENAME = "model.safetensors"
PROBE_TIMEOUT_S = 5.0


class WeightsUnreachable(CxrlocError, RuntimeError):
    pass


def hub_id(backbone: str) -> str:
    """The Hugging Face repository of the backbone's default pretrained weights (timm's)."""
    import timm

    cfg = timm.models.get_pretrained_cfg(record(backbone).timm_name)
    if cfg is None or not cfg.hf_hub_id:
        raise WeightsUnreachable(f"timm knows no pretrained weights on the hub for {backbone!r}: list a file under "
                                 f"weights: {{{backbone}: /path/to/model.safetensors}} or set train.pretrained: false")
    return cfg.hf_hub_id


def fetch(backbone: str, out: Path) -> Path:
    """Download the backbone's weights, check that they load into it, and write them to ``out``."""
    from huggingface_hub import hf_hub_download

    repo = hub_id(backbone)
    _probe(repo, f"cxrloc fetch-weights --backbone {backbone} --out {out}")
    with tempfile.TemporaryDirectory() as tmp:
        path = hf_hub_download(repo, FILENAME, cache_dir=tmp)
        _check(backbone, path)
        with atomic_path(out) as dest:
            shutil.copyfile(path, dest)
    return out


def unet_hub(encoder: str, weights: str) -> tuple[str, str]:
    """The hub repository and pinned revision of smp's ``weights`` for the U-Net ``encoder``."""
    from segmentation_models_pytorch.encoders import encoders

    if encoder not in encoders:
        raise ConfigError(f"unet.encoder_weights: fetched for smp's own encoders only, and unet.encoder {encoder!r} is "
                          f"not one of them; valid: {', '.join(encoders)}")
    known = encoders[encoder]["pretrained_settings"]
    if weights not in known:
        raise ConfigError(f"unet.encoder_weights: {weights!r} is not known for the encoder {encoder!r}; valid: "
                          f"{', '.join(known)}")
    return known[weights]["repo_id"], known[weights]["revision"]


def fetch_unet_encoder(encoder: str, weights: str, out: Path) -> Path:
    """Download the U-Net encoder's pretrained weights, check that they load into it, and write
    them to ``out`` with the input standardization they expect (``mean``, ``std`` and
    ``input_range`` of the hub's config.json) as the file's metadata."""
    from huggingface_hub import hf_hub_download
    from safetensors.torch import load_file, save_file
    from segmentation_models_pytorch.encoders import get_encoder

    repo, revision = unet_hub(encoder, weights)
    _probe(repo, f"cxrloc fetch-weights --unet-encoder {encoder} --encoder-weights {weights} --out {out}", revision)
    with tempfile.TemporaryDirectory() as tmp:
        tensors = load_file(hf_hub_download(repo, FILENAME, revision=revision, cache_dir=tmp))
        config = json.loads(Path(hf_hub_download(repo, "config.json", revision=revision, cache_dir=tmp)).read_text())
    get_encoder(encoder, weights=None).load_state_dict(tensors)
    metadata = {"source": f"{repo}@{revision}", "mean": json.dumps(config["mean"]), "std": json.dumps(config["std"]),
                "input_range": json.dumps(config.get("input_range", [0, 1]))}
    with atomic_path(out) as dest:
        save_file(tensors, dest, metadata=metadata)
    return out


def _probe(repo: str, command: str, revision: str = "main") -> None:
    """One short request to the hub, so that a machine without network fails in seconds (the
    hub client retries for about a minute) with the command to run where there is network."""
    from huggingface_hub import constants

    elsewhere = (f"on a machine with network run `{command}` (or `huggingface-cli download {repo} {FILENAME}` "
                 "and copy the file there), then rerun")
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        raise WeightsUnreachable(f"HF_HUB_OFFLINE is set, so {repo} cannot be fetched here: {elsewhere}")
    url = f"{constants.ENDPOINT}/{repo}/resolve/{revision}/{FILENAME}"
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        pass  # an answer: the hub is reachable, and hf_hub_download reports what it says
    except (urllib.error.URLError, OSError) as e:
        raise WeightsUnreachable(f"cannot reach {constants.ENDPOINT} for {repo} ({e}): {elsewhere}") from None


def _check(backbone: str, path: str) -> None:
    """The file loads into the backbone (timm's own pretrained loading, from the file)."""
    import timm

    spec = record(backbone)
    timm.create_model(spec.timm_name, pretrained=True, pretrained_cfg_overlay={"file": path}, **spec.kwargs)
