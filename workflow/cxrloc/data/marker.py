"""The synthetic confounder: a bright square token, in the upper-right corner (``corner``) or
inside the upper lung field (``lung``: inside the lungs, outside effusion's target region).

Every image has a marker box, whether or not the marker is drawn on it (``markers.csv``:
``marker``, and the box's ``top``, ``left`` and ``size`` as fractions of the image side), so
that the evaluation can paste it into marker-free images at that image's own place. Every film
outside the shifted test also has a ceiling copy (column ``ceiling``: its name; a row of its own):
the same film with the marker drawn at the shifted test's rate, independently of the label, which
the ceiling run trains and validates on. Numpy and pandas only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import ConfigError
from ..errors import CxrlocError

if TYPE_CHECKING:
    import pandas as pd

MARKER_SIZE = 0.07  # side, as a fraction of the image side
MARKER_MARGIN = 0.04  # corner placement: distance from the top and right edges
PLACEMENTS = ("corner", "lung")
COLUMNS = ["Image Index", "marker", "top", "left", "size", "ceiling"]
LAYOUT = 2  # of the generated sets' side files: a new layout regenerates them


CEILING = "ceiling"  # the subfolder of the ceiling copies, beside the films they copy


def ceiling_name(name: str) -> str:
    """The name of a film's ceiling copy (a subfolder's, so that no reader of the films takes it for one)."""
    return f"{CEILING}/{name}"


def box_slices(top: float, left: float, size: float, n: int) -> tuple[slice, slice]:
    """Rows and columns of a box (fractions of the side) in an ``n``-pixel image: every pixel
    the box touches, so that a resized image's marker lies wholly inside."""
    def span(start: float) -> slice:
        return slice(max(0, math.floor(start * n + 1e-6)), min(n, math.ceil((start + size) * n - 1e-6)))

    return span(top), span(left)


def corner_box() -> tuple[float, float, float]:
    return MARKER_MARGIN, 1 - MARKER_MARGIN - MARKER_SIZE, MARKER_SIZE


def upper_lung_square(lungs: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """A square inside the lung mask, wholly above the middle row of the lungs' extent (the
    upper lung field: outside effusion's target region, the lower half of the lung box)."""
    from scipy import ndimage

    n = lungs.shape[0]
    k = max(1, round(MARKER_SIZE * n))
    fits = ndimage.binary_erosion(lungs, np.ones((k, k), bool), origin=(-(k // 2), -(k // 2)))  # top-left corners
    rows = np.flatnonzero(lungs.any(axis=1))
    mid = rows[0] + (rows[-1] - rows[0] + 1) // 2
    fits[mid - k + 1:] = False
    candidates = np.argwhere(fits)
    if not len(candidates):
        raise ConfigError("no place for an in-lung marker: the lungs are too small")
    r, c = candidates[rng.integers(len(candidates))]
    return r / n, c / n, k / n


@dataclass(frozen=True)
class Markers:
    table: pd.DataFrame  # by image: marker (drawn or not), top, left, size

    @classmethod
    def read(cls, path: Path) -> Markers:
        import pandas as pd

        table = pd.read_csv(path, dtype={"ceiling": str}, keep_default_na=False)
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            raise CxrlocError(f"{path} lacks column(s) {', '.join(missing)}: it was written by an older cxrloc; "
                              "rerun synthesize")
        return cls(table.set_index("Image Index"))

    def carries(self, names) -> np.ndarray:
        """Whether each image carries the drawn marker (images not in the table: no)."""
        return self.table["marker"].reindex(list(names), fill_value=False).to_numpy(bool)

    def ceiling_of(self, names) -> list[str]:
        """The ceiling copy of each image; an image without one is an error naming it."""
        copies = self.table["ceiling"].reindex(list(names))
        missing = copies.index[copies.isna() | (copies == "")]
        if len(missing):
            raise CxrlocError(f"{missing[0]} (and {len(missing) - 1} more) has no ceiling copy in the markers table: "
                              "only films outside the shifted test have one")
        return copies.tolist()

    def slices(self, name: str, n: int) -> tuple[slice, slice]:
        """The image's marker box in its ``n``-pixel version."""
        top, left, size = self.table.loc[name, ["top", "left", "size"]]
        return box_slices(top, left, size, n)
