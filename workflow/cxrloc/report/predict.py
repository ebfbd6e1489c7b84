"""Apply one trained run to new films: each film's class probabilities, the class at the run's
decision threshold, and a heat map of the predicted class, with the run's own preprocessing read
from the run (image size, backbone, Grad-CAM layer, task, objective) and, where the study's lung
U-Net is at hand, the lung mask and the class's target region drawn. Films of any size and
aspect are decoded exactly as the study's image cache decodes them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ..atomic import atomic_path, merged_dir
from ..checkpoint import CheckpointError, load_checkpoint
from ..data.imagecache import decode, leaves_root, read_gray
from ..errors import CxrlocError
from ..lungs.boxes import lung_box
from ..lungs.regions import kinds_for, target_regions
from ..lungs.segset import check_distinct, check_outside, image_names
from ..train.cam import grad_cam
from ..train.inference import load_trained, predict_proba
from ..train.results import read_result
from ..train.run import RunSpec
from ..train.splitdata import SplitData, mask_lungs, normalize

THUMBNAIL = 256  # the overview's side of a film, in pixels


class RunError(CxrlocError, ValueError):
    pass


@dataclass(frozen=True)
class TrainedRun:
    folder: Path
    spec: RunSpec
    image_size: int
    threshold: float | None  # binary tasks: the positive-class threshold chosen on validation (Youden's J)

    @classmethod
    def read(cls, folder: Path) -> TrainedRun:
        """A run folder's model and what it knows of its preprocessing; one error naming what is missing."""
        model = folder / "model.pt"
        if not model.is_file():
            raise RunError(f"{folder} holds no model.pt: give a trained run's folder (results/<dataset>/runs/<run>/)")
        ckpt = load_checkpoint(model)
        try:
            spec, size = RunSpec.from_dict(ckpt["spec"]), int(ckpt["image_size"])
        except (KeyError, TypeError) as e:
            raise CheckpointError(f"{model} lacks {e} (written by an older cxrloc): rerun its train job") from None
        return cls(folder, spec, size, _validation_threshold(folder, spec))

    @property
    def study_unet(self) -> Path | None:
        """The lung U-Net of the run's study (``results/<dataset>/unet/unet.pt``), where there is one."""
        path = self.folder.resolve().parent.parent / "unet" / "unet.pt"
        return path if path.is_file() else None


def _validation_threshold(folder: Path, spec: RunSpec) -> float | None:
    """The run's positive-class threshold of Youden's J on validation (metrics.json), for binary tasks;
    an unreadable metrics.json is an error naming it, never a silent fall-back to the arg-max."""
    if not spec.task.binary or not (folder / "metrics.json").is_file():
        return None
    return read_result(folder / "metrics.json").splits["val"].metrics.get("youden_threshold")


def film_names(images: Path | None, table: Path | None, out: Path) -> tuple[Path, list[str]]:
    """The folder the films' paths start from, and the films: every image below ``images`` (which
    must not hold ``out``), or the ``image`` column of ``table`` (paths under the table's folder)."""
    if images is not None:
        check_outside(out, images)
        return images, image_names(images, recursive=True)
    frame = pd.read_csv(table, dtype=str)
    if "image" not in frame.columns:
        raise RunError(f"{table}: no image column; found {list(frame.columns)}")
    outside = [n for n in frame["image"] if leaves_root(n)]
    if outside:
        raise RunError(f"{table}: image path {outside[0]!r} leaves the table's folder")
    return table.parent, frame["image"].tolist()


def overlay_name(name: str) -> str:
    return str(Path(name).with_suffix(".png"))


def predict(run: TrainedRun, root: Path, names: list[str], out: Path, device: torch.device, unet: Path | None = None,
            batch: int = 32) -> pd.DataFrame:
    """``out/predictions.csv``, ``out/cams/<name>.png`` and ``out/overview.png``; returns the table. Files
    of ``out`` it does not write are kept; a failure writes none."""
    from ..lungs.inference import square_masks, stored
    from ..lungs.unet import load as load_unet
    from .figures import heat_overlay, overview

    spec, size = run.spec, run.image_size
    masked = spec.objective.mask_input
    if masked and unet is None:
        raise RunError(f"{run.folder} is a masked run (it classifies the lungs alone): it needs the study's lung "
                       "U-Net, and none was found; give --unet")
    check_distinct(names, root, overlay_name, "overlays")
    model, layer, _ = load_trained(run.folder / "model.pt", spec, device)
    segmenter = load_unet(unet, device) if unet else None
    kinds = kinds_for(spec.task)
    probabilities, tiles = [], []
    with merged_dir(out / "cams") as cams:
        for start in tqdm(range(0, len(names), batch), desc="predict", unit="batch"):
            chunk = names[start : start + batch]
            images = torch.from_numpy(np.stack([decode(root / n, size)[0] for n in chunk]))
            lungs = (np.stack(square_masks(segmenter.model, segmenter.size, images.numpy(), device, segmenter.postprocess))
                     if segmenter else np.ones((len(chunk), size, size), bool))
            boxes = torch.tensor([lung_box(m) for m in lungs], dtype=torch.int64)
            small = torch.from_numpy(np.stack([stored(m) for m in lungs]))  # as precache-masks keeps them
            data = SplitData(chunk, images, torch.zeros(len(chunk), dtype=torch.int64), boxes, small, None)
            if masked:
                data = mask_lungs(data, spec.attention.mask_margin, spec.attention.fill)
            p = predict_proba(model, data, device)
            predicted = torch.from_numpy(decide(p, run.threshold))
            heat = grad_cam(model, layer, normalize(data.images.to(device)), predicted.to(device)).cpu()
            regions = target_regions(spec.attention.region, boxes, kinds[predicted], size, small)
            for i, name in enumerate(chunk):
                picture = heat_overlay(read_gray(root / name), heat[i].numpy(), lungs[i] if segmenter else None,
                                       regions[i].numpy() > 0 if segmenter and regions[i].any() else None)
                path = cams / overlay_name(name)
                path.parent.mkdir(parents=True, exist_ok=True)
                picture.save(path)
                picture.thumbnail((THUMBNAIL, THUMBNAIL))  # the overview's: all of them, so small
                tiles.append(picture)
            probabilities.append(p)
    table = predictions(names, np.concatenate(probabilities), spec.task.classes, run.threshold)
    with atomic_path(out / "predictions.csv") as tmp:
        table.to_csv(tmp, index=False)
    overview(table, tiles, spec.task.classes, out / "overview.png")
    return table


def decide(proba: np.ndarray, threshold: float | None) -> np.ndarray:
    """The predicted label: binary tasks at the run's validation threshold, others by the largest probability."""
    if proba.shape[1] == 2 and threshold is not None:
        return (proba[:, 1] >= threshold).astype(np.int64)
    return proba.argmax(1)


def predictions(names: list[str], proba: np.ndarray, classes: tuple[str, ...], threshold: float | None) -> pd.DataFrame:
    """One row per film: each class's probability, the predicted class and the threshold it was decided at."""
    table = pd.DataFrame({"image": names, **{f"p_{c}": proba[:, k] for k, c in enumerate(classes)}})
    table["predicted"] = [classes[k] for k in decide(proba, threshold)]
    table["threshold"] = threshold if len(classes) == 2 and threshold is not None else "argmax"
    return table
