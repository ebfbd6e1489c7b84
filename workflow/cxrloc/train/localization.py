"""Localization scores of CAMs against ground-truth lesion masks (docs/method.md §10.7)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

THRESHOLDS = np.round(np.arange(0.1, 1.0, 0.1), 2)
TOLERANCE = 15 / 224  # the pointing game's 15-pixel tolerance at 224 px (Zhang et al. 2018), as a share of the side


def tolerance_px(size: int) -> int:
    return round(TOLERANCE * size)


def dilate(truth: torch.Tensor, pixels: int) -> torch.Tensor:
    """Boolean ``(B, H, W)`` masks grown by ``pixels`` in every direction."""
    if not pixels:
        return truth.bool()
    return F.max_pool2d(truth[:, None].float(), 2 * pixels + 1, stride=1, padding=pixels)[:, 0] > 0


def pointing_game(cams: torch.Tensor, truth: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    """Per map: 1 when the CAM's maximum falls within ``tolerance`` pixels of the truth."""
    truth = dilate(truth, tolerance)
    flat = cams.flatten(1).argmax(1)
    return truth.flatten(1).gather(1, flat[:, None]).squeeze(1).float()


def energy_inside(cams: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per map: the share of CAM mass inside the truth (0 for an all-zero map)."""
    total = cams.sum(dim=(1, 2))
    return torch.where(total > 0, (cams * truth).sum(dim=(1, 2)) / total.clamp_min(1e-12), torch.zeros_like(total))


def iou_at(cams: torch.Tensor, truth: torch.Tensor, thresh: float) -> torch.Tensor:
    pred = cams > thresh
    inter = (pred & truth).sum(dim=(1, 2)).float()
    union = (pred | truth).sum(dim=(1, 2)).float()
    return inter / union.clamp_min(1)


def best_threshold(cams: torch.Tensor, truth: torch.Tensor) -> float:
    """The binarization threshold with the highest mean IoU (tune on val, apply to test)."""
    scores = [iou_at(cams, truth, float(t)).mean().item() for t in THRESHOLDS]
    return float(THRESHOLDS[int(np.argmax(scores))])


def scores(cams: torch.Tensor, truth: torch.Tensor, thresh: float) -> dict[str, float]:
    truth = truth.bool()
    return {
        "pointing_game": pointing_game(cams, truth, tolerance_px(truth.shape[-1])).mean().item(),
        "energy_inside": energy_inside(cams, truth).mean().item(),
        "iou": iou_at(cams, truth, thresh).mean().item(),
        "iou_threshold": thresh,
        "n": int(len(cams)),
    }
