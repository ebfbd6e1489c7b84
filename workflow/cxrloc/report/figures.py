"""Figures for the report: metric vs λ with intervals, training curves, ROC curves, the
lung-mask quality grid; and the heat-map overlays and overview grid of ``cxrloc predict``."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..atomic import atomic_path  # noqa: E402
from ..backbones import label as backbone_label  # noqa: E402
from ..lungs.boxes import FLAGS  # noqa: E402
from ..schedule import label as lambda_label  # noqa: E402
from ..schedule import ordered as ordered_lambdas  # noqa: E402
from ..train.results import read_cams, read_result  # noqa: E402


def save(fig, path: Path) -> None:
    """Write a figure atomically (its format from the suffix) and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix[1:], dpi=120, bbox_inches="tight")
    plt.close(fig)


def metric_vs_lambda(run_files: list[Path], out: Path, title: str, metric: str = "auc") -> None:
    """Test metric against λ per backbone, with the 95% bootstrap band (mean over seeds)."""
    rows = []
    for f in run_files:
        r = read_result(f)
        lo, hi = r.splits["test"].ci95.get(metric, [np.nan, np.nan])
        rows.append({**r.run.row(), "value": r.metric("test", metric), "lo": lo, "hi": hi})
    df = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    lams = ordered_lambdas(df["lambda"])
    for backbone, part in df.groupby("backbone", sort=False):
        m = part.groupby("lambda")[["value", "lo", "hi"]].mean().reindex(lams)
        x = np.arange(len(lams))
        ax.plot(x, m["value"], marker="o", label=backbone_label(backbone))
        ax.fill_between(x, m["lo"], m["hi"], alpha=0.2)
    ax.set_xticks(range(len(lams)), [lambda_label(lam) for lam in lams])
    ax.set_ylabel(f"test {metric.upper()}")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    save(fig, out)


def roc_curves(run_files: list[Path], out: Path, title: str) -> None:
    """Test ROC curve of every run of a binary task."""
    from sklearn.metrics import roc_curve  # here: the other figures' jobs (lung masks, U-Net) skip its 2 s import

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for f in run_files:
        r = read_result(f)
        proba, y = np.array(r.splits["test"].proba), np.array(r.splits["test"].labels)
        if proba.shape[1] != 1 or len(set(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, proba[:, 0])
        ax.plot(fpr, tpr, lw=1, label=f"{backbone_label(r.run.backbone)} {r.run.schedule.label}")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("1 − specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6)
    save(fig, out)


def training_curves(histories: list[Path], out: Path) -> None:
    """Loss and validation accuracy per epoch of every run."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    for f in histories:
        h = pd.read_csv(f)
        name = Path(f).parent.name
        a.plot(h["epoch"], h["loss"], lw=1, label=name)
        b.plot(h["epoch"], h["val_acc"], lw=1, label=name)
    a.set(xlabel="epoch", ylabel="training loss")
    b.set(xlabel="epoch", ylabel="validation accuracy")
    b.legend(fontsize=5, ncol=2)
    save(fig, out)


def lung_quality(images: np.ndarray, index: pd.Series, lungs, out: Path, n: int = 16) -> None:
    """A grid of images with their precached lung masks and boxes, the worst-flagged first."""
    score = lungs.boxes[list(FLAGS)].sum(axis=1)
    names = score.sort_values(ascending=False, kind="stable").index[:n]
    cols = 4
    fig, axes = plt.subplots(int(np.ceil(len(names) / cols)), cols, figsize=(2.2 * cols, 2.2 * np.ceil(len(names) / cols)),
                             squeeze=False)
    for ax, name in zip(axes.flat, names):
        img = images[index[name]]
        ax.imshow(img, cmap="gray")
        pos = list(lungs.boxes.index).index(name)
        mask = lungs.masks[pos]
        s = img.shape[0]
        ax.imshow(mask, alpha=0.25, cmap="Greens", extent=(-0.5, s - 0.5, s - 0.5, -0.5))
        x, y, w, h = lungs.boxes.loc[name, ["x", "y", "w", "h"]]
        ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), w, h, fill=False, ec="red", lw=1))
        flagged = [f for f in FLAGS if lungs.boxes.loc[name, f]]
        ax.set_title(f"{name}\n{','.join(flagged) or 'ok'}", fontsize=6)
    for ax in axes.flat:
        ax.axis("off")
    save(fig, out)


def segmentations(cases: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], out: Path, title: str = "") -> None:
    """Images at their own size with the true lung outline (green, where known) and the
    predicted one (red); ``cases`` are (title, image, true mask or None, predicted mask)."""
    cols = 4
    rows = int(np.ceil(len(cases) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.6 * rows), squeeze=False)
    fig.suptitle(title, fontsize=8)
    for ax, (title, image, truth, pred) in zip(axes.flat, cases):
        ax.imshow(image, cmap="gray")
        if truth is not None:
            ax.contour(truth, levels=[0.5], colors="lime", linewidths=0.8)
        ax.contour(pred, levels=[0.5], colors="red", linewidths=0.8)
        ax.set_title(title, fontsize=6)
    for ax in axes.flat:
        ax.axis("off")
    save(fig, out)


def cam_overlays(rows: list[tuple[str, Path]], cache, lungs, out: Path) -> None:
    """One row per run: its CAMs on the same test positives (``cams.npz``) over the images the
    model saw, with the lung box (red) and, where the source has them, the true lesion (cyan
    contour)."""
    runs = [(label, read_cams(f)) for label, f in rows]
    k = len(runs[0][1]["image"])
    fig, axes = plt.subplots(len(runs), k, figsize=(1.6 * k, 1.8 * len(runs)), squeeze=False)
    lesions, index = cache.lesions(), cache.index
    for row, (label, z) in zip(axes, runs):
        for ax, name, cam, seen in zip(row, z["image"], z["cam"], z["seen"]):
            ax.imshow(seen, cmap="gray", vmin=0, vmax=255)
            ax.imshow(cam.astype(np.float32), cmap="jet", alpha=0.4, vmin=0, vmax=1)
            x, y, w, h = lungs.boxes.loc[name, ["x", "y", "w", "h"]]
            ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), w, h, fill=False, ec="red", lw=0.8))
            if lesions is not None:
                ax.contour(lesions[index[name]] > 0, levels=[0.5], colors="cyan", linewidths=0.6)
            ax.set_title(f"{label}\n{name}", fontsize=5)
            ax.axis("off")
    save(fig, out)


def _edge(mask: np.ndarray) -> np.ndarray:
    """The outline of a boolean mask, about 1/200 of its side thick."""
    from scipy import ndimage

    return mask & ~ndimage.binary_erosion(mask, iterations=max(1, round(max(mask.shape) / 200)))


def heat_overlay(film: np.ndarray, cam: np.ndarray, lungs: np.ndarray | None, region: np.ndarray | None):
    """A film at its own size with a Grad-CAM (square, stretched over the film as the cache stretches
    it) in the jet colours, and where given the lung mask's outline (green) and the target region's
    (yellow); a PIL image."""
    from PIL import Image

    h, w = film.shape

    def stretched(a: np.ndarray, resample) -> np.ndarray:
        return np.asarray(Image.fromarray(a).resize((w, h), resample))

    heat = stretched(cam.astype(np.float32), Image.Resampling.BILINEAR)
    rgb = 0.6 * np.repeat(film[..., None], 3, axis=2) + 0.4 * 255 * plt.get_cmap("jet")(np.clip(heat, 0, 1))[..., :3]
    for mask, colour in ((lungs, (0, 255, 0)), (region, (255, 255, 0))):
        if mask is not None:
            rgb[_edge(stretched(mask.astype(np.uint8) * 255, Image.Resampling.NEAREST) > 127)] = colour
    return Image.fromarray(rgb.round().clip(0, 255).astype(np.uint8))


def overview(table: pd.DataFrame, tiles: list, classes: tuple[str, ...], out: Path, k: int = 6) -> None:
    """A grid of the overlays: the most confident positives, the most confident negatives and the
    least certain films (``table``: ``predictions.csv``'s rows, ``tiles`` the overlays in its order)."""
    positive = 1 - table[f"p_{classes[0]}"].to_numpy()  # any finding rather than the control class
    threshold = table["threshold"].iloc[0]
    middle = float(threshold) if threshold != "argmax" else 0.5
    order = np.argsort(-positive, kind="stable")
    picks = {"most confident positives": order[:k], "most confident negatives": order[::-1][:k],
             "least certain": np.argsort(np.abs(positive - middle), kind="stable")[:k]}
    fig, axes = plt.subplots(3, k, figsize=(1.9 * k, 6.6), squeeze=False)
    for row, (title, rows) in zip(axes, picks.items()):
        row[0].set_title(title, fontsize=8, loc="left")
        for ax, i in zip(row, rows):
            ax.imshow(tiles[i])
            ax.set_xlabel(f"{str(table['image'].iloc[i])[-22:]}\n{table['predicted'].iloc[i]} "
                          f"(p {positive[i]:.2f})", fontsize=6)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    save(fig, out)
