"""One training job at the scale of NIH `ne` (4,746 training and 1,582 validation images
at 224 px): prints wall time per epoch and images/s. Real NIH images are not needed for a
timing: the images are synthetic radiographs drawn once (or random pixels with --random).

    python bench/train_scale.py --device cuda --backbone pvt_v2_b2_li --epochs 100
    python bench/train_scale.py --backbone resnet18 --size 64 --train 400 --val 100 --epochs 2   # CPU
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from cxrloc.attention import ADAPTIVE, AttentionConfig
from cxrloc.data import SplitData
from cxrloc.synthetic import draw
from cxrloc.train import RunSpec, TrainConfig, train


def split(n: int, size: int, seed: int, random: bool) -> SplitData:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    if random:
        images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    else:
        images = np.stack([(draw(np.random.default_rng([seed, i]), size, ["Effusion" if y else "No Finding"], 1.0,
                                 False).image * 255).astype(np.uint8) for i, y in enumerate(labels)])
    box = [size // 8, size // 8, 3 * size // 4, 3 * size // 4]
    masks = torch.zeros(n, 64, 64, dtype=torch.uint8)
    masks[:, 8:56, 8:56] = 1
    return SplitData([f"{i}.png" for i in range(n)], torch.from_numpy(images), torch.from_numpy(labels),
                     torch.tensor([box] * n), masks, None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="pvt_v2_b2_li")
    ap.add_argument("--lamda", default=ADAPTIVE)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--train", type=int, default=4746)
    ap.add_argument("--val", type=int, default=1582)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--random", action="store_true", help="random pixels instead of synthetic radiographs")
    ap.add_argument("--out", default="results/bench/train_scale.json")
    a = ap.parse_args()
    tic = time.time()
    tr, va = split(a.train, a.size, 0, a.random), split(a.val, a.size, 1, a.random)
    print(f"data ready in {time.time() - tic:.0f} s")
    lam = ADAPTIVE if a.lamda == ADAPTIVE else float(a.lamda)
    cfg = replace(TrainConfig(), epochs=a.epochs, early_stop=a.epochs, batch_size=a.batch, device=a.device,
                  threads=a.threads)
    spec = RunSpec("bench", "ne", a.backbone, lam, 0.5, 0, cfg, AttentionConfig())
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.time()
        hist = train(spec, tr, va, Path(tmp))
        wall = time.time() - tic
    machine = torch.cuda.get_device_name() if a.device.startswith("cuda") else f"CPU, {a.threads} threads"
    result = {"backbone": a.backbone, "lambda": a.lamda, "size": a.size, "train": a.train, "val": a.val,
              "epochs": len(hist), "wall_s": wall, "s_per_epoch_median": float(hist["seconds"].median()),
              "train_images_per_s_median": float(hist["images_per_s"].median()), "machine": machine}
    print(json.dumps(result, indent=2))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
