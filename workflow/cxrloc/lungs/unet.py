"""The lung U-Net: the smp model, a pretrained encoder's start, and a checkpoint read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import segmentation_models_pytorch as smp
import torch

from ..checkpoint import CheckpointError, load_checkpoint
from ..config import UNetConfig
from ..errors import CxrlocError

DECODER = UNetConfig.decoder_channels


class WeightsFileError(CxrlocError, ValueError):
    pass


class Standardize(torch.nn.Module):
    """Inputs in [0, 1] put on the scale a pretrained encoder was trained on:
    ``(x · input_range_max − mean) / std`` per channel."""

    def __init__(self, mean: list[float], std: list[float], input_range: list[float]) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(float(input_range[1])))
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.scale - self.mean) / self.std


def build(encoder: str, decoder_channels: tuple[int, ...] = DECODER, standardize: dict | None = None) -> torch.nn.Module:
    """A U-Net in channels-last memory (10-15 % faster steps at 128 px on a 2-core CPU); with
    ``standardize`` (a pretrained encoder's ``mean``, ``std``, ``input_range``) its inputs are
    standardized first, as that encoder expects."""
    model = smp.Unet(encoder_name=encoder, encoder_weights=None, in_channels=3, classes=1,
                     decoder_channels=tuple(decoder_channels))
    if standardize:
        model = torch.nn.Sequential(Standardize(**standardize), model)
    return model.to(memory_format=torch.channels_last)


def pretrained(encoder: str, decoder_channels: tuple[int, ...], weights: Path) -> tuple[torch.nn.Module, dict, str]:
    """A U-Net whose encoder starts from a file of ``cxrloc fetch-weights --unet-encoder``, the
    standardization recorded in that file, and where its weights came from."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    rewrite = f"write it with `cxrloc fetch-weights --unet-encoder {encoder} --encoder-weights NAME --out {weights}`"
    try:
        with safe_open(str(weights), "pt") as f:
            meta = f.metadata() or {}
        standardize = {k: json.loads(meta[k]) for k in ("mean", "std", "input_range")}
        model = build(encoder, decoder_channels, standardize)
        model[1].encoder.load_state_dict(load_file(weights))
    except KeyError as e:
        raise WeightsFileError(f"{weights}: no {e.args[0]} in its metadata; {rewrite}") from None
    except Exception as e:  # noqa: BLE001 - safetensors, JSON and shape errors alike: not the encoder's weights
        raise WeightsFileError(f"{weights} is not a weights file of the U-Net encoder {encoder!r} "
                               f"({str(e).splitlines()[0]}); {rewrite}") from None
    return model, standardize, meta.get("source", str(weights))


def as_input(gray: torch.Tensor) -> torch.Tensor:
    """``(B, H, W)`` uint8, or float in [0, 1] → RGB float in [0, 1], as the paper's U-Net was fed."""
    x = gray.float() / 255 if gray.dtype == torch.uint8 else gray
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)


class LungModel(NamedTuple):
    model: torch.nn.Module
    size: int  # the input size it was trained at
    postprocess: bool  # unet.postprocess as it was trained (predict follows it; the workflow passes its own)


def load(path: Path, device: torch.device) -> LungModel:
    """A lung U-Net written by ``train-unet``; any other file is an error naming it."""
    ckpt = load_checkpoint(path, "lung U-Net checkpoint")
    try:
        model = build(ckpt["encoder"], ckpt["decoder_channels"], ckpt["standardize"])
        model.load_state_dict(ckpt["state_dict"])
        size = int(ckpt["image_size"])
    except (KeyError, RuntimeError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} is not a lung U-Net of cxrloc train-unet ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else 'no detail'}); train one, or give unet.checkpoint "
                              "a checkpoint that train-unet wrote") from None
    return LungModel(model.to(device), size, bool(ckpt.get("postprocess", False)))
