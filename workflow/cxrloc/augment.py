"""Augmentation for chest films during U-Net training: a left-right flip and a small affine
move (the mask moves with its image), brightness, contrast and gamma, blur and noise. Draws
from torch's seeded generator, so a run is repeatable."""

from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

GEOMETRY = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomAffine(degrees=7, translate=(0.06, 0.06), scale=(0.9, 1.1))])
INTENSITY = v2.Compose([
    v2.ColorJitter(brightness=0.25, contrast=0.25),
    v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 1.5))], p=0.3),
])
GAMMA = 0.3  # log-gamma drawn from [-GAMMA, GAMMA]
NOISE = 0.03  # noise standard deviation drawn from [0, NOISE] (images in [0, 1])


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
