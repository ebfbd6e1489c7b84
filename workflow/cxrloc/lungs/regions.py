"""Target regions of attention per class (docs/method.md §5), batched, at CAM resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import ConfigError
from ..tasks import KINDS, Task


def kinds_for(task: Task) -> torch.Tensor:
    """Region kind code (index into KINDS) of each label of the task."""
    return torch.tensor(task.kinds)


def box_regions(boxes: torch.Tensor, kinds: torch.Tensor, size: int) -> torch.Tensor:
    """``(B, size, size)`` 0/1 masks from lung boxes ``(B, 4)`` as ``x, y, w, h``.

    lower: rows [y + h//2, y + h); upper: rows [y, y + h//2); box: rows [y, y + h); all
    within columns [x, x + w). outside: every pixel not in rows [y, size) × columns [x, x + w).
    Only each sample's own kind is built; ``lungs`` is left empty (``target_regions`` fills it).
    """
    ar = torch.arange(size, device=boxes.device)
    x, y, w, h = boxes.unbind(1)
    mid = y + torch.div(h, 2, rounding_mode="floor")
    lower, upper, outside = (kinds == KINDS.index(k) for k in ("lower", "upper", "outside"))
    top = torch.where(lower, mid, y)
    bottom = torch.where(upper, mid, torch.where(outside, torch.full_like(y, size), y + h))
    rows = (ar >= top[:, None]) & (ar < bottom[:, None])
    cols = (ar >= x[:, None]) & (ar < (x + w)[:, None])
    region = (rows[:, :, None] & cols[:, None, :]) ^ outside[:, None, None]
    return (region & ~((kinds == KINDS.index("none")) | (kinds == KINDS.index("lungs")))[:, None, None]).float()


def upsampled(lung_masks: torch.Tensor, size: int) -> torch.Tensor:
    """Lung masks ``(B, s, s)``, which may be coarser than the CAM, at ``size`` (nearest)."""
    return F.interpolate(lung_masks[:, None].float(), size=(size, size), mode="nearest")[:, 0]


def mask_regions(lung_masks: torch.Tensor, boxes: torch.Tensor, kinds: torch.Tensor, size: int) -> torch.Tensor:
    """Mask-based variant: the lower or upper half (by the box's mid row) of the lung mask itself."""
    masks = upsampled(lung_masks, size)
    by_box = box_regions(boxes, kinds, size)
    inside = sum(kinds == KINDS.index(k) for k in ("lower", "upper", "box")).bool().view(-1, 1, 1)
    return torch.where(inside, by_box * masks, by_box)


REGION_SOURCES = ("box", "mask")


def target_regions(source: str, boxes: torch.Tensor, kinds: torch.Tensor, size: int,
                   lung_masks: torch.Tensor) -> torch.Tensor:
    """``(B, size, size)`` target regions from the lung box (the paper's) or the lung mask; the
    ``lungs`` kind is the lung mask itself with either source."""
    if source == "box":
        regions = box_regions(boxes, kinds, size)
    elif source == "mask":
        regions = mask_regions(lung_masks, boxes, kinds, size)
    else:
        raise ConfigError(f"attention.region {source!r}; valid: {', '.join(REGION_SOURCES)}")
    lungs = (kinds == KINDS.index("lungs")).view(-1, 1, 1)
    return torch.where(lungs, upsampled(lung_masks, size), regions)
