"""The lung U-Net on real radiographs: trained on the training patients of a real set (by
default the 218 films of ../shared/data/real-lungs, read in place), scored per image on the
held-out patients at each image's own size; the training films are scored the same way, to
tell a model that does not fit its own films from one that does not generalize. Prints the
figures; writes them to --out.

    python bench/lung_unet.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from cxrloc.atomic import atomic_write_json
from cxrloc.config import UNetConfig
from cxrloc.lungs.quality import worst_cases
from cxrloc.lungs.unet import load
from cxrloc.lungs.unet_training import score_images, train_unet
from cxrloc.report.figures import segmentations
from provenance import stamp

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=ROOT.parent / "shared/data/real-lungs",
                    help="images/, masks/ and labels.csv (id, patient)")
    ap.add_argument("--encoder", default="resnet18")
    ap.add_argument("--decoder", type=int, nargs=5, default=[128, 64, 32, 16, 8], help="decoder channels")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=42, help="epochs at --size")
    ap.add_argument("--progressive", nargs="*", default=[], metavar="SIZE:EPOCHS",
                    help="epochs at smaller sizes first (unet.progressive), e.g. 64:30 96:20")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--no-augment", dest="augment", action="store_false", help="train on the films as they are")
    ap.add_argument("--no-postprocess", dest="postprocess", action="store_false",
                    help="score the thresholded masks as they are (default: two largest components, holes filled)")
    ap.add_argument("--encoder-weights", type=Path,
                    help="start the encoder from pretrained weights (a file of `cxrloc fetch-weights --unet-encoder`)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = UNetConfig(encoder=a.encoder, decoder_channels=tuple(a.decoder), image_size=a.size, epochs=a.epochs,
                     batch_size=a.batch, lr=a.lr, held_out=0.2, augment=a.augment, postprocess=a.postprocess,
                     progressive=tuple(tuple(map(int, stage.split(":"))) for stage in a.progressive))
    with tempfile.TemporaryDirectory() as tmp:
        report, data, test, pred = train_unet(a.root / "images", a.root / "masks", cfg, Path(tmp) / "unet.pt",
                                              torch.device("cpu"), a.root / "labels.csv", a.encoder_weights)
        model, *_ = load(Path(tmp) / "unet.pt", torch.device("cpu"))
        fit, _ = score_images(model, data, np.setdiff1d(np.arange(len(data)), test), torch.device("cpu"), a.postprocess)
    report["training_films"] = {k: v for k, v in fit.items() if k != "per_image"}
    atomic_write_json(a.out / "lung_unet.json", {**stamp(), **report})
    segmentations(worst_cases(report, data, test, pred, a.root / "images"), a.out / "lung_unet_worst.png")
    shown = {k: v for k, v in report.items() if k != "per_image"}
    print(json.dumps(shown, indent=1))


if __name__ == "__main__":
    main()
