"""Public radiograph sets with lung masks, laid out for U-Net training (images/ + masks/)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..atomic import atomic_dir


def montgomery(archive: Path, out: Path) -> int:
    """NLM's Montgomery County set: ``CXR_png/*.png`` with left and right lung masks, merged."""
    with zipfile.ZipFile(archive) as z, atomic_dir(out) as tmp:
        (tmp / "images").mkdir()
        (tmp / "masks").mkdir()
        names = [n for n in z.namelist() if "/CXR_png/" in n and n.endswith(".png")]
        for name in tqdm(names, desc="Montgomery", unit="img"):
            stem = Path(name).name
            left = name.replace("CXR_png", "ManualMask/leftMask")
            right = name.replace("CXR_png", "ManualMask/rightMask")
            with z.open(left) as a, z.open(right) as b:
                mask = (np.asarray(Image.open(a).convert("L")) > 127) | (np.asarray(Image.open(b).convert("L")) > 127)
            with z.open(name) as f:
                Image.open(f).convert("L").save(tmp / "images" / stem)
            Image.fromarray(mask.astype(np.uint8) * 255).save(tmp / "masks" / stem)
    return len(names)
