"""Target regions of attention per class (docs/method.md §5), batched, at CAM resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .tasks import classes

REGION_OF = {
    "No Finding": "none",
    "Effusion": "lower",
    "Pneumothorax": "upper",
    "Subcutaneous Emphysema": "outside",
    "Cardiomegaly": "box",
}
KINDS = ("none", "lower", "upper", "outside", "box")


def kinds_for(task: str) -> torch.Tensor:
    """Region kind code (index into KINDS) of each label of the task."""
    return torch.tensor([KINDS.index(REGION_OF[c]) for c in classes(task)])


def box_regions(boxes: torch.Tensor, kinds: torch.Tensor, size: int) -> torch.Tensor:
    """``(B, size, size)`` 0/1 masks from lung boxes ``(B, 4)`` as ``x, y, w, h``.

    lower: rows [y + h//2, y + h); upper: rows [y, y + h//2); box: rows [y, y + h); all
    within columns [x, x + w). outside: every pixel not in rows [y, size) × columns [x, x + w).
    Only each sample's own kind is built.
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
    return (region & (kinds != KINDS.index("none"))[:, None, None]).float()


def mask_regions(lung_masks: torch.Tensor, boxes: torch.Tensor, kinds: torch.Tensor, size: int) -> torch.Tensor:
    """Mask-based variant: the lower or upper half (by the box's mid row) of the lung mask itself.

    ``lung_masks`` may be coarser than the CAM; they are upsampled (nearest) to ``size``.
    """
    masks = F.interpolate(lung_masks[:, None].float(), size=(size, size), mode="nearest")[:, 0]
    by_box = box_regions(boxes, kinds, size)
    inside = sum(kinds == KINDS.index(k) for k in ("lower", "upper", "box")).bool().view(-1, 1, 1)
    return torch.where(inside, by_box * masks, by_box)


REGION_SOURCES = ("box", "mask")


def target_regions(source: str, boxes: torch.Tensor, kinds: torch.Tensor, size: int,
                   lung_masks: torch.Tensor | None = None) -> torch.Tensor:
    """``(B, size, size)`` target regions from the lung box (the paper's) or the lung mask."""
    if source == "box":
        return box_regions(boxes, kinds, size)
    if source == "mask":
        return mask_regions(lung_masks, boxes, kinds, size)
    raise ValueError(f"attention.region {source!r}; valid: {', '.join(REGION_SOURCES)}")
