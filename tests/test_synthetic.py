"""The synthetic radiograph generator: anatomy, masks, findings, confounder, determinism."""

import numpy as np
import pandas as pd
import pytest
from cxrloc.config import SyntheticConfig
from cxrloc.data.cues import box_slices
from cxrloc.data.marker import Markers
from cxrloc.data.metadata import NIH_COLUMNS
from cxrloc.data.synthetic import (
    FINDINGS,
    Anatomy,
    draw,
    marker_probability,
    metadata,
    synthesize,
)
from cxrloc.lungs.boxes import lung_box
from PIL import Image
from scipy import ndimage

SIZE = 128


def rg(seed):
    return np.random.default_rng(seed)


def test_metadata_has_nih_columns(nih_metadata_path):
    real = pd.read_csv(nih_metadata_path, nrows=0).columns.tolist()
    assert NIH_COLUMNS == real


@pytest.mark.parametrize("seed", range(5))
def test_lung_mask_matches_the_drawn_lungs(seed):
    r = draw(rg(seed), SIZE, ["No Finding"], 1.0, False)
    body = r.image[SIZE // 2, SIZE // 4 : 3 * SIZE // 4]
    assert r.lungs.mean() > 0.12
    inside = r.image[r.lungs].mean()
    rim = r.image[(~r.lungs) & (r.image > 0.3)].mean()
    assert inside < rim - 0.15, "lungs are darker (air) than the soft tissue around them"
    assert body.size and not r.lesion.any()


@pytest.mark.parametrize("seed", range(5))
def test_effusion_is_basal_inside_the_lung(seed):
    r = draw(rg(seed), SIZE, ["Effusion"], 1.0, False)
    assert r.lesion.any() and (r.lesion & ~r.lungs).sum() == 0
    x, y, w, h = lung_box(r.lungs)
    ys = np.nonzero(r.lesion)[0]
    assert ys.mean() > y + h / 2, "basal"
    assert ys.max() >= y + h - 3, "fills the costophrenic angle"
    base = draw(rg(seed), SIZE, ["No Finding"], 1.0, False)
    assert r.image[r.lesion].mean() > base.image[r.lesion].mean() + 0.1, "fluid is an opacity"


@pytest.mark.parametrize("seed", range(5))
def test_pneumothorax_is_apical_and_lucent(seed):
    r = draw(rg(seed), SIZE, ["Pneumothorax"], 1.0, False)
    assert r.lesion.any() and (r.lesion & ~r.lungs).sum() == 0
    x, y, w, h = lung_box(r.lungs)
    ys = np.nonzero(r.lesion)[0]
    assert ys.mean() < y + h / 2, "apical"
    base = draw(rg(seed), SIZE, ["No Finding"], 1.0, False)
    diff = (r.image - base.image)[r.lesion]
    assert diff.mean() < -0.05, "lucent"
    anatomy = Anatomy(rg(seed).spawn(3)[0], SIZE)
    anatomy.draw()
    assert np.corrcoef(diff, anatomy.markings[r.lesion])[0, 1] < -0.5, "the lung markings are gone"
    pleural_line = ndimage.binary_dilation(r.lesion) & ~r.lesion & r.lungs
    assert (r.image - base.image)[pleural_line].mean() > 0.05, "a thin visceral pleural line"


@pytest.mark.parametrize("seed", range(5))
def test_subcutaneous_emphysema_is_outside_the_lungs(seed):
    r = draw(rg(seed), SIZE, ["Subcutaneous Emphysema"], 1.0, False)
    assert r.lesion.any() and (r.lesion & r.lungs).sum() == 0


def test_cardiomegaly_enlarges_the_heart():
    normal = Anatomy(rg(1).spawn(3)[0], SIZE).heart().sum()
    enlarged = draw(rg(1), SIZE, ["Cardiomegaly"], 1.0, False)
    assert enlarged.lesion.sum() > 1.5 * normal
    assert (enlarged.lesion & enlarged.lungs).sum() == 0, "the lungs give way to the heart"


def test_lesion_contrast_is_configurable():
    faint = draw(rg(2), SIZE, ["Effusion"], 0.2, False)
    strong = draw(rg(2), SIZE, ["Effusion"], 1.0, False)
    assert strong.image[strong.lesion].mean() > faint.image[faint.lesion].mean() + 0.05


def test_marker_is_drawn_only_when_asked():
    on, off = draw(rg(3), SIZE, ["No Finding"], 1.0, True), draw(rg(3), SIZE, ["No Finding"], 1.0, False)
    assert (on.image == 1.0).sum() > (off.image == 1.0).sum() + 20


def test_the_in_lung_marker_lies_in_the_lungs_and_outside_the_target_region():
    """Placement ``lung``: every marker inside the lung mask, wholly above the lung box's middle
    row (effusion's target region is the lower half), on every image of a synthesized set."""
    for i in range(60):
        r = draw(rg(i), SIZE, ["Effusion" if i % 2 else "No Finding"], 1.0, True, "lung")
        rows, cols = box_slices(*r.marker_box, SIZE)
        x, y, w, h = lung_box(r.lungs)
        assert r.lungs[rows, cols].all() and rows.stop <= y + h // 2, i
        assert (r.image[rows, cols] == 1.0).all()


def test_markers_csv_gives_every_image_its_box(tmp_path):
    meta = synthesize(SyntheticConfig(patients=12, image_size=48, confounder_rate=0.8, marker_placement="lung"), tmp_path / "s")
    markers = Markers.read(tmp_path / "s/markers.csv")
    assert [n for n in markers.table.index if not n.startswith("ceiling/")] == list(meta["Image Index"])
    for name in meta["Image Index"]:
        rows, cols = markers.slices(name, 48)
        lungs = np.asarray(Image.open(tmp_path / "s/lung_masks" / name)) > 0
        assert lungs[rows, cols].all()


def test_the_ceiling_copies_carry_the_marker_at_the_shifted_rate_whatever_the_label(tmp_path):
    """Every film outside the shifted cohort has a copy, the same film but for the marker, which
    the copy carries at the shifted cohort's rate (0.5) in both classes; shifted films have none."""
    meta = synthesize(SyntheticConfig(patients=300, image_size=24, confounder_rate=0.9, seed=2,
                                      finding_weights={"No Finding": 0.5, "Effusion": 0.5}), tmp_path / "s")
    markers = Markers.read(tmp_path / "s/markers.csv")
    dev = meta[~meta["shifted"]]
    assert (markers.table.loc[meta.loc[meta["shifted"], "Image Index"], "ceiling"] == "").all()
    copies = markers.ceiling_of(dev["Image Index"])
    for name, copy in zip(dev["Image Index"], copies):
        film, twin = (np.asarray(Image.open(tmp_path / "s/images" / n)) for n in (name, copy))
        spot = markers.slices(copy, 24)
        assert markers.table.loc[copy, "marker"] == (twin[spot] == 255).all()
        outside = np.ones_like(film, bool)
        outside[spot] = False
        assert np.array_equal(film[outside], twin[outside]), "the same film but for the marker"
    positive = (dev["Finding Labels"] != "No Finding").to_numpy()
    films, drawn = markers.carries(dev["Image Index"]), markers.carries(copies)
    assert films[positive].mean() > 0.8 > 0.2 > films[~positive].mean()
    assert drawn[positive].mean() == pytest.approx(0.5, abs=0.1) and drawn[~positive].mean() == pytest.approx(0.5, abs=0.1)


def test_confounder_rate_is_what_was_asked():
    meta = metadata(SyntheticConfig(patients=6000, confounder_rate=0.9, seed=1))
    dev, shifted = meta[~meta["shifted"]], meta[meta["shifted"]]
    pos = dev["Finding Labels"] != "No Finding"
    assert dev.loc[pos, "marker"].mean() == pytest.approx(0.9, abs=0.02)
    assert dev.loc[~pos, "marker"].mean() == pytest.approx(0.1, abs=0.02)
    assert shifted["marker"].mean() == pytest.approx(0.5, abs=0.03)
    assert marker_probability("Effusion", False, None) == 0


def test_several_images_per_patient_and_every_finding():
    meta = metadata(SyntheticConfig(patients=300, seed=0))
    assert meta.groupby("Patient ID").size().max() > 1
    found = set(meta["Finding Labels"].str.split("|").explode())
    assert found == set(FINDINGS)


def test_deterministic_from_a_seed(tmp_path):
    cfg = SyntheticConfig(patients=12, image_size=64, seed=5, confounder_rate=0.8)
    synthesize(cfg, tmp_path / "a")
    synthesize(cfg, tmp_path / "b")
    for sub in ("images", "lung_masks", "lesion_masks"):
        files = sorted(f.relative_to(tmp_path / "a") for f in (tmp_path / "a" / sub).rglob("*.png"))
        assert files == sorted(f.relative_to(tmp_path / "b") for f in (tmp_path / "b" / sub).rglob("*.png"))
        for f in files:
            assert np.array_equal(np.asarray(Image.open(tmp_path / "a" / f)), np.asarray(Image.open(tmp_path / "b" / f)))
    assert (tmp_path / "a/markers.csv").read_text() == (tmp_path / "b/markers.csv").read_text()
    assert (tmp_path / "a" / "Data_Entry.csv").read_text() == (tmp_path / "b" / "Data_Entry.csv").read_text()
    other = metadata(SyntheticConfig(patients=12, image_size=64, seed=6))
    assert not other["Finding Labels"].equals(pd.read_csv(tmp_path / "a" / "Data_Entry.csv")["Finding Labels"])
