"""Evaluate one trained run: metrics with bootstrap intervals on val and test, and CAM
localization against true lesion masks when the source has them. Writes one JSON."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..atomic import atomic_path, atomic_write_json
from ..data.imagecache import ImageCache
from ..data.marker import Markers
from ..device import gpu_slot
from ..lungs.regions import kinds_for, target_regions
from ..tasks import Task
from .cam import grad_cam
from .inference import load_trained, predict_proba
from .localization import best_threshold, dilate, energy_inside, pointing_game, scores, tolerance_px
from .metrics import auc, bootstrap_ci, point_metrics
from .results import SCHEMA_VERSION
from .run import RunSpec
from .splitdata import SplitData, mask_lungs, normalize

if TYPE_CHECKING:
    import pandas as pd


def true_class_cams(model, layer, data: SplitData, device, batch: int = 32) -> torch.Tensor:
    """Grad-CAM of the true class of every positive image of a split, on the CPU."""
    pos = torch.nonzero(data.labels > 0).squeeze(1)
    out = []
    for idx in pos.split(batch):
        x = normalize(data.images[idx].to(device))
        out.append(grad_cam(model, layer, x, data.labels[idx].to(device)).cpu())
    return torch.cat(out) if out else torch.zeros(0, *data.images.shape[1:])


def marked(data: SplitData, markers: Markers) -> torch.Tensor:
    """Per sample of a split: whether its image carries the synthetic confounder."""
    return torch.from_numpy(markers.carries(data.names))


def marker_spots(names: list[str], markers: Markers, size: int) -> torch.Tensor:
    """``(N, size, size)`` boolean masks of where each image's cue lies."""
    return torch.from_numpy(np.stack([markers.spot(name, size) for name in names]))


def with_marker(data: SplitData, markers: Markers) -> SplitData:
    """The split with the confounder pasted into every image, at that image's own place."""
    images = np.stack([markers.paste(name, image) for name, image in zip(data.names, data.images.numpy())])
    return dataclasses.replace(data, images=torch.from_numpy(images))


def shortcut_use(model, layer, test: SplitData, markers: Markers, device, spec: RunSpec) -> dict:
    """How a model uses the confounder on the shifted test: paste it into the marker-free
    images (how many predictions flip, how far the positive-class probability moves; 0, 0 for
    a model that ignores it), its AUC on those marker-free images alone (what it kept of the
    finding itself), and where the CAMs of positives that carry it look (their share of energy
    on the cue, and how often their maximum points at it; not for a cue over the whole film)."""
    has = marked(test, markers)
    result: dict = {"n": int((~has).sum())}
    if (~has).any():
        clean = test.take(torch.nonzero(~has).squeeze(1))
        pasted = with_marker(clean, markers)
        if spec.objective.mask_input:  # the film with the marker pasted, then masked (both alike)
            clean, pasted = (mask_lungs(d, spec.attention.mask_margin, spec.attention.fill) for d in (clean, pasted))
        p0 = predict_proba(model, clean, device)
        p1 = predict_proba(model, pasted, device)
        result.update(flip_rate=float((p0.argmax(1) != p1.argmax(1)).mean()),
                      delta_p_positive=float((p1[:, 1:].sum(1) - p0[:, 1:].sum(1)).mean()),
                      auc_unmarked=auc(clean.labels.numpy(), p0))
    positives = test.take(torch.nonzero(has & (test.labels > 0)).squeeze(1))
    if len(positives) and markers.local:
        cams = true_class_cams(model, layer, positives, device)
        spot = marker_spots(positives.names, markers, cams.shape[-1])
        tol = tolerance_px(cams.shape[-1])
        result.update(n_marked_positives=len(positives),
                      cam_energy_marker=energy_inside(cams, dilate(spot, tol)).mean().item(),
                      points_at_marker=pointing_game(cams, spot, tol).mean().item())
    return result


def save_examples(model, layer, test: SplitData, device, out: Path, markers: Markers | None = None, k: int = 4) -> None:
    """CAMs of ``k`` test positives (the same images in every run of a task) with the images the
    model saw (a masked run's lungs alone), for figures: the first ones, or half with the
    confounder and half without when the set has one."""
    pos = test.labels > 0
    if markers is None:
        pick = torch.nonzero(pos).squeeze(1)[:k]
    else:
        has = marked(test, markers)
        pick = torch.cat([torch.nonzero(pos & has).squeeze(1)[: k // 2], torch.nonzero(pos & ~has).squeeze(1)[: k - k // 2]])
    x = normalize(test.images[pick].to(device))
    cams = grad_cam(model, layer, x, test.labels[pick].to(device)).cpu().numpy().astype(np.float16)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, image=np.array([test.names[i] for i in pick]), cam=cams, seen=test.images[pick].numpy())


def tuned_scores(v_cams, v_truth, t_cams, t_truth) -> dict:
    """Scores on test with the binarization threshold tuned on val; maps with empty truth are skipped."""
    keep_v = v_truth.flatten(1).any(1)
    return scored(t_cams, t_truth, best_threshold(v_cams[keep_v], v_truth[keep_v]) if keep_v.any() else 0.5)


def scored(cams, truth, thresh: float) -> dict:
    """``localization.scores`` of the maps whose truth is not empty."""
    keep = truth.flatten(1).any(1)
    return scores(cams[keep], truth[keep], thresh)


def lesion_localization(model, layer, val: SplitData | None, test: SplitData, device, task: Task,
                        thresh: float | None = None, region: str = "box") -> dict | None:
    """Against the true lesion masks of the split's positives (synthetic and implanted sets), the IoU
    threshold tuned on val (or ``thresh``: an external set takes its run's); and the share of CAM
    energy inside the target region the run trained on (``attention.region``: the lung box's part,
    or the lung mask's)."""
    if test.lesions is None or (val is not None and val.lesions is None):
        return None
    t_cams = true_class_cams(model, layer, test, device)
    t_truth = test.lesions[test.labels > 0] > 0
    if val is not None:
        result = tuned_scores(true_class_cams(model, layer, val, device), val.lesions[val.labels > 0] > 0, t_cams, t_truth)
    else:
        result = scored(t_cams, t_truth, 0.5 if thresh is None else thresh)
    positives = test.labels > 0
    regions = target_regions(region, test.boxes[positives], kinds_for(task)[test.labels[positives]], t_cams.shape[-1],
                             test.lung_masks[positives])
    return result | {"energy_in_region": energy_inside(t_cams, regions).mean().item()}


def box_localization(model, layer, locset: pd.DataFrame, cache: ImageCache, device) -> dict:
    """Against radiologist boxes (NIH): threshold tuned on the set's val half, scored on its test half."""
    from ..data.locset import box_masks
    halves = []
    for split in ("val", "test"):
        part = locset[locset["split"] == split]
        names = list(dict.fromkeys(part["image"]))
        labels = torch.tensor(part.drop_duplicates("image").set_index("image").loc[names, "label"].to_numpy())
        images = torch.from_numpy(np.ascontiguousarray(cache.images()[cache.rows(names)]))
        data = SplitData(names, images, labels, torch.zeros(len(names), 4, dtype=torch.long),
                         torch.zeros(len(names), 1, 1, dtype=torch.uint8), None)
        truth = torch.from_numpy(box_masks(part, names, cache.sizes, images.shape[-1]))
        halves += [true_class_cams(model, layer, data, device), truth]
    return tuned_scores(*halves)


def evaluate(spec: RunSpec, checkpoint: Path, val: SplitData | None, test: SplitData, out: Path,
             n_bootstrap: int = 200, locset: pd.DataFrame | None = None, cache: ImageCache | None = None,
             markers: Markers | None = None, test_iid: SplitData | None = None, external: str | None = None,
             iou_threshold: float | None = None) -> dict:
    """The run's metrics JSON: on its own val, test (and test_iid), or, for an ``external`` set (no
    val), on that set alone with the CAM threshold its run chose on its own val (``iou_threshold``). Runs
    on a GPU of its own (``device.gpu_slot``)."""
    with gpu_slot(spec.train.device) as device:
        torch.set_num_threads(spec.train.threads)
        tic = time.time()
        model, layer, ckpt = load_trained(checkpoint, spec, device)
        run = {"dataset": spec.dataset, "task": spec.task.name, "classes": list(spec.task.classes),
               "backbone": spec.backbone, "lambda": spec.schedule.key, "thresh": spec.thresh, "seed": spec.seed,
               "objective": spec.objective.name, "warmup": spec.train.warmup_epochs, "best_epoch": ckpt.get("best_epoch"),
               "patients": spec.train.patients}
        result = {"schema": SCHEMA_VERSION, "run": run, "external": external}
        for name, data in (("val", val), ("test", test), ("test_iid", test_iid)):
            if data is None:
                continue
            proba = predict_proba(model, data, device)
            y = data.labels.numpy()
            result[name] = {"n": int(len(y)), "metrics": point_metrics(y, proba),
                            "ci95": bootstrap_ci(y, proba, n_bootstrap, seed=spec.seed),
                            "proba": np.round(proba[:, 1:], 5).tolist() if name == "test" else None,
                            "labels": y.tolist() if name == "test" else None}
        result["localization"] = lesion_localization(model, layer, val, test, device, spec.task, iou_threshold,
                                                     spec.attention.region)
        if locset is not None:
            result["localization_boxes"] = box_localization(model, layer, locset, cache, device)
        if markers is not None:
            result["shortcut"] = shortcut_use(model, layer, test, markers, device, spec)
        if external is None:
            save_examples(model, layer, test, device, out.with_name("cams.npz"), markers)
        result["seconds"] = time.time() - tic
        atomic_write_json(out, result)
        return result
