"""A trained run's model as training, evaluation and ``predict`` all build and apply it: the
backbone with its Grad-CAM layer, memory layout and weights, and class probabilities of a split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoint import CheckpointError, load_checkpoint
from ..config import TrainConfig
from .camsize import configured_layer
from .models import create
from .run import RunSpec
from .splitdata import SplitData, normalize


def cam_layer_of(spec: RunSpec) -> str | None:
    """The configured Grad-CAM layer of the run's backbone (None: its record's, or its last feature stage)."""
    return configured_layer(spec.train.cam_layer, spec.backbone)


def channels_last(train: TrainConfig, device) -> bool:
    """Channels-last memory: ``train.channels_last``, by default on CUDA only (on a 2-core CPU it sped
    up a small ResNet at 64 px by ~10 % and slowed resnet18 at 32 px)."""
    return device.type == "cuda" if train.channels_last is None else train.channels_last


def build_model(spec: RunSpec, device, pretrained: bool | None = None):
    """The run's model and Grad-CAM layer; ``pretrained=False`` skips the pretrained weights (a
    model about to receive trained ones)."""
    pretrained = spec.train.pretrained if pretrained is None else pretrained
    model, layer = create(spec.backbone, len(spec.task.classes), pretrained, cam_layer_of(spec),
                          spec.train.weights.get(spec.backbone))
    layout = torch.channels_last if channels_last(spec.train, device) else torch.contiguous_format
    return model.to(device, memory_format=layout), layer


def load_trained(path: Path, spec: RunSpec, device):
    ckpt = load_checkpoint(path)
    if "state_dict" not in ckpt:
        raise CheckpointError(f"{path} holds no trained weights (no state_dict); rerun its train job")
    model, layer = build_model(spec, device, pretrained=False)  # the trained weights replace them all
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path} holds the weights of another model than {spec.backbone} for task "
                              f"{spec.task.name}: {str(e).splitlines()[0]}; rerun its train job") from None
    return model.eval(), layer, ckpt


@torch.no_grad()
def predict_proba(model, data: SplitData, device, batch: int = 64, static: bool | None = None) -> np.ndarray:
    """Class probabilities of a split, read to the host once. ``static`` (default: on CUDA) pads
    the last batch to full size, so every forward has one shape (cuDNN plans are reused)."""
    model.eval()
    static = device.type == "cuda" if static is None else static
    n, out = len(data), []
    for i in range(0, n, batch):
        idx = torch.arange(i, i + batch if static else min(i + batch, n), device=data.images.device).clamp_(max=n - 1)
        x = normalize(data.images[idx].to(device))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out.append(F.softmax(model(x).float(), dim=1)[: n - i])
    return torch.cat(out).cpu().numpy()
