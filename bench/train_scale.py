"""One training job at the scale of NIH `ne` (4,746 training and 1,582 validation images
at 224 px), once per training step (eager, CUDA graph): prints wall time, time per epoch,
images/s and the share of a step the GPU is busy (from the profiler). Real NIH images are
not needed for a timing: the images are synthetic radiographs drawn once (or random pixels
with --random).

    python bench/train_scale.py --device cuda --backbone pvt_v2_b2_li --epochs 100 --eager-epochs 5
    python bench/train_scale.py --backbone resnet18 --size 64 --train 400 --val 100 --epochs 2 --steps eager  # CPU
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from cxrloc.data.synthetic import draw
from cxrloc.schedule import ADAPTIVE
from cxrloc.tasks import BUILTIN
from cxrloc.train.inference import build_model
from cxrloc.train.job import train
from cxrloc.train.run import RunSpec, resolve_run
from cxrloc.train.splitdata import SplitData
from cxrloc.train.step import GRAPH_WARMUP_STEPS, Steps, StepSettings, optimizer, resident
from provenance import stamp


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


def busy_share(spec: RunSpec, data: SplitData, graph: bool, steps: int = 20) -> dict:
    """Wall time per step and the share of it the GPU is busy (union of kernel intervals over the
    profiled window), over ``steps`` attention steps after warm-up and capture."""
    from torch.profiler import ProfilerActivity, profile

    device = torch.device("cuda")
    model, layer = build_model(spec, device)
    model.train()
    opt = optimizer(model.parameters(), spec.train.lr, device, graph)
    run = Steps(model, layer, opt, StepSettings.of(spec, graph), resident(data, device), device)
    batches = [b for b in run.epoch_order(torch.randperm(len(data))) if len(b) == spec.train.batch_size]
    for idx in batches[: GRAPH_WARMUP_STEPS + 2]:
        run(idx, 0.5)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        tic = time.perf_counter()
        for idx in batches[GRAPH_WARMUP_STEPS + 2 : GRAPH_WARMUP_STEPS + 2 + steps]:
            run(idx, 0.5)
        torch.cuda.synchronize()
        wall = time.perf_counter() - tic
    spans = sorted((e.time_range.start, e.time_range.end) for e in prof.events()
                   if e.device_type == torch.autograd.DeviceType.CUDA)
    busy, end = 0.0, -float("inf")
    for start, stop in spans:
        busy += max(0.0, stop - max(start, end))
        end = max(end, stop)
    window = (spans[-1][1] - spans[0][0]) if spans else float("nan")
    return {"s_per_step": wall / steps, "gpu_busy_share": busy / window if spans else None,
            "kernels_seen": len(spans)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="pvt_v2_b2_li")
    ap.add_argument("--lambda", dest="lam", default=ADAPTIVE)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--train", type=int, default=4746)
    ap.add_argument("--val", type=int, default=1582)
    ap.add_argument("--epochs", type=int, default=100, help="epochs of the graph step")
    ap.add_argument("--eager-epochs", type=int, help="epochs of the eager step (default: --epochs)")
    ap.add_argument("--steps", nargs="+", default=["eager", "graph"], choices=["eager", "graph"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--random", action="store_true", help="random pixels instead of synthetic radiographs")
    ap.add_argument("--out", default="results/bench/train_scale.json")
    a = ap.parse_args()
    tic = time.time()
    tr, va = split(a.train, a.size, 0, a.random), split(a.val, a.size, 1, a.random)
    print(f"data ready in {time.time() - tic:.0f} s")
    cuda = a.device.startswith("cuda")
    machine = torch.cuda.get_device_name() if cuda else f"CPU, {a.threads} threads"
    results = {"backbone": a.backbone, "lambda": a.lam, "size": a.size, "train": a.train, "val": a.val,
               "batch": a.batch, "machine": machine, "torch": torch.__version__, "steps": {}}
    for mode in a.steps:
        epochs = a.epochs if mode == "graph" else (a.eager_epochs or a.epochs)
        spec = resolve_run("bench", BUILTIN["ne"], a.backbone, a.lam, 0.5, 0, {}, epochs=epochs, early_stop=epochs,
                           batch_size=a.batch, device=a.device, threads=a.threads, cuda_graph=mode == "graph")
        with tempfile.TemporaryDirectory() as tmp:
            tic = time.time()
            hist = train(spec, tr, va, Path(tmp), {"bench": "synthetic" if not a.random else "random"})
            wall = time.time() - tic
        row = {"epochs": len(hist), "wall_s": wall, "s_per_epoch_median": float(hist["seconds"].median()),
               "train_images_per_s_median": float(hist["images_per_s"].median()),
               "s_per_100_epochs_estimate": float(hist["seconds"].median()) * 100}
        if cuda:
            row.update(busy_share(spec, tr, mode == "graph"))
        results["steps"][mode] = row
        print(mode, json.dumps(row), flush=True)
    print(json.dumps(results, indent=2))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({**stamp(machine), **results}, indent=2))


if __name__ == "__main__":
    main()
