"""Lung boxes from lung masks (docs/method.md §4), optional clean-up, and plausibility flags."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def lung_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(x, y, w, h)``: the union of the external contours' bounding rectangles.

    That union is exactly the extent of the foreground, so no contour tracing is needed.
    An empty mask gives the whole image, the paper's fallback.
    """
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    if not rows.any():
        return 0, 0, mask.shape[1], mask.shape[0]
    y0, y1 = np.flatnonzero(rows)[[0, -1]]
    x0, x1 = np.flatnonzero(cols)[[0, -1]]
    return int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)


def keep_two_largest(mask: np.ndarray) -> np.ndarray:
    """Keep the two largest connected components (the lungs) and fill their holes."""
    labels, n = ndimage.label(mask)
    if n > 2:
        sizes = ndimage.sum_labels(mask, labels, range(1, n + 1))
        keep = 1 + np.argsort(sizes)[-2:]
        mask = np.isin(labels, keep)
    return ndimage.binary_fill_holes(mask)


FLAGS = ("empty", "tiny", "huge", "one_lung")


def flags(mask: np.ndarray, tiny: float = 0.05, huge: float = 0.7) -> dict[str, bool]:
    """Implausible-mask flags: empty, tiny or huge area fraction, a single component."""
    frac = float(mask.mean())
    n = ndimage.label(mask)[1]
    return {"empty": frac == 0, "tiny": 0 < frac < tiny, "huge": frac > huge, "one_lung": n == 1}
