"""Target regions of attention per class (METHOD.md §5), batched, at CAM resolution."""

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

    lower: rows [y + h//2, y + h); upper: rows [y, y + h//2); both within columns
    [x, x + w). outside: every pixel not in rows [y, size) × columns [x, x + w).
    """
    ar = torch.arange(size, device=boxes.device)
    x, y, w, h = (boxes[:, i, None] for i in range(4))
    mid = y + torch.div(h, 2, rounding_mode="floor")
    cols = (ar >= x) & (ar < x + w)
    rows_lower = (ar >= mid) & (ar < y + h)
    rows_upper = (ar >= y) & (ar < mid)
    rows_box = (ar >= y) & (ar < y + h)
    rows_below_top = ar >= y
    outer = lambda r, c: r[:, :, None] & c[:, None, :]  # noqa: E731
    stack = torch.stack(
        [
            torch.zeros(len(boxes), size, size, dtype=torch.bool, device=boxes.device),
            outer(rows_lower, cols),
            outer(rows_upper, cols),
            ~outer(rows_below_top, cols),
            outer(rows_box, cols),
        ],
        dim=1,
    )
    return stack[torch.arange(len(boxes)), kinds].float()


def mask_regions(lung_masks: torch.Tensor, boxes: torch.Tensor, kinds: torch.Tensor, size: int) -> torch.Tensor:
    """Mask-based variant: the lower or upper half (by the box's mid row) of the lung mask itself.

    ``lung_masks`` may be coarser than the CAM; they are upsampled (nearest) to ``size``.
    """
    masks = F.interpolate(lung_masks[:, None].float(), size=(size, size), mode="nearest")[:, 0]
    by_box = box_regions(boxes, kinds, size)
    inside = torch.isin(kinds, torch.tensor([1, 2, 4], device=kinds.device)).view(-1, 1, 1)
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
