"""How much lung Dice the U-Net's input size costs by itself: every true mask letterboxed to
each size and restored to its image's size the way predictions are (bilinear, > 0.5), scored
against itself; and what a boundary one pixel off at that size costs (the letterboxed mask
eroded or dilated by one pixel before it is restored). Prints the figures; writes them to --out.

    python bench/lung_resolution.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from cxrloc.atomic import atomic_write_json
from cxrloc.data.letterbox import Letterbox
from PIL import Image
from provenance import stamp
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]


def restored_dice(truth: np.ndarray, size: int, grow: int = 0) -> float:
    """Dice of the mask letterboxed to ``size``, grown (``grow`` > 0) or shrunk (< 0) by one pixel
    there, restored to its own size, against itself."""
    box = Letterbox(*truth.shape, size)
    square = box.fit(truth.astype(np.uint8) * 255).astype(np.float32) / 255
    if grow:
        square = (ndimage.binary_dilation if grow > 0 else ndimage.binary_erosion)(square > 0.5).astype(np.float32)
    restored = box.restore(square) > 0.5
    return float(2 * (restored & truth).sum() / max(restored.sum() + truth.sum(), 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--masks", type=Path, default=ROOT.parent / "shared/data/real-lungs/masks")
    ap.add_argument("--sizes", type=int, nargs="+", default=[96, 128, 160, 256])
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/lung_resolution.json")
    a = ap.parse_args()
    truths = [np.asarray(Image.open(p).convert("L")) > 127 for p in sorted(a.masks.glob("*.png"))]
    report = {}
    for size in a.sizes:
        dice = np.array([restored_dice(t, size) for t in truths])
        report[size] = {"dice_mean": float(dice.mean()), "dice_p10": float(np.percentile(dice, 10)),
                        "dice_min": float(dice.min()), "masks": len(dice),
                        "one_pixel_in_dice_mean": float(np.mean([restored_dice(t, size, -1) for t in truths])),
                        "one_pixel_out_dice_mean": float(np.mean([restored_dice(t, size, 1) for t in truths]))}
    atomic_write_json(a.out, {**stamp(), **report})
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
