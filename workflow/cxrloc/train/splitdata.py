"""Split tensors read from the image cache and the lung cache: no PNG decoding, no U-Net."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..config import ConfigError
from ..data.imagecache import ImageCache
from ..data.marker import Markers
from ..digests import sha256sum
from ..lungs.lungcache import LungCache

if TYPE_CHECKING:
    import pandas as pd

    from .run import RunSpec


@dataclass
class SplitData:
    names: list[str]
    images: torch.Tensor  # uint8 (N, S, S)
    labels: torch.Tensor  # int64 (N,)
    boxes: torch.Tensor  # int64 (N, 4) as x, y, w, h
    lung_masks: torch.Tensor  # uint8 (N, m, m) precached lung masks at a small resolution
    lesions: torch.Tensor | None  # uint8 (N, S, S) true lesion masks, when the source has them

    def __len__(self) -> int:
        return len(self.names)

    def take(self, idx: torch.Tensor) -> SplitData:
        """The samples at ``idx``, in that order."""
        return SplitData([self.names[i] for i in idx.tolist()], self.images[idx], self.labels[idx], self.boxes[idx],
                         self.lung_masks[idx], None if self.lesions is None else self.lesions[idx])


def load_split(splits: pd.DataFrame, split: str, cache: ImageCache, lungs: LungCache,
               copies: Markers | None = None) -> SplitData:
    """One split's images, labels, boxes and masks; with ``copies``, each film's ceiling copy instead
    (the ceiling run: the confounder drawn whatever the label)."""
    part = splits[splits["split"] == split]
    names = part["image"].tolist() if copies is None else copies.ceiling_of(part["image"])
    rows = cache.rows(names)
    lesions = cache.lesions()
    images = np.array(cache.images()[rows])
    return SplitData(
        names=names,
        images=torch.from_numpy(images),
        labels=torch.from_numpy(part["label"].to_numpy().astype(np.int64)),
        boxes=torch.from_numpy(lungs.boxes_of(names)),
        lung_masks=torch.from_numpy(lungs.masks_of(names)),
        lesions=None if lesions is None else torch.from_numpy(np.ascontiguousarray(lesions[rows])),
    )


def mask_lungs(data: SplitData, margin: float, how: str) -> SplitData:
    """The split as the ``masked`` objective sees it: only the content of each lung mask, grown by
    ``margin`` (a fraction of the image side); the outside filled as ``attention.fill`` says."""
    from ..lungs.regions import upsampled
    from .invariance import fill, keep_region

    size = data.images.shape[-1]
    masks = upsampled(data.lung_masks, size)[:, None]
    grow = round(margin * size)
    if grow:
        masks = F.max_pool2d(masks, 2 * grow + 1, stride=1, padding=grow)
    images = data.images[:, None].float()
    kept = keep_region(images, masks[:, 0], fill(images, how, black=0.0))
    return dataclasses.replace(data, images=kept[:, 0].round().clamp(0, 255).to(torch.uint8))


def normalize(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, S, S)`` → 3-channel float normalized with mean 0.5, std 0.5 (docs/method.md §3)."""
    x = images_uint8.float().div_(255).sub_(0.5).div_(0.5)
    return x.unsqueeze(1).expand(-1, 3, -1, -1)


def read_splits(path: Path) -> pd.DataFrame:
    import pandas as pd

    return pd.read_csv(path, dtype={"patient": str})


def train_subset(data: SplitData, table: pd.DataFrame, spec: RunSpec) -> SplitData:
    """The training split at the run's share of its patients, cycled to the split's length."""
    from .subset import check_classes, subset_rows

    rows = subset_rows(table[table["split"] == "train"], spec.train.patients, spec.seed)
    check_classes(data.labels[rows].numpy(), spec.task.classes, spec.train.patients, spec.seed)
    return data.take(torch.from_numpy(rows))


def input_identity(splits: Path, cache: ImageCache, lungs: LungCache) -> dict[str, str]:
    """What a run's data is, by content: the split table's SHA-256 and the digests that the image
    and lung caches recorded when they were written (no re-hash of the images per job)."""
    return {"splits": sha256sum(splits), "images": cache.digest, "lungs": lungs.digest}


def run_splits(spec: RunSpec, splits: Path, cache: ImageCache, lungs: LungCache, names: list[str],
               required=("train", "val", "test"), markers: Markers | None = None) -> list[SplitData | None]:
    """The named splits as the run's objective sees them (those the split table has; the ``required``
    ones must hold every class): a ceiling run trains and validates on the films' ceiling copies,
    whose confounder carries no label, and is tested on the same images as every run; a masked run
    sees only the lungs, in every split; a run at ``train.patients`` < 1 trains on that share of the
    training patients (cxrloc.train.subset)."""
    from ..data.splits import check_splits

    table = read_splits(splits)
    check_splits(table, spec.task, splits, required)
    if spec.objective.unconfounded and markers is None:
        raise ConfigError(f"objective {spec.objective.name} trains on the films' ceiling copies: it needs the "
                          "markers table (--markers)")
    copied = {"train", "val"} if spec.objective.unconfounded else set()
    data = [load_split(table, n, cache, lungs, copies=markers if n in copied else None)
            if (table["split"] == n).any() else None for n in names]
    if spec.train.patients < 1:
        data = [train_subset(d, table, spec) if n == "train" and d is not None else d for n, d in zip(names, data)]
    if spec.objective.mask_input:
        data = [d and mask_lungs(d, spec.attention.mask_margin, spec.attention.fill) for d in data]
    return data
