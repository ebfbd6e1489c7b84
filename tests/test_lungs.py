"""Lung boxes and target regions on the 517 real lung masks torchxrayvision ships."""

import cv2
import numpy as np
import pytest
import torch
from cxrloc.lungs.boxes import flags, keep_two_largest, lung_box
from cxrloc.lungs.regions import box_regions
from cxrloc.tasks import KINDS
from PIL import Image

CACHE = 224


def resized(mask: np.ndarray, size: int = CACHE) -> np.ndarray:
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((size, size), Image.Resampling.NEAREST)) > 0


def contour_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The original's definition, computed independently with OpenCV."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return 0, 0, mask.shape[1], mask.shape[0]
    rects = np.array([cv2.boundingRect(c) for c in contours])
    x0, y0 = rects[:, 0].min(), rects[:, 1].min()
    x1, y1 = (rects[:, 0] + rects[:, 2]).max(), (rects[:, 1] + rects[:, 3]).max()
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def test_there_are_517_real_masks(v7labs_masks):
    assert len(v7labs_masks) == 517


def test_lung_box_is_the_foreground_extent_and_the_contour_union(v7labs_masks):
    for name, full in v7labs_masks:
        m = resized(full)
        ys, xs = np.nonzero(m)
        extent = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) if len(xs) else (0, 0, CACHE, CACHE)
        assert lung_box(m) == tuple(int(v) for v in extent), name
        assert lung_box(m) == contour_box(m), name


def test_regions_are_the_halves_of_the_box(v7labs_masks):
    masks = [resized(full) for _, full in v7labs_masks[:64]]
    boxes = torch.tensor([lung_box(m) for m in masks])
    for kind in ("lower", "upper", "outside"):
        regions = box_regions(boxes, torch.full((len(boxes),), KINDS.index(kind)), CACHE)
        for (x, y, w, h), r in zip(boxes.tolist(), regions):
            want = torch.zeros(CACHE, CACHE)
            if kind == "lower":
                want[y + h // 2 : y + h, x : x + w] = 1
            elif kind == "upper":
                want[y : y + h // 2, x : x + w] = 1
            else:
                want[:] = 1
                want[y:, x : x + w] = 0
            assert torch.equal(r, want), kind
    none = box_regions(boxes, torch.zeros(len(boxes), dtype=torch.long), CACHE)
    assert none.sum() == 0


def test_empty_mask_falls_back_to_the_whole_image():
    assert lung_box(np.zeros((64, 64), bool)) == (0, 0, 64, 64)
    assert flags(np.zeros((64, 64), bool))["empty"]


def test_postprocessing_keeps_two_lungs_and_fills_holes(v7labs_masks):
    m = resized(v7labs_masks[0][1], 128).copy()
    noisy = m.copy()
    noisy[2:4, 2:4] = True
    ys, xs = np.nonzero(m)
    noisy[ys[len(ys) // 2], xs[len(xs) // 2]] = False
    clean = keep_two_largest(noisy)
    assert not clean[2:4, 2:4].any()
    assert clean[ys[len(ys) // 2], xs[len(xs) // 2]]


@pytest.mark.parametrize("frac,flag", [(0.01, "tiny"), (0.9, "huge")])
def test_flags_implausible_areas(frac, flag):
    m = np.zeros((100, 100), bool)
    m.flat[: int(frac * m.size)] = True
    assert flags(m)[flag]


def test_mask_regions_are_the_halves_of_the_lung_mask_itself(v7labs_masks):
    from cxrloc.lungs.regions import target_regions

    masks = torch.stack([torch.from_numpy(resized(full, 64)) for _, full in v7labs_masks[:16]])
    boxes = torch.tensor([lung_box(m.numpy()) for m in masks])
    lower = torch.full((16,), KINDS.index("lower"))
    by_mask = target_regions("mask", boxes, lower, 64, masks.to(torch.uint8))
    by_box = target_regions("box", boxes, lower, 64, masks.to(torch.uint8))
    assert torch.equal(by_mask, by_box * masks.float())
    assert (by_mask.sum(dim=(1, 2)) < by_box.sum(dim=(1, 2))).all()
    coarse = target_regions("mask", boxes * 2, lower, 128, masks.to(torch.uint8))
    assert coarse.shape == (16, 128, 128)


@pytest.mark.parametrize("source", ["box", "mask"])
def test_the_lungs_region_is_the_lung_mask_itself_with_either_source(v7labs_masks, source):
    """A declared task's ``lungs`` class: the whole (coarse, upsampled) mask, not its box."""
    from cxrloc.lungs.regions import target_regions

    masks = torch.stack([torch.from_numpy(resized(full, 32)) for _, full in v7labs_masks[:16]]).to(torch.uint8)
    boxes = torch.tensor([lung_box(m.numpy()) for m in masks]) * 2
    kinds = torch.tensor([KINDS.index("lungs"), KINDS.index("box")] * 8)
    regions = target_regions(source, boxes, kinds, 64, masks)
    fine = torch.nn.functional.interpolate(masks[:, None].float(), size=(64, 64), mode="nearest")[:, 0]
    assert torch.equal(regions[::2], fine[::2])
    if source == "box":  # the box kind stays the rectangle, larger than any real lung mask
        assert (regions[1::2].sum(dim=(1, 2)) > fine[1::2].sum(dim=(1, 2))).all()
