"""Images/s of one epoch read from the image cache against decoding the PNGs, as training
would read them (NIH-sized 1024 px PNGs, resized to the training size).

    python bench/image_cache.py --n 200 --size 224
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from cxrloc.data.imagecache import build_cache, load_gray
from cxrloc.data.synthetic import draw
from PIL import Image
from provenance import stamp


def write_pngs(folder: Path, n: int, source: int) -> list[str]:
    names = []
    for i in range(n):
        img = draw(np.random.default_rng(i), source // 2, ["No Finding"], 1.0, False).image
        Image.fromarray((img * 255).astype(np.uint8)).resize((source, source), Image.Resampling.BILINEAR).save(
            folder / f"{i:05d}.png")
        names.append(f"{i:05d}.png")
    return names


def epoch_from_pngs(folder: Path, names: list[str], size: int, batch: int) -> float:
    tic = time.perf_counter()
    for i in range(0, len(names), batch):
        torch.from_numpy(np.stack([load_gray(folder / n, size) for n in names[i : i + batch]]))
    return len(names) / (time.perf_counter() - tic)


def epoch_from_cache(cache, size: int, batch: int) -> float:
    images = cache.images()
    order = np.random.default_rng(0).permutation(len(images))
    tic = time.perf_counter()
    for i in range(0, len(order), batch):
        torch.from_numpy(np.ascontiguousarray(images[np.sort(order[i : i + batch])]))
    return len(order) / (time.perf_counter() - tic)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--source", type=int, default=1024, help="PNG side in pixels (NIH: 1024)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out", default="results/bench/image_cache.json")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "png"
        folder.mkdir()
        names = write_pngs(folder, a.n, a.source)
        cache = build_cache(names, folder, Path(tmp) / "cache", a.size)
        png = epoch_from_pngs(folder, names, a.size, a.batch)
        cached = epoch_from_cache(cache, a.size, a.batch)
    result = {"images": a.n, "png_side": a.source, "size": a.size, "png_images_per_s": png,
              "cache_images_per_s": cached, "speedup": cached / png}
    print(f"one epoch of {a.n} images ({a.source} px PNG → {a.size} px): decoding {png:.0f} images/s, "
          f"cache {cached:.0f} images/s, {cached / png:.0f}× faster")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({**stamp(), **result}, indent=2))


if __name__ == "__main__":
    main()
