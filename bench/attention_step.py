"""Time one training step: plain cross-entropy, our batched differentiable loss, and the
original's per-sample procedure (a deep copy of the model and pytorch-grad-cam per image,
plus a U-Net pass at 512×512 per image). Interleaved repeats, medians; prints a table and
writes JSON with the ratios.

    python bench/attention_step.py                      # CPU: resnet18, pvt_v2_b0 at 128 px, batch 8
    python bench/attention_step.py --device cuda --size 224 --batch 32 \
        --backbones pvt_v2_b2_li vgg16.tv_in1k resnet50.tv_in1k
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from cxrloc.lungs.boxes import lung_box
from cxrloc.lungs.regions import box_regions
from cxrloc.objectives import get
from cxrloc.train.attention import AttentionConfig, objective_loss
from cxrloc.train.cam import capture
from cxrloc.train.models import create
from provenance import stamp
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def ce_step(model, layer, opt, x, y, boxes, kinds, unet):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


def ours_step(model, layer, opt, x, y, boxes, kinds, unet):
    with capture(layer) as seen:
        logits = model(x)
    parts = objective_loss(get("soft"), logits, seen[-1], y, lambda labels: box_regions(boxes, kinds[labels], x.shape[-1]),
                           0.5, 0.5, AttentionConfig(mode="soft"))
    opt.zero_grad()
    parts.loss.backward()
    opt.step()


def original_step(model, layer, opt, x, y, boxes, kinds, unet):
    """As published: CE on the batch, then per sample a model copy, a numpy Grad-CAM, a U-Net pass."""
    logits = model(x)
    ce = F.cross_entropy(logits, y, reduction="none")
    att = []
    layer_name = next(n for n, m in model.named_modules() if m is layer)
    for i in range(len(x)):
        twin = copy.deepcopy(model)
        cam = GradCAM(model=twin, target_layers=[twin.get_submodule(layer_name)])(
            input_tensor=x[i : i + 1], targets=[ClassifierOutputTarget(int(logits[i].argmax()))])[0]
        with torch.no_grad():
            rgb = F.interpolate(((x[i : i + 1] + 1) / 2), size=(512, 512), mode="bilinear")
            mask = (unet(rgb).sigmoid() > 0.5)[0, 0].float()
        mask = F.interpolate(mask[None, None], size=x.shape[-2:], mode="nearest")[0, 0].cpu().numpy() > 0
        bx, by, bw, bh = lung_box(mask)
        region = cam[int(by + bh / 2) : by + bh, bx : bx + bw]
        ratio = (region > 0.5).sum() / max(region.size, 1)
        att.append((1 - ratio) * float(y[i]))
    loss = (0.5 * ce + 0.5 * torch.tensor(att, device=x.device)).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


STEPS = {"cross-entropy": ce_step, "ours (soft)": ours_step, "original": original_step}


def bench(name, size, batch, repeats, device) -> dict:
    torch.manual_seed(0)
    model, layer = create(name, 2)
    model = model.to(device).train()
    unet = smp.Unet("resnet34", encoder_weights=None, classes=1).to(device).eval()
    opt = torch.optim.Adam(model.parameters(), 1e-5)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.arange(batch, device=device) % 2
    boxes = torch.tensor([[size // 8, size // 8, 3 * size // 4, 3 * size // 4]] * batch, device=device)
    kinds = torch.tensor([0, 1], device=device)
    times = {k: [] for k in STEPS}
    for r in range(repeats + 1):
        for label, step in STEPS.items():
            sync(device)
            tic = time.perf_counter()
            step(model, layer, opt, x, y, boxes, kinds, unet)
            sync(device)
            if r:
                times[label].append(time.perf_counter() - tic)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"backbone": name, "size": size, "batch": batch, "repeats": repeats, "median_s": med,
            "ours_over_ce": med["ours (soft)"] / med["cross-entropy"],
            "original_over_ours": med["original"] / med["ours (soft)"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbones", nargs="+", default=["resnet18", "pvt_v2_b0"])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--out", default="results/bench/attention_step.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    cpu = f"{platform.processor() or platform.machine()}, {a.threads} threads"
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu
    rows = [bench(b, a.size, a.batch, a.repeats, device) for b in a.backbones]
    print(f"\nattention step, {a.size} px, batch {a.batch}, median of {a.repeats} interleaved repeats on {machine}\n")
    print("| backbone | cross-entropy s | ours (soft) s | original s | ours / CE | original / ours |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        m = r["median_s"]
        print(f"| {r['backbone']} | {m['cross-entropy']:.3f} | {m['ours (soft)']:.3f} | {m['original']:.3f} "
              f"| {r['ours_over_ce']:.2f}× | {r['original_over_ours']:.1f}× |")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({**stamp(machine), "torch": torch.__version__, "rows": rows}, indent=2))
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
