"""Does an implanted effusion move its own target region? The same held-out films with and without
the finding, segmented by the lung U-Net trained without and with ``unet.opacities`` (films given
a basal opacity while their masks stay as they are), as the pipeline does it: films letterboxed
to the implant size, shrunk to the cache size, lung masks by ``inference.square_masks``, the lower
half of the lung box as effusion's region. Prints and writes, per U-Net: its held-out Dice, how
far the lung box moves when the finding is added (bottom, height, width, in % of the image side),
and the share of the finding inside the region computed on the film with the finding and on the
same film without it; and the same share for the true masks' region. By default on the 218 real
films of ../shared/data/real-lungs (read in place).

    python bench/finding_region.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from cxrloc.atomic import atomic_write_json
from cxrloc.config import EffusionConfig, UNetConfig
from cxrloc.data.effusion import draw, implant
from cxrloc.data.imagecache import read_gray
from cxrloc.data.letterbox import Letterbox
from cxrloc.lungs.boxes import lung_box
from cxrloc.lungs.coverage import share_inside
from cxrloc.lungs.inference import square_masks
from cxrloc.lungs.regions import box_regions
from cxrloc.lungs.unet import load
from cxrloc.lungs.unet_training import train_unet
from cxrloc.tasks import KINDS
from PIL import Image
from provenance import stamp

ROOT = Path(__file__).resolve().parents[1]


def shrink(square: np.ndarray, size: int, resample) -> np.ndarray:
    return np.asarray(Image.fromarray(square).resize((size, size), resample))


def films_with_and_without(root: Path, names: list[str], implant_size: int, size: int, draws: int) -> dict:
    """For each film and draw: the film without and with an effusion, the fluid and the true mask, at
    the cache ``size`` (the implant size first, as the implanted source writes them)."""
    out = {"plain": [], "with": [], "lesion": [], "truth": []}
    for i, name in enumerate(names):
        gray, mask = read_gray(root / "images" / name), read_gray(root / "masks" / name) > 127
        fit = Letterbox(*gray.shape, implant_size)
        gray, lungs = fit.fit(gray), fit.fit(mask.astype(np.uint8) * 255) > 127
        for k in range(draws):
            opacity, lesion = draw(lungs, np.random.default_rng([i, k]), EffusionConfig())
            out["plain"].append(shrink(gray, size, Image.Resampling.BILINEAR))
            out["with"].append(shrink(implant(gray, opacity), size, Image.Resampling.BILINEAR))
            out["lesion"].append(shrink(lesion.astype(np.uint8) * 255, size, Image.Resampling.NEAREST) > 127)
            out["truth"].append(shrink(lungs.astype(np.uint8) * 255, size, Image.Resampling.NEAREST) > 127)
    return {k: np.stack(v) for k, v in out.items()}


def lower_regions(masks: list[np.ndarray], size: int) -> tuple[np.ndarray, torch.Tensor]:
    """The lung boxes of masks and the lower halves of those boxes (effusion's target region)."""
    boxes = torch.tensor([lung_box(m) for m in masks], dtype=torch.int64)
    return boxes.numpy(), box_regions(boxes, torch.full((len(masks),), KINDS.index("lower")), size)


def coverage(share: torch.Tensor) -> dict:
    s = share.numpy()
    return {"mean": round(float(s.mean()), 3), "p10": round(float(np.percentile(s, 10)), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=ROOT.parent / "shared/data/real-lungs",
                    help="images/, masks/ and labels.csv (id, patient)")
    ap.add_argument("--unet-size", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--implant-size", type=int, default=256, help="source.implanted.image_size")
    ap.add_argument("--size", type=int, default=96, help="the cache size (image_size) the regions are computed at")
    ap.add_argument("--draws", type=int, default=4, help="effusions per held-out film")
    ap.add_argument("--opacities", type=float, nargs="+", default=[0.0, 0.5], help="the U-Nets compared")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/finding_region.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device("cpu")
    result = {**stamp(), "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()}}
    with tempfile.TemporaryDirectory() as tmp:
        for rate in a.opacities:
            cfg = UNetConfig(decoder_channels=(128, 64, 32, 16, 8), image_size=a.unet_size, epochs=a.epochs, batch_size=8,
                             lr=2e-3, postprocess=True, opacities=rate)
            tic = time.time()
            report, data, test, _ = train_unet(a.root / "images", a.root / "masks", cfg, Path(tmp) / "unet.pt", device,
                                               a.root / "labels.csv")
            seconds = time.time() - tic
            films = films_with_and_without(a.root, [data.names[i] for i in test], a.implant_size, a.size, a.draws)
            model, unet_size, _ = load(Path(tmp) / "unet.pt", device)
            boxes, regions = {}, {}
            for key in ("plain", "with"):
                boxes[key], regions[key] = lower_regions(square_masks(model, unet_size, films[key], device, True), a.size)
            lesion = torch.from_numpy(films["lesion"])
            _, _, w, h = (boxes["with"] - boxes["plain"]).T * 100 / a.size
            bottom = (boxes["with"][:, 1] + boxes["with"][:, 3] - boxes["plain"][:, 1] - boxes["plain"][:, 3]) * 100 / a.size
            result[f"opacities_{rate:g}"] = {
                "dice_mean": round(report["dice_mean"], 3), "dice_p10": round(report["dice_p10"], 3),
                "train_seconds": round(seconds), "films": len(test), "pairs": len(lesion),
                "box_change_pct_of_side": {"bottom": round(float(bottom.mean()), 2), "height": round(float(h.mean()), 2),
                                           "width": round(float(w.mean()), 2)},
                "finding_inside_region_with_finding": coverage(share_inside(lesion, regions["with"])),
                "finding_inside_region_without_finding": coverage(share_inside(lesion, regions["plain"])),
            }
            print(json.dumps({f"opacities_{rate:g}": result[f"opacities_{rate:g}"]}), flush=True)
    result["true_masks"] = {"finding_inside_region": coverage(share_inside(lesion, lower_regions(list(films["truth"]),
                                                                                                 a.size)[1]))}
    atomic_write_json(a.out, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
