"""Segment a folder of one's own radiographs with a trained lung U-Net, for quality control:
each image's lung mask (PNG, at the image's own size), its lung box and flags (one CSV), and
an overlay grid of the most implausible masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from ..atomic import atomic_path, merged_dir
from ..data.imagecache import read_gray
from ..data.letterbox import Letterbox
from .boxes import FLAGS, flags, lung_box
from .inference import final_mask, probabilities
from .segset import check_distinct, check_outside, image_names
from .unet import load


def _write_png(mask: np.ndarray, path: Path) -> None:
    Image.fromarray(mask.astype(np.uint8) * 255).save(path, format="PNG")


def mask_path(out: Path, name: str) -> Path:
    return out / "masks" / f"{Path(name).stem}.png"


def segment_folder(checkpoint: Path, images: Path, out: Path, device: torch.device, batch: int = 16,
                   postprocess: bool = False) -> pd.DataFrame:
    """Masks of every film below ``images`` into ``out/masks/<stem>.png`` and ``out/boxes.csv`` (``image,
    x, y, w, h`` in the image's pixels, and the flags); returns the table. All or nothing: a bad film
    leaves the masks and boxes of an earlier run as they were; files of ``out/masks`` it does not
    write are kept. ``postprocess``: see ``inference.final_mask``."""
    check_outside(out, images)
    model, size, _ = load(checkpoint, device)
    names = image_names(images, recursive=True)
    check_distinct(names, images, lambda name: Path(name).stem, "masks")
    rows = []
    with merged_dir(out / "masks") as masks:
        for start in tqdm(range(0, len(names), batch), desc="segment lungs", unit="batch"):
            chunk = names[start : start + batch]
            grays = [read_gray(images / n) for n in chunk]
            fits = [Letterbox(*g.shape, size) for g in grays]
            prob = probabilities(model, torch.from_numpy(np.stack([b.fit(g) for b, g in zip(fits, grays)])),
                                 device).numpy()
            for name, box, p in zip(chunk, fits, prob):
                mask = final_mask(box.restore(p), postprocess)
                _write_png(mask, masks / mask_path(out, name).name)
                x, y, w, h = lung_box(mask)
                rows.append({"image": name, "x": x, "y": y, "w": w, "h": h, **flags(mask)})
        table = pd.DataFrame(rows, columns=["image", "x", "y", "w", "h", *FLAGS])
        with atomic_path(out / "boxes.csv") as tmp:
            table.to_csv(tmp, index=False)
    return table


def most_implausible(table: pd.DataFrame, images: Path, out: Path, n: int = 16) -> list:
    """The ``n`` images with the most flags (then in name order) with their written masks, for
    ``figures.segmentations``."""
    order = table[list(FLAGS)].sum(axis=1).sort_values(ascending=False, kind="stable").index[:n]
    cases = []
    for i in order:
        name = table.loc[i, "image"]
        flagged = ",".join(f for f in FLAGS if table.loc[i, f]) or "ok"
        cases.append((f"{name[:18]}\n{flagged}", read_gray(images / name), None, read_gray(mask_path(out, name)) > 127))
    return cases
