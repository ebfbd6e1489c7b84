"""Batched, differentiable Grad-CAM.

Hand-written because pytorch-grad-cam (PyPI ``grad-cam``) moves maps to numpy and so
cannot sit inside a loss. The arithmetic is pytorch-grad-cam's GradCAM: weights = spatial
mean of the gradients, ReLU of the weighted sum of activations, per-image min-max, bilinear
upsampling, min-max again. One forward and one ``autograd.grad`` serve the whole batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ConfigError

EPS = 1e-7


@contextmanager
def capture(layer: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collect the layer's output during the forward passes inside the block."""
    seen: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        yield seen
    finally:
        handle.remove()


@contextmanager
def capture_input(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collect the module's first input during the forward passes inside the block."""
    seen: list[torch.Tensor] = []
    handle = module.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        yield seen
    finally:
        handle.remove()


def _minmax(maps: torch.Tensor) -> torch.Tensor:
    lo = maps.amin(dim=(-2, -1), keepdim=True)
    maps = maps - lo
    return maps / (EPS + maps.amax(dim=(-2, -1), keepdim=True))


def cam_from(activations: torch.Tensor, gradients: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(B, H, W)`` maps in [0, 1] from a layer's activations and their gradients."""
    if activations.ndim != 4:
        raise ConfigError(f"Grad-CAM needs the layer's output as a (B, C, H, W) map, got shape {tuple(activations.shape)} "
                         "(a token sequence?): set train.cam_layer to a convolutional or spatial stage")
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activations).sum(dim=1))
    cam = _minmax(cam)
    cam = F.interpolate(cam.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)
    return _minmax(F.relu(cam))


def cams_for(logits: torch.Tensor, activations: torch.Tensor, targets: torch.Tensor,
             size: tuple[int, int], create_graph: bool = False, detach_weights: bool = False) -> torch.Tensor:
    """Grad-CAM of each sample's target class from a forward already done.

    ``create_graph`` keeps the map differentiable (second-order); ``detach_weights``
    treats the Grad-CAM weights as constants (first-order: gradients flow only through
    the activations).
    """
    score = logits.gather(1, targets.view(-1, 1)).sum()
    (grads,) = torch.autograd.grad(score, activations, create_graph=create_graph and not detach_weights,
                                   retain_graph=True)
    if not (create_graph or detach_weights):
        activations = activations.detach()
    return cam_from(activations, grads, size)


def grad_cam(model: nn.Module, layer: nn.Module, images: torch.Tensor, targets: torch.Tensor | None = None,
             create_graph: bool = False) -> torch.Tensor:
    """``(B, H, W)`` Grad-CAM of each image's target class (its prediction when ``targets`` is None)."""
    with torch.enable_grad(), capture(layer) as seen:
        images = images.requires_grad_(images.requires_grad)
        logits = model(images)
    if targets is None:
        targets = logits.argmax(dim=1)
    maps = cams_for(logits, seen[-1], targets, images.shape[-2:], create_graph=create_graph)
    return maps if create_graph else maps.detach()
