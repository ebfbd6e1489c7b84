"""Pretrained backbone weights, fetched once from the Hugging Face hub into a folder on the shared
file system (the workflow's local rule ``fetch_weights``), so that training jobs on compute
nodes read a file and never touch the network."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .backbones import record
from .errors import CxrlocError
from .io import atomic_path

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


def _probe(repo: str, command: str) -> None:
    """One short request to the hub, so that a machine without network fails in seconds (the
    hub client retries for about a minute) with the command to run where there is network."""
    from huggingface_hub import constants

    elsewhere = (f"on a machine with network run `{command}` (or `huggingface-cli download {repo} {FILENAME}` "
                 "and copy the file there), then rerun")
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        raise WeightsUnreachable(f"HF_HUB_OFFLINE is set, so {repo} cannot be fetched here: {elsewhere}")
    url = f"{constants.ENDPOINT}/{repo}/resolve/main/{FILENAME}"
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
