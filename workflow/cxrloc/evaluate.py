"""Evaluate one trained run: metrics with bootstrap intervals on val and test, and CAM
localization against true lesion masks when the source has them. Writes one JSON."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .attention import lambda_name
from .cam import grad_cam
from .data import SplitData, normalize
from .device import resolve
from .imagecache import ImageCache
from .io import atomic_path, atomic_write_json
from .localization import best_threshold, scores
from .locset import box_masks
from .metrics import bootstrap_ci, point_metrics
from .train import RunSpec, build_model, predict_proba

SCHEMA_VERSION = 1


def load_trained(path: Path, spec: RunSpec, device):
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        state = ckpt["state_dict"]
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a corrupt file
        raise RuntimeError(f"corrupt or unreadable checkpoint {path}: {e}") from e
    model, layer = build_model(spec, device)
    model.load_state_dict(state)
    return model.eval(), layer, ckpt


def true_class_cams(model, layer, data: SplitData, device, batch: int = 32) -> torch.Tensor:
    """Grad-CAM of the true class of every positive image of a split, on the CPU."""
    pos = torch.nonzero(data.labels > 0).squeeze(1)
    out = []
    for idx in pos.split(batch):
        x = normalize(data.images[idx].to(device))
        out.append(grad_cam(model, layer, x, data.labels[idx].to(device)).cpu())
    return torch.cat(out) if out else torch.zeros(0, *data.images.shape[1:])


def shortcut_use(model, test: SplitData, markers: pd.Series, device) -> dict:
    """Paste the confounder into the marker-free test images: how many predictions flip,
    and how much the positive-class probability moves (a model that ignores it: 0, 0)."""
    from .synthetic import marker_slices

    free = [i for i, name in enumerate(test.names) if not markers.get(name, False)]
    if not free:
        return {"n": 0}
    clean = SplitData([test.names[i] for i in free], test.images[free], test.labels[free], test.boxes[free],
                      test.lung_masks[free], None)
    marked = torch.clone(clean.images)
    marked[(slice(None), *marker_slices(marked.shape[-1]))] = 255
    p0 = predict_proba(model, clean, device)
    p1 = predict_proba(model, SplitData(clean.names, marked, clean.labels, clean.boxes, clean.lung_masks, None), device)
    return {"n": len(free), "flip_rate": float((p0.argmax(1) != p1.argmax(1)).mean()),
            "delta_p_positive": float((p1[:, 1:].sum(1) - p0[:, 1:].sum(1)).mean())}


def save_examples(model, layer, test: SplitData, device, out: Path, k: int = 4) -> None:
    """CAMs of the first ``k`` test positives (the same images in every run of a task), for figures."""
    pos = torch.nonzero(test.labels > 0).squeeze(1)[:k]
    x = normalize(test.images[pos].to(device))
    cams = grad_cam(model, layer, x, test.labels[pos].to(device)).cpu().numpy().astype(np.float16)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, image=np.array([test.names[i] for i in pos]), cam=cams)


def tuned_scores(v_cams, v_truth, t_cams, t_truth) -> dict:
    """Scores on test with the binarization threshold tuned on val; maps with empty truth are skipped."""
    keep_v, keep_t = v_truth.flatten(1).any(1), t_truth.flatten(1).any(1)
    thresh = best_threshold(v_cams[keep_v], v_truth[keep_v]) if keep_v.any() else 0.5
    return scores(t_cams[keep_t], t_truth[keep_t], thresh)


def lesion_localization(model, layer, val: SplitData, test: SplitData, device) -> dict | None:
    """Against the true lesion masks of the split's positives (synthetic sets)."""
    if test.lesions is None or val.lesions is None:
        return None
    v_cams, t_cams = true_class_cams(model, layer, val, device), true_class_cams(model, layer, test, device)
    return tuned_scores(v_cams, val.lesions[val.labels > 0] > 0, t_cams, test.lesions[test.labels > 0] > 0)


def box_localization(model, layer, locset: pd.DataFrame, cache: ImageCache, device) -> dict:
    """Against radiologist boxes (NIH): threshold tuned on the set's val half, scored on its test half."""
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


def evaluate(spec: RunSpec, checkpoint: Path, val: SplitData, test: SplitData, out: Path,
             n_bootstrap: int = 200, locset: pd.DataFrame | None = None, cache: ImageCache | None = None,
             markers: pd.Series | None = None, test_iid: SplitData | None = None) -> dict:
    device = resolve(spec.train.device)
    torch.set_num_threads(spec.train.threads)
    tic = time.time()
    model, layer, ckpt = load_trained(checkpoint, spec, device)
    result = {"schema": SCHEMA_VERSION, "run": {"dataset": spec.dataset, "task": spec.task, "backbone": spec.backbone,
              "lambda": lambda_name(spec.lam), "thresh": spec.thresh, "seed": spec.seed, "mode": spec.attention.mode,
              "best_epoch": ckpt.get("best_epoch")}}
    for name, data in (("val", val), ("test", test), ("test_iid", test_iid)):
        if data is None:
            continue
        proba = predict_proba(model, data, device)
        y = data.labels.numpy()
        result[name] = {"n": int(len(y)), "metrics": point_metrics(y, proba),
                        "ci95": bootstrap_ci(y, proba, n_bootstrap, seed=spec.seed),
                        "proba": np.round(proba[:, 1:], 5).tolist() if name == "test" else None,
                        "labels": y.tolist() if name == "test" else None}
    result["localization"] = lesion_localization(model, layer, val, test, device)
    if locset is not None:
        result["localization_boxes"] = box_localization(model, layer, locset, cache, device)
    if markers is not None:
        result["shortcut"] = shortcut_use(model, test, markers, device)
    save_examples(model, layer, test, device, out.with_name("cams.npz"))
    result["seconds"] = time.time() - tic
    atomic_write_json(out, result)
    return result
