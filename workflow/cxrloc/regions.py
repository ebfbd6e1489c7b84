"""Target regions of attention per class (METHOD.md §5), batched, at CAM resolution."""

from __future__ import annotations

import torch

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


def mask_regions(lung_masks: torch.Tensor, boxes: torch.Tensor, kinds: torch.Tensor) -> torch.Tensor:
    """Mask-based variant: the lower or upper half (by the box's mid row) of the lung mask itself."""
    size = lung_masks.shape[-1]
    by_box = box_regions(boxes, kinds, size)
    inside = kinds.view(-1, 1, 1).isin(torch.tensor([1, 2, 4], device=kinds.device))
    return torch.where(inside, by_box * lung_masks.float(), by_box)
