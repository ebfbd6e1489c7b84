"""How much of each true finding lies inside the target region its class's attention term uses
(sets with lesion masks: synthetic and implanted): a region that misses part of the finding
teaches the model to ignore that part. Per positive class: mean and 10th percentile over its
images of the share of finding pixels inside the region, from the precached lung masks. And where
the source draws a confounder, how much of the cue lies inside the lungs and inside each region as
the pipeline's U-Net draws them (a cue the U-Net cuts out of the lungs is one ``masked`` removes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data.imagecache import ImageCache
from ..data.marker import Markers
from ..tasks import KINDS, Task
from .lungcache import LungCache
from .regions import kinds_for, target_regions, upsampled


def share_inside(lesions: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
    """Per image, the share of its finding's pixels (any non-zero value) inside its region (NaN where it
    has no finding)."""
    found = lesions.bool()
    size = found.flatten(1).sum(1).float()
    inside = (found & regions.bool()).flatten(1).sum(1).float()
    return torch.where(size > 0, inside / size.clamp_min(1), float("nan"))


def finding_coverage(splits: pd.DataFrame, cache: ImageCache, lungs: LungCache, task: Task, region: str) -> pd.DataFrame:
    """One row per positive class with a region: images with a finding, share inside (mean, p10)."""
    lesions = cache.lesions()
    rows = []
    for label, (name, kind) in enumerate(zip(task.classes, task.regions)):
        if label == 0 or kind == "none":
            continue
        names = splits.loc[splits["label"] == label, "image"].tolist()
        found = torch.from_numpy(np.ascontiguousarray(lesions[cache.rows(names)]))
        regions = target_regions(region, torch.from_numpy(lungs.boxes_of(names)),
                                 kinds_for(task)[torch.full((len(names),), label)], found.shape[-1],
                                 torch.from_numpy(lungs.masks_of(names)))
        rows.append({"class": name, "region": f"{KINDS[task.kinds[label]]} ({region})",
                     **_summary(share_inside(found, regions).numpy())})
    return pd.DataFrame(rows)


def _summary(share: np.ndarray) -> dict:
    share = share[~np.isnan(share)]
    return {"images": len(share), "mean": float(share.mean()) if len(share) else np.nan,
            "p10": float(np.percentile(share, 10)) if len(share) else np.nan}


def cue_coverage(splits: pd.DataFrame, cache: ImageCache, lungs: LungCache, task: Task, region: str,
                 markers: Markers) -> pd.DataFrame:
    """Over the images that carry the cue: the share of its pixels inside the U-Net's lung mask and
    inside each positive class's target region (mean, p10)."""
    names = splits.loc[markers.carries(splits["image"]), "image"].tolist()
    if not names:
        return pd.DataFrame(columns=["inside", "images", "mean", "p10"])
    size = cache.images().shape[-1]
    spots = torch.from_numpy(np.stack([markers.spot(n, size) for n in names]))
    masks = torch.from_numpy(lungs.masks_of(names))
    rows = [{"inside": "lung mask", **_summary(share_inside(spots, upsampled(masks, size) > 0.5).numpy())}]
    boxes = torch.from_numpy(lungs.boxes_of(names))
    for label, (name, kind) in enumerate(zip(task.classes, task.regions)):
        if label and kind != "none":
            regions = target_regions(region, boxes, kinds_for(task)[torch.full((len(names),), label)], size, masks)
            rows.append({"inside": f"{name}'s region: {KINDS[task.kinds[label]]} ({region})",
                         **_summary(share_inside(spots, regions).numpy())})
    return pd.DataFrame(rows)
