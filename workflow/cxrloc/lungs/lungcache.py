"""The precached lung masks and boxes (``lungs.npz``, written by ``precache-masks``), read
by image name; numpy only, so planning and aggregation never load torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..arrays import load_arrays

if TYPE_CHECKING:
    import pandas as pd

BOX = ["x", "y", "w", "h"]


@dataclass(frozen=True)
class LungCache:
    boxes: pd.DataFrame  # x, y, w, h and one boolean column per plausibility flag, by image
    masks: np.ndarray  # uint8 (N, m, m) at a small resolution, in the order of ``boxes``
    digest: str  # of the arrays, recorded when the cache was written

    @classmethod
    def read(cls, path: Path) -> LungCache:
        import pandas as pd

        z = load_arrays(path, ("image", "box", "mask", "flags", "flag_names", "digest"))
        boxes = pd.DataFrame(z["box"], index=z["image"], columns=BOX)
        flags = pd.DataFrame(z["flags"], index=z["image"], columns=[str(f) for f in z["flag_names"]])
        return cls(boxes.join(flags), z["mask"], str(z["digest"]))

    def masks_of(self, names) -> np.ndarray:
        return self.masks[self.boxes.index.get_indexer(list(names))]

    def boxes_of(self, names) -> np.ndarray:
        """``(N, 4)`` int64 boxes as x, y, w, h."""
        return self.boxes.loc[list(names), BOX].to_numpy().astype(np.int64)
