"""Whether a backbone's Grad-CAM map is fine enough for a map term at an image size: a map of one
cell is min-max normalized to zero, so the term is constant and trains nothing (docs/method.md §5).
Torch-free for the registry's backbones at their own layer, so planning checks them at no cost;
any other backbone or layer is measured by running the model once on an empty image."""

from __future__ import annotations

from ..backbones import MIN_CAM_CELLS, canonical, record
from ..errors import CxrlocError


class CamSizeError(CxrlocError, ValueError):
    pass


INERT = (f"a map under {MIN_CAM_CELLS}×{MIN_CAM_CELLS} is constant after Grad-CAM's min-max, so the attention term "
         "has no gradient")


def configured_layer(cam_layer: str | dict[str, str] | None, backbone: str) -> str | None:
    """``train.cam_layer`` for one backbone: one layer for all, one per backbone, or None (the record's)."""
    if isinstance(cam_layer, dict):
        return {canonical(name): layer for name, layer in cam_layer.items()}.get(canonical(backbone))
    return cam_layer


def check_cells(activations) -> None:
    """The training step's guard: a map term on a Grad-CAM map of under ``MIN_CAM_CELLS`` cells a side
    (a backbone or layer planning could not check) stops the run at its first step."""
    if activations.ndim == 4 and min(activations.shape[-2:]) < MIN_CAM_CELLS:
        cells = "×".join(map(str, activations.shape[-2:]))
        raise CamSizeError(f"the Grad-CAM layer's map is {cells} at this image size: {INERT}; use a larger "
                           "image_size or an earlier layer (train.cam_layer)")


def cam_cells(backbone: str, size: int, cam_layer: str | None = None) -> int:
    """Cells along the shorter side of the Grad-CAM layer's map at ``size`` px."""
    spec = record(backbone)
    if cam_layer in (None, spec.cam_layer) and spec.cam_stride:
        return spec.cam_cells(size)
    import torch

    from .cam import capture
    from .models import create

    model, layer = create(backbone, 2, cam_layer=cam_layer)
    with torch.no_grad(), capture(layer) as seen:
        model.eval()(torch.zeros(1, 3, size, size))
    return min(seen[-1].shape[-2:])


def check_cam_size(backbone: str, size: int, cam_layer: str | None, key: str = "image_size") -> None:
    """An error naming ``key`` when the map term of a run of ``backbone`` at ``size`` px would be inert."""
    cells = cam_cells(backbone, size, cam_layer)
    if cells >= MIN_CAM_CELLS:
        return
    spec = record(backbone)
    least = spec.min_size() if cam_layer in (None, spec.cam_layer) else None
    hint = f"an image_size of at least {least}" if least else "a larger image_size"
    raise CamSizeError(
        f"{key} {size}: {backbone}'s Grad-CAM layer {cam_layer or spec.cam_layer or '(its last stage)'} gives a "
        f"{cells}×{cells} map, and {INERT}: the run would be cross-entropy under another name; use {hint}, or an "
        "earlier layer (train.cam_layer)")
