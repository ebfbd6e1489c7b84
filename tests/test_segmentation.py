"""The lung U-Net on real radiographs (../shared/data/real-lungs, read in place): aspect-keeping
resize, patient hold-out, augmentation that moves masks with their images, the training
report and segment-lungs."""

import numpy as np
import pandas as pd
import pytest
import torch
from cxrloc.data.imagecache import read_gray
from cxrloc.data.letterbox import Letterbox
from cxrloc.lungs.augment import augment
from cxrloc.lungs.segset import hold_out, patients_of
from PIL import Image
from scipy import ndimage

from .conftest import SHARED
from .workflow import cxrloc

REAL = SHARED / "data/real-lungs"
needs_films = pytest.mark.skipif(not (REAL / "labels.csv").exists(),
                                 reason=f"needs the real radiographs with lung masks in {REAL} (not shipped: licenses)")


def real_names(n: int | None = None) -> list[str]:
    return sorted(p.name for p in (REAL / "images").iterdir())[:n]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * (a & b).sum() / (a.sum() + b.sum())


@needs_films
def test_letterboxing_keeps_the_aspect_and_maps_masks_back():
    """Every non-square real mask fitted into 128 px and restored matches itself closely; the
    padding is black and even."""
    for name in real_names():
        mask = read_gray(REAL / "masks" / name) > 127
        if abs(mask.shape[0] - mask.shape[1]) < 40:
            continue
        box = Letterbox(*mask.shape, 128)
        square = box.fit(mask.astype(np.uint8) * 255)
        (top, left), (h, w) = box.offset, box.inner
        assert max(h, w) == 128 and abs(h / w - mask.shape[0] / mask.shape[1]) < 0.05
        assert square[:top].max(initial=0) == 0 and square[:, :left].max(initial=0) == 0
        assert box.restore(square.astype(np.float32) / 255).shape == mask.shape
        assert dice(box.restore(square.astype(np.float32) / 255) > 0.5, mask) > 0.95, name


@needs_films
def test_the_held_out_images_are_whole_patients():
    names = real_names()
    patients = patients_of(names, REAL / "labels.csv")
    train, test = hold_out(patients, 0.2, seed=0)
    assert not {patients[i] for i in train} & {patients[i] for i in test}
    assert len(train) + len(test) == len(names) and 0.18 < len(test) / len(names) < 0.3


@needs_films
def test_augmentation_moves_each_mask_with_its_image():
    """Images that are their masks (lungs bright): after the affine, brightness, gamma, blur and
    noise draws, the mask still covers the bright pixels."""
    torch.manual_seed(0)
    masks = torch.from_numpy(np.stack([np.asarray(Image.open(REAL / "masks" / n).resize((96, 96))) > 127
                                       for n in real_names(8)]))
    x, y = augment(masks.to(torch.uint8) * 200 + 20, masks)
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1 and y.dtype == torch.bool
    assert not torch.equal(y, masks), "the masks moved"
    for image, mask in zip(x, y):
        assert image[mask].mean() > image[~mask].mean() + 0.3


def test_the_unet_sees_both_orientations_of_a_film():
    """Trained on left-right flips too, the U-Net predicts the average of a film and its flip:
    the mask of a flipped film is the flipped mask."""
    from cxrloc.lungs.inference import probabilities
    from cxrloc.lungs.unet import build

    torch.manual_seed(0)
    model, gray = build("resnet18", (16, 8, 8, 8, 8)), torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    prob = probabilities(model, gray, torch.device("cpu"))
    assert torch.allclose(probabilities(model, gray.flip(-1), torch.device("cpu")), prob.flip(-1), atol=1e-6)
    assert not torch.allclose(prob, prob.flip(-1), atol=1e-3)


@needs_films
def test_postprocessing_keeps_the_two_lungs_and_fills_their_holes():
    """A real mask as a probability map with a stray blob and a hole: kept as is without
    post-processing; with it, exactly the real lungs come back."""
    from cxrloc.lungs.inference import final_mask

    two_lungs = [n for n in real_names(30) if ndimage.label(read_gray(REAL / "masks" / n) > 127)[1] == 2][:6]
    assert len(two_lungs) == 6, "the test needs real masks of two separate lungs"
    for name in two_lungs:
        lungs = read_gray(REAL / "masks" / name) > 127
        prob = lungs.astype(np.float32) * 0.9
        cy, cx = np.unravel_index(ndimage.distance_transform_edt(lungs).argmax(), lungs.shape)
        prob[cy, cx] = 0.1  # a hole deep inside a lung
        prob[:3, :3] = 0.8  # a stray blob in the corner, off the lungs
        assert not lungs[:3, :3].any()
        raw = final_mask(prob, postprocess=False)
        assert raw[:3, :3].all() and not raw[cy, cx]
        assert np.array_equal(final_mask(prob, postprocess=True), ndimage.binary_fill_holes(lungs)), name


@needs_films
def test_progressive_resizing_trains_at_each_smaller_size_first():
    """``unet.progressive: [[32, 2], [48, 1]]`` with 2 epochs at 64 px: the U-Net sees real films
    at 32, then 48, then 64 px, for each stage's epochs; each stage's masks are the full-size
    masks shrunk with their films."""
    from cxrloc.config import UNetConfig
    from cxrloc.lungs.segset import read_segset
    from cxrloc.lungs.unet import build
    from cxrloc.lungs.unet_training import fit, stages

    data = read_segset(REAL / "images", REAL / "masks", 64, limit=8)
    x, y = torch.from_numpy(data.images), torch.from_numpy(data.masks)
    cfg = UNetConfig(image_size=64, epochs=2, batch_size=4, progressive=((32, 2), (48, 1)))
    for xs, ys, _ in stages(x, y, cfg)[:2]:
        grown = torch.nn.functional.interpolate(ys[:, None].float(), size=(64, 64), mode="bilinear")[:, 0] > 0.5
        assert 2 * (grown & y).sum() / (grown.sum() + y.sum()) > 0.9
        assert xs.dtype == torch.uint8 and abs(xs.float().mean() - x.float().mean()) < 2
    model, seen = build("resnet18", (16, 8, 8, 8, 8)), []
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[-1]))
    fit(model, x, y, cfg, torch.device("cpu"))
    assert seen == [32] * 4 + [48] * 2 + [64] * 4


@pytest.mark.parametrize("stages", [((96, 1),), ((64, 1),), ((48, 1), (32, 1))])
def test_progressive_sizes_must_rise_below_the_image_size(stages):
    from cxrloc.config import ConfigError, UNetConfig

    with pytest.raises(ConfigError, match=r"unet.progressive: sizes .* must rise and stay below unet.image_size 64"):
        UNetConfig(image_size=64, progressive=stages)


@needs_films
def test_unet_training_reports_per_image_dice_on_held_out_patients_and_segments_a_folder(tmp_path):
    """Trained in-process (the CLI adds only the printing); segment-lungs through the CLI."""
    from cxrloc.config import UNetConfig
    from cxrloc.lungs.unet_training import train_unet

    images = tmp_path / "films"
    images.mkdir()
    for name in real_names(3):
        (images / name).symlink_to(REAL / "images" / name)
    cfg = UNetConfig(image_size=64, epochs=1, batch_size=4, max_images=16, held_out=0.25, postprocess=True)
    report, *_ = train_unet(REAL / "images", REAL / "masks", cfg, tmp_path / "unet.pt", torch.device("cpu"),
                            REAL / "labels.csv")
    for key in ("dice_mean", "dice_median", "dice_p10", "dice_pooled", "iou_pooled"):
        assert 0 <= report[key] <= 1, key
    assert report["dice_p10"] <= report["dice_median"] and report["held_out_images"] == len(report["per_image"])
    assert report["postprocess"] is True
    labels = pd.read_csv(REAL / "labels.csv", dtype=str).set_index("id")["patient"]
    held = {labels[n.rsplit(".", 1)[0]] for n in report["per_image"]}
    trained = {labels[n.rsplit(".", 1)[0]] for n in real_names(16) if n not in report["per_image"]}
    assert held and trained and not held & trained

    cxrloc("segment-lungs", "--checkpoint", str(tmp_path / "unet.pt"), "--images", str(images), "--out", str(tmp_path / "seg"),
           "--postprocess")
    boxes = pd.read_csv(tmp_path / "seg/boxes.csv")
    assert list(boxes["image"]) == real_names(3)
    for row in boxes.itertuples():
        mask = read_gray(tmp_path / "seg/masks" / row.image)
        assert mask.shape == read_gray(images / row.image).shape and set(np.unique(mask)) <= {0, 255}
        assert ndimage.label(mask)[1] <= 2 and np.array_equal(ndimage.binary_fill_holes(mask), mask > 0)
        assert 0 <= row.x and row.x + row.w <= mask.shape[1] and row.y + row.h <= mask.shape[0]
    assert (tmp_path / "seg/overlays.png").stat().st_size > 1000
