"""A simulated pleural effusion, drawn from a film's true lung mask: a homogeneous opacity that
fills the base of one or both lungs, its upper edge a meniscus rising toward the lateral chest
wall, the costophrenic angle filled (blunted), soft-edged, its height and density drawn from
configured ranges. Hand-written: no library draws a finding into a real film with its
ground-truth mask. The real-film benchmark implants it (``cxrloc.data.implanted``) and the lung
U-Net trains on films with it (``unet.opacities``), so that fluid reads as lung. Numpy and
scipy only.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..config import EffusionConfig


def lungs_of(mask: np.ndarray) -> list[np.ndarray]:
    """The two lungs of a both-lung mask: its two largest components, or, where the lungs touch
    (one component, or a second one of under a tenth of the first), the mask split at its
    centre of mass column."""
    labels, n = ndimage.label(mask)
    if n == 0:
        return []
    sizes = ndimage.sum_labels(mask, labels, range(1, n + 1))
    order = np.argsort(sizes)[::-1] + 1
    if n >= 2 and sizes[order[1] - 1] >= 0.1 * sizes[order[0] - 1]:
        return [labels == order[0], labels == order[1]]
    centre = int(round(ndimage.center_of_mass(mask)[1]))
    left, right = mask.copy(), mask.copy()
    left[:, centre:] = False
    right[:, :centre] = False
    return [side for side in (left, right) if side.any()]


def _fluid(lung: np.ndarray, lateral_left: bool, level: float, rise: float) -> np.ndarray:
    """The part of one lung below a surface at ``level`` (share of its height above its lowest
    row) that climbs by ``rise`` (share of its height) toward the lateral wall."""
    rows, cols = np.flatnonzero(lung.any(axis=1)), np.flatnonzero(lung.any(axis=0))
    top, bottom, first, last = rows[0], rows[-1], cols[0], cols[-1]
    height, width = bottom - top + 1, last - first + 1
    x = np.arange(lung.shape[1])
    lateral = np.clip((last - x) / width if lateral_left else (x - first) / width, 0, 1)  # 1 at the lateral wall
    surface = bottom - level * height - rise * height * lateral**2
    return lung & (np.arange(lung.shape[0])[:, None] >= surface[None, :])


def draw(mask: np.ndarray, rng: np.random.Generator, cfg: EffusionConfig) -> tuple[np.ndarray, np.ndarray]:
    """An effusion for a film with the lung ``mask``: its opacity (float32 in [0, 1], soft-edged)
    and the fluid itself (bool), which lies inside the mask."""
    lungs = lungs_of(mask)
    if not lungs:
        raise ValueError("an effusion needs a lung mask, and this one is empty")
    chosen = [lung for lung in lungs if rng.random() < cfg.each_lung] or [lungs[int(rng.integers(len(lungs)))]]
    centre = np.flatnonzero(mask.any(axis=0)).mean()
    lesion = np.zeros_like(mask, dtype=bool)
    for lung in chosen:
        left = np.flatnonzero(lung.any(axis=0)).mean() < centre  # the image-left lung's lateral wall is on the left
        lesion |= _fluid(lung, left, rng.uniform(*cfg.height), rng.uniform(*cfg.meniscus))
    soft = ndimage.gaussian_filter(lesion.astype(np.float32), cfg.blur * max(mask.shape))
    return (rng.uniform(*cfg.density) * np.clip(soft, 0, 1)).astype(np.float32), lesion


def implant(gray: np.ndarray, opacity: np.ndarray) -> np.ndarray:
    """The uint8 film with the opacity blended in toward white."""
    out = gray.astype(np.float32) + opacity * (255 - gray.astype(np.float32))
    return np.rint(out).clip(0, 255).astype(np.uint8)
