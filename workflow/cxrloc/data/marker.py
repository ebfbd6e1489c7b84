"""The confounder's table (``markers.csv``), written by the generated sources: per image, whether
its cue is drawn (``marker``), the cue itself (``cue``: ``cxrloc.data.cues``, drawn or not), the
square holding it (``top``, ``left``, ``size`` as fractions of the side), and its ceiling copy.

Every image has its cue, whether or not it is drawn, so that the evaluation can paste it into
cue-free images at that image's own place. Every film outside the shifted test also has a ceiling
copy (column ``ceiling``: its name; a row of its own): the same film with the cue drawn at the
shifted test's rate, independently of the label, which the ceiling run trains and validates on.
Numpy and pandas only (the cues' drawing is imported when used).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import CxrlocError

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["Image Index", "marker", "top", "left", "size", "ceiling", "cue"]
LAYOUT = 3  # of the generated sets' side files: a new layout regenerates them
CEILING = "ceiling"  # the subfolder of the ceiling copies, beside the films they copy


def ceiling_name(name: str) -> str:
    """The name of a film's ceiling copy (a subfolder's, so that no reader of the films takes it for one)."""
    return f"{CEILING}/{name}"


@dataclass(frozen=True)
class Markers:
    table: pd.DataFrame  # by image: marker (drawn or not), top, left, size, ceiling, cue

    @classmethod
    def read(cls, path: Path) -> Markers:
        import pandas as pd

        table = pd.read_csv(path, dtype={"ceiling": str, "cue": str}, keep_default_na=False)
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
        """The square holding the image's cue, in its ``n``-pixel version."""
        from .cues import box_slices

        top, left, size = self.table.loc[name, ["top", "left", "size"]]
        return box_slices(top, left, size, n)

    def cue(self, name: str) -> dict:
        return json.loads(self.table.loc[name, "cue"])

    def spot(self, name: str, n: int) -> np.ndarray:
        """Where the image's cue lies in its ``n``-pixel version."""
        from .cues import spot

        return spot(self.cue(name), n)

    def paste(self, name: str, image: np.ndarray) -> np.ndarray:
        """The ``uint8`` square ``image`` with the image's cue drawn on it."""
        from .cues import draw

        return draw(image, self.cue(name))

    @property
    def local(self) -> bool:
        """Whether the cues have a place (Grad-CAM on them means something)."""
        from .cues import local

        return all(local(json.loads(c)) for c in self.table["cue"].iloc[:1])
