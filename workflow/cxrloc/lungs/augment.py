"""Augmentation for chest films during U-Net training: an implanted opacity at the lung base
(the mask kept: fluid is lung), a left-right flip and a small affine move (the mask moves with
its image), brightness, contrast and gamma, blur and noise. Draws from seeded generators, so a
run is repeatable."""

from __future__ import annotations

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from ..config import EffusionConfig
from ..data.effusion import draw, implant

GEOMETRY = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomAffine(degrees=7, translate=(0.06, 0.06), scale=(0.9, 1.1))])
INTENSITY = v2.Compose([
    v2.ColorJitter(brightness=0.25, contrast=0.25),
    v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 1.5))], p=0.3),
])
GAMMA = 0.3  # log-gamma drawn from [-GAMMA, GAMMA]
NOISE = 0.03  # noise standard deviation drawn from [0, NOISE] (images in [0, 1])


# Wider than the real-film benchmark's findings: the U-Net learns that an opaque base is lung, not
# one drawing of it.
OPACITY = EffusionConfig(height=(0.1, 0.5), density=(0.2, 0.7))


def with_opacities(images: torch.Tensor, masks: torch.Tensor, rate: float, rng: np.random.Generator) -> torch.Tensor:
    """uint8 images ``(B, S, S)``, each with probability ``rate`` given an effusion-like opacity drawn
    from its own lung mask (which stays as it is: the U-Net must call fluid-filled lung lung)."""
    out = images.clone()
    for i, mask in enumerate(masks.numpy()):
        if rng.random() < rate and mask.any():
            opacity, _ = draw(mask, rng, OPACITY)
            out[i] = torch.from_numpy(implant(out[i].numpy(), opacity))
    return out


def augment(images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images and bool masks ``(B, S, S)`` → float images in [0, 1] and bool masks, each
    sample with its own draw."""
    out_x, out_y = [], []
    for image, mask in zip(images, masks):
        x, y = GEOMETRY(tv_tensors.Image(image[None]), tv_tensors.Mask(mask[None].to(torch.uint8)))
        x = INTENSITY(x.float() / 255).clamp(0, 1)
        x = x ** torch.empty(()).uniform_(-GAMMA, GAMMA).exp()
        x = (x + torch.randn_like(x) * torch.empty(()).uniform_(0, NOISE)).clamp(0, 1)
        out_x.append(x[0])
        out_y.append(y[0].bool())
    return torch.stack(out_x), torch.stack(out_y)
