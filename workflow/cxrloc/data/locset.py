"""The localization set: NIH's radiologist boxes (``BBox_List_2017.csv``) of a task's findings.

Most boxed images carry other findings too, so they are not in the single-label splits;
the set takes every boxed image of the task's findings, and its patients are kept out of
training and validation. Patients are split in two halves: ``val`` tunes the CAM
binarization threshold, ``test`` is scored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..tasks import Task

COLUMNS = ["image", "patient", "finding", "label", "x", "y", "w", "h", "split"]


def read_bboxes(path: str | Path) -> pd.DataFrame:
    """``image, finding, x, y, w, h`` in the source PNG's pixels."""
    df = pd.read_csv(path, usecols=range(6), header=0, names=["image", "finding", "x", "y", "w", "h"])
    if df[["x", "y", "w", "h"]].isna().any().any():
        raise ValueError(f"{path}: rows with missing box coordinates")
    return df


def localization_set(bboxes: pd.DataFrame, meta: pd.DataFrame, task: Task, seed: int = 0) -> pd.DataFrame:
    """Boxes of the task's findings with patient, label and a patient-grouped val/test half."""
    part = bboxes[bboxes["finding"].isin(task.positives)].copy()
    part["patient"] = part["image"].map(meta.set_index("image")["patient"])
    part["label"] = part["finding"].map({c: i for i, c in enumerate(task.classes)})
    patients = np.array(sorted(part["patient"].unique()))
    val = set(np.random.default_rng(seed).permutation(patients)[: len(patients) // 2])
    part["split"] = np.where(part["patient"].isin(val), "val", "test")
    return part[COLUMNS].sort_values(["split", "image"]).reset_index(drop=True)


def box_masks(boxes: pd.DataFrame, images: list[str], sizes: pd.DataFrame, size: int) -> np.ndarray:
    """``(N, size, size)`` truth masks: the union of each image's boxes, scaled to the cache."""
    out = np.zeros((len(images), size, size), bool)
    position = {name: i for i, name in enumerate(images)}
    for row in boxes.itertuples(index=False):
        sx, sy = size / sizes.loc[row.image, "width"], size / sizes.loc[row.image, "height"]
        x0, y0 = int(np.floor(row.x * sx)), int(np.floor(row.y * sy))
        x1, y1 = int(np.ceil((row.x + row.w) * sx)), int(np.ceil((row.y + row.h) * sy))
        out[position[row.image], max(y0, 0) : min(y1, size), max(x0, 0) : min(x1, size)] = True
    return out
