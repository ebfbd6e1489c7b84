"""Real films with an implanted effusion and a confounder (``source.kind: implanted``): the drawing
of the effusion (on a drawn mask, everywhere), and on a few real films of ../shared/data/real-lungs
(skipped, saying why, where absent): deterministic variants, findings inside the true lung mask's
lower part, markers where their placement says, patient-disjoint folds, and the study end to end."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from cxrloc.config import EffusionConfig, ImplantedConfig
from cxrloc.data.cues import box_slices, corner_box
from cxrloc.data.effusion import draw, implant, lungs_of
from cxrloc.data.imagecache import read_gray
from cxrloc.data.implanted import implant_films
from cxrloc.data.letterbox import Letterbox
from cxrloc.lungs.augment import with_opacities
from cxrloc.lungs.boxes import lung_box
from cxrloc.lungs.coverage import share_inside
from cxrloc.lungs.regions import box_regions
from cxrloc.tasks import KINDS
from scipy import ndimage

from .conftest import REAL
from .workflow import TINY, snakemake

needs_films = pytest.mark.skipif(not (REAL / "labels.csv").exists(),
                                 reason=f"needs the real radiographs with lung masks in {REAL} (not shipped: licenses)")


def two_lungs(size: int = 96) -> np.ndarray:
    y, x = np.mgrid[:size, :size] / size
    return (((x - 0.3) / 0.14) ** 2 + ((y - 0.5) / 0.3) ** 2 < 1) | (((x - 0.7) / 0.14) ** 2 + ((y - 0.48) / 0.3) ** 2 < 1)


def test_the_effusion_fills_the_lung_base_under_a_meniscus_rising_laterally():
    lungs = two_lungs()
    for seed in range(20):
        opacity, fluid = draw(lungs, np.random.default_rng(seed), EffusionConfig(each_lung=1.0))
        assert fluid.any() and not (fluid & ~lungs).any(), "the fluid lies inside the lung mask"
        core = ndimage.binary_erosion(fluid, iterations=4)
        assert opacity.max() <= 0.6 + 1e-6 and opacity[core].min() >= 0.34, "homogeneous, of the configured density"
        assert 0 < opacity[fluid & ~core].min() < opacity[core].min(), "soft-edged"
        for lung, lateral in zip(sorted(lungs_of(lungs), key=lambda m: np.flatnonzero(m.any(0)).mean()), ("left", "right")):
            part = fluid & lung
            cols = np.flatnonzero(part.any(0))
            top = [np.flatnonzero(part[:, c])[0] for c in cols]
            rows = np.flatnonzero(lung.any(1))
            assert np.flatnonzero(part.any(1))[-1] == rows[-1], "the fluid reaches the lung's lowest row"
            outer, inner = (top[0], top[-1]) if lateral == "left" else (top[-1], top[0])
            assert outer < inner, "the surface climbs toward the lateral wall"
            assert rows[-1] - min(top) <= 0.6 * (rows[-1] - rows[0]), "the base, not the whole lung"
    assert np.array_equal(draw(lungs, np.random.default_rng(3), EffusionConfig())[1],
                          draw(lungs, np.random.default_rng(3), EffusionConfig())[1])


def test_touching_lungs_are_split_at_their_centre_and_an_opacity_brightens_toward_white():
    joined = ndimage.binary_dilation(two_lungs(), iterations=6)
    assert ndimage.label(joined)[1] == 1 and len(lungs_of(joined)) == 2
    gray = np.full((4, 4), 100, np.uint8)
    assert implant(gray, np.full((4, 4), 0.5, np.float32)).tolist() == [[178] * 4] * 4  # 100 + 0.5 · 155


def test_unet_opacities_brighten_the_lung_base_and_keep_the_mask():
    lungs = torch.from_numpy(np.stack([two_lungs(64)] * 8))
    images = torch.full((8, 64, 64), 60, dtype=torch.uint8)
    out = with_opacities(images, lungs, 1.0, np.random.default_rng(0))
    lower = torch.zeros_like(lungs)
    lower[:, 32:] = True
    assert (out >= images).all() and (out[lungs & lower] > 60).float().mean() > 0.3 and (out[:, :16] == 60).all()
    assert torch.equal(with_opacities(images, lungs, 0.0, np.random.default_rng(0)), images)


def test_the_share_of_a_finding_inside_its_region():
    lesions = torch.zeros(3, 8, 8, dtype=torch.uint8)  # as the image cache keeps them: 0 and 255
    lesions[0, 4:, :] = 255
    lesions[1, 2:6, :] = 255
    regions = box_regions(torch.tensor([[0, 0, 8, 8]] * 3), torch.full((3,), KINDS.index("lower")), 8)
    share = share_inside(lesions, regions)
    assert share[0] == 1 and share[1] == 0.5 and share[2].isnan()


def truth(films, name: str, size: int) -> np.ndarray:
    mask = read_gray(films / "masks" / f"{name.rsplit('_v', 1)[0]}.png") > 127
    return Letterbox(*mask.shape, size).fit(mask.astype(np.uint8) * 255) > 127


@needs_films
@pytest.mark.parametrize("placement", ["corner", "lung"])
def test_real_films_get_findings_in_the_lower_lung_and_markers_where_placed(films, tmp_path, placement):
    cfg = ImplantedConfig(image_size=96, variants=3, marker_placement=placement, seed=1)
    table = implant_films(films, cfg, tmp_path / "a")
    implant_films(films, cfg, tmp_path / "b")
    for name in table["image"]:
        for sub in ("images", "lesion_masks"):
            assert (tmp_path / "a" / sub / name).read_bytes() == (tmp_path / "b" / sub / name).read_bytes(), "deterministic"
    assert (tmp_path / "a/Data_Entry.csv").read_text() == (tmp_path / "b/Data_Entry.csv").read_text()

    assert table.groupby("patient")["split"].nunique().max() == 1, "folds take whole patients"
    assert set(table["split"]) == {"train", "val", "test", "test_iid"} and len(table) == 90
    markers = pd.read_csv(tmp_path / "a/markers.csv", keep_default_na=False).set_index("Image Index")
    assert ((table["split"] == "test").to_numpy() == (markers.loc[table["image"], "ceiling"] == "").to_numpy()).all()
    for row in table[table["split"] != "test"].itertuples():
        copy = markers.loc[row.image, "ceiling"]
        for sub in ("images", "lesion_masks"):
            assert (tmp_path / "a" / sub / copy).read_bytes() == (tmp_path / "b" / sub / copy).read_bytes()
        film, twin = (read_gray(tmp_path / "a/images" / n).copy() for n in (row.image, copy))
        spot = box_slices(*markers.loc[copy, ["top", "left", "size"]], 96)
        assert (twin[spot] == 255).all() == markers.loc[copy, "marker"]
        film[spot] = twin[spot] = 0
        assert np.array_equal(film, twin), "the ceiling's copy: the same film and finding but for the marker"
    shares = []
    for row in table.itertuples():
        image, fluid = (read_gray(tmp_path / "a" / sub / row.image) for sub in ("images", "lesion_masks"))
        lungs = truth(films, row.image, 96)
        assert (fluid > 0).any() == (row.label == "Effusion")
        assert not ((fluid > 0) & ~lungs).any(), "every finding lies inside the film's true lung mask"
        if row.label == "Effusion":
            region = box_regions(torch.tensor([lung_box(lungs)]), torch.tensor([KINDS.index("lower")]), 96)
            shares.append(share_inside(torch.from_numpy(fluid[None] > 0), region).item())
        spot = box_slices(*markers.loc[row.image, ["top", "left", "size"]], 96)
        assert (image[spot] == 255).all() == markers.loc[row.image, "marker"]
        if placement == "corner":
            assert tuple(markers.loc[row.image, ["top", "left", "size"]]) == pytest.approx(corner_box())
        else:
            rows = np.flatnonzero(lungs.any(1))
            assert lungs[spot].all() and spot[0].stop <= rows[0] + (rows[-1] - rows[0] + 1) // 2, "in the upper lung"
    assert min(shares) > 0.9 and np.mean(shares) > 0.98, "in the lower half of the true lung box"


@needs_films
@pytest.mark.workflow
def test_the_tiny_study_runs_on_implanted_real_films_end_to_end(films, tmp_path):
    """Implant, a U-Net trained on the films' own masks (whole patients held out), splits from the
    folds, cross-entropy, swap and the ceiling against a tube in the lower lung, the finding's and
    the tube's coverage and the shortcut verdict."""
    cfg = yaml.safe_load(TINY.read_text())
    cfg.update(dataset="real", objectives=["swap", "ceiling"], backbones=["resnet_tiny"], image_size=32,
               source={"kind": "implanted", "root": str(films),
                       "implanted": {"image_size": 64, "variants": 3, "confounder": "tube"}})
    cfg["train"].update(epochs=1, cam_layer="layer3")
    cfg["unet"] = {"encoder": "resnet18", "decoder_channels": [16, 8, 8, 8, 8], "image_size": 32, "epochs": 1}
    (tmp_path / "real.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(tmp_path, "--configfile", str(tmp_path / "real.yaml"))
    out = tmp_path / "results/real"
    splits = pd.read_csv(out / "splits/ne.csv")
    assert splits.groupby("patient")["split"].nunique().max() == 1 and len(splits) == 90
    unet = json.loads((out / "unet/report.json").read_text())
    assert unet["held_out_patients"] > 0 and 0 < unet["dice_mean"] <= 1 and unet["opacities"] == 0.5
    coverage = json.loads((out / "masks/ne.coverage.json").read_text())
    assert [c["class"] for c in coverage["classes"]] == ["Effusion"]
    assert [c["inside"] for c in coverage["cue"]] == ["lung mask", "Effusion's region: lower (box)"]
    for row in coverage["classes"] + coverage["cue"]:
        assert row["images"] > 0 and 0 <= row["p10"] <= row["mean"] <= 1
    swap = json.loads((out / "runs/resnet_tiny_real_ne_la0.5_t0.5_s0_swap/metrics.json").read_text())
    assert swap["localization"]["n"] > 0 and 0 <= swap["shortcut"]["auc_unmarked"] <= 1
    assert 0 <= swap["shortcut"]["cam_energy_marker"] <= 1, "Grad-CAM on the tube"
    verdict = (out / "tables/md/real_ne_t0.5_shortcut_verdict.md").read_text()
    assert "| swap" in verdict and "keeps the finding" in verdict


def test_a_film_without_a_row_in_the_labels_is_named(tmp_path):
    """It used to be left out of the study without a word."""
    from cxrloc.data.implanted import FilmsError, read_films
    from PIL import Image

    for sub in ("images", "masks"):
        (tmp_path / sub).mkdir()
        for name in ("a", "b"):
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / sub / f"{name}.png")
    (tmp_path / "labels.csv").write_text("id,patient\na,p1\n")
    with pytest.raises(FilmsError, match=rf"{tmp_path}/images/b\.png \(and 0 more\) has no row in {tmp_path}/labels\.csv"):
        read_films(tmp_path)
