"""How good the lung masks are, for people: the U-Net's worst held-out images and the precache
report's counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.imagecache import read_gray
from .segset import Segset


def worst_cases(report: dict, data: Segset, test: np.ndarray, pred: list[np.ndarray], images: Path,
                n: int = 8) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """The ``n`` held-out images of lowest Dice, for ``figures.segmentations``."""
    dice = [report["per_image"][data.names[i]] for i in test]
    return [(f"{data.names[test[k]][:18]}\nDice {dice[k]:.3f}", read_gray(images / data.names[test[k]]),
             data.truth[test[k]], pred[k]) for k in np.argsort(dice, kind="stable")[:n]]


def quality_table(report: dict) -> str:
    """The precache report's counts as an HTML table: images, each flag, images/s."""
    rows = {"images": report["images"], **{f"flagged {k}": v for k, v in report["flags"].items()},
            "images/s": f"{report['images_per_s']:.0f}"}
    return pd.DataFrame({"count": rows}).rename_axis("lung masks").to_html()
