"""A trained run beyond its own split: ``cxrloc predict`` on a folder of films (the study's own test
films, whose probabilities evaluate already computed, and real films of any size), and external
test sets in the study, added to a finished study without training anything."""

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from cxrloc.cli import main
from PIL import Image

from .conftest import SHARED
from .test_errors import bomb, one_line_error
from .test_vindr import vindr_shaped
from .workflow import OUT, TINY, UPSTREAM, cxrloc, seed_upstream, snakemake

pytestmark = pytest.mark.workflow
RUN = f"{OUT}/runs/resnet18_tiny_ne_la0.5_t0.5_s0_soft"
REAL = SHARED / "data/real-lungs"


def test_predict_gives_evaluates_probabilities_overlays_and_an_overview(study, tmp_path):
    """The study's test films through ``cxrloc predict`` with nothing but the run: the probabilities
    are those evaluate computed for the same films; every film gets its overlay."""
    splits = pd.read_csv(study / OUT / "splits/ne.csv")
    test = splits[splits["split"] == "test"]
    films = tmp_path / "films"
    films.mkdir()
    for name in test["image"]:
        shutil.copy(study / OUT / "raw/images" / name, films / name)
    proc = cxrloc("predict", "--run", str(study / RUN), "--images", str(films), "--out", str(tmp_path / "out"))
    assert "lung U-Net" in proc.stdout and str(study / OUT / "unet/unet.pt") in proc.stdout
    table = pd.read_csv(tmp_path / "out/predictions.csv").set_index("image")
    metrics = json.loads((study / RUN / "metrics.json").read_text())
    evaluated = pd.Series(np.array(metrics["test"]["proba"])[:, 0], index=test["image"])
    assert np.abs(table.loc[evaluated.index, "p_Effusion"] - evaluated).max() < 1e-4
    assert np.allclose(table["p_No Finding"] + table["p_Effusion"], 1, atol=1e-5)
    threshold = metrics["val"]["metrics"]["youden_threshold"]
    assert np.allclose(table["threshold"], threshold, rtol=0, atol=1e-12)
    assert ((table["predicted"] == "Effusion") == (table["p_Effusion"] >= threshold)).all()
    for name in test["image"]:
        overlay = np.asarray(Image.open(tmp_path / "out/cams" / name))
        assert overlay.shape == (*Image.open(films / name).size[::-1], 3)
    assert (tmp_path / "out/overview.png").stat().st_size > 5000


@pytest.mark.skipif(not (REAL / "labels.csv").exists(),
                    reason=f"needs the real radiographs in {REAL} (not shipped: licenses)")
def test_predict_on_real_films_of_any_size_and_from_a_table(study, tmp_path):
    names = sorted(p.name for p in (REAL / "images").iterdir())[:5]
    pd.DataFrame({"image": [f"images/{n}" for n in names]}).to_csv(tmp_path / "films.csv", index=False)
    (tmp_path / "images").symlink_to(REAL / "images")
    cxrloc("predict", "--run", str(study / RUN), "--table", str(tmp_path / "films.csv"), "--out", str(tmp_path / "out"))
    table = pd.read_csv(tmp_path / "out/predictions.csv")
    assert table["image"].tolist() == [f"images/{n}" for n in names]
    for name in names:
        film = Image.open(REAL / "images" / name)
        assert Image.open(tmp_path / "out/cams/images" / name).size == film.size


def test_predict_errors_are_one_line(study, tmp_path):
    films = tmp_path / "films"
    films.mkdir()
    (films / "broken.png").write_bytes(b"not a film")
    message = one_line_error("predict", "--run", str(study / RUN), "--images", str(films), "--out", str(tmp_path / "o"))
    assert f"cannot decode image {films / 'broken.png'}" in message and not (tmp_path / "o/predictions.csv").exists()
    message = one_line_error("predict", "--run", str(tmp_path), "--images", str(films), "--out", str(tmp_path / "o"))
    assert f"{tmp_path} holds no model.pt" in message
    (films / "broken.png").unlink()
    bomb(films / "huge.png")
    message = one_line_error("predict", "--run", str(study / RUN), "--images", str(films), "--out", str(tmp_path / "o"))
    assert f"cannot decode image {films / 'huge.png'}" in message and "decompression bomb" in message
    if not torch.cuda.is_available():
        message = one_line_error("predict", "--run", str(study / RUN), "--images", str(films), "--out",
                                 str(tmp_path / "o"), "--device", "cuda")
        assert "CUDA is not available here; give --device cpu to run on the CPU" in message


def test_predict_and_segment_lungs_keep_what_they_did_not_write_and_never_read_their_own_output(study, tmp_path):
    """Files already in the output's folders stay; films in subfolders are read too; an output folder
    inside the films' folder is refused (a second run read the first one's overview as a film)."""
    test = pd.read_csv(study / OUT / "splits/ne.csv").query("split == 'test'")["image"].tolist()[:3]
    films = tmp_path / "films"
    (films / "ward").mkdir(parents=True)
    for name, where in zip(test, ("", "", "ward")):
        shutil.copy(study / OUT / "raw/images" / name, films / where / name)
    out = tmp_path / "out"
    for sub in ("cams", "masks"):
        (out / sub).mkdir(parents=True)
        (out / sub / "keep_me.png").write_bytes(b"mine")
    main(["predict", "--run", str(study / RUN), "--images", str(films), "--out", str(out)])
    main(["segment-lungs", "--checkpoint", str(study / OUT / "unet/unet.pt"), "--images", str(films), "--out", str(out)])
    assert (out / "cams/keep_me.png").read_bytes() == (out / "masks/keep_me.png").read_bytes() == b"mine"
    assert sorted(pd.read_csv(out / "predictions.csv")["image"]) == sorted([*test[:2], f"ward/{test[2]}"])
    assert (out / "cams/ward" / test[2]).is_file() and (out / "masks" / test[2]).is_file()
    assert len(pd.read_csv(out / "boxes.csv")) == 3
    for inside in (films, films / "ward"):
        for command in (["predict", "--run", str(study / RUN)], ["segment-lungs", "--checkpoint",
                                                                  str(study / OUT / "unet/unet.pt")]):
            message = one_line_error(*command, "--images", str(films), "--out", str(inside))
            assert f"--out {inside} lies inside --images {films}" in message
    assert not (films / "overview.png").exists() and not (films / "overlays.png").exists()


@pytest.mark.parametrize("flag, value", [("--batch", "0"), ("--batch", "-1"), ("--threads", "0")])
def test_predict_refuses_a_count_below_one_before_writing(study, tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as e:
        main(["predict", "--run", str(study / RUN), "--images", str(study / OUT / "raw/images"), "--out",
              str(tmp_path / "out"), flag, value])
    assert e.value.code == 2 and f"argument {flag}: '{value}' is not a whole number of at least 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def chexpert_shaped(tmp_path, meta: pd.DataFrame):
    """Films of the tiny study as a CheXpert folder: its train.csv and valid.csv (the published header
    and value conventions: 1.0, blank, a lateral view beside each frontal one) and JPEG films."""
    from .test_public import CHEXPERT_HEADER, chexpert_row

    root = tmp_path / "CheXpert-v1.0-small"
    rows = []
    for k, film in enumerate(meta.itertuples()):
        folder = f"{'valid' if k % 4 == 0 else 'train'}/patient{film[4]:05d}/study{k}"
        (root / folder).mkdir(parents=True)
        Image.open(tmp_path / OUT / "raw/images" / film[1]).convert("L").save(root / folder / "view1_frontal.jpg", quality=95)
        finding = {"No Finding": "No_Finding", "Effusion": "Pleural_Effusion"}.get(film[2], "Cardiomegaly")
        rows.append((folder, chexpert_row(f"{folder}/view1_frontal.jpg", **{finding: "1.0"})))
        rows.append((folder, chexpert_row(f"{folder}/view2_lateral.jpg", frontal="Lateral", **{finding: "1.0"})))
    for name in ("train", "valid"):
        pd.DataFrame([r for folder, r in rows if folder.startswith(name)], columns=CHEXPERT_HEADER).to_csv(
            root / f"{name}.csv", index=False)
    return root


def test_an_external_set_added_to_a_finished_study_trains_nothing(study, tmp_path):
    """The tiny study, finished, then given external sets (a synthetic cohort of another seed and
    confounder rate, a csv table, a CheXpert-shaped folder, VinDr-shaped DICOM films with two readers'
    boxes): Snakemake caches them, segments them
    and evaluates every run on each, and trains nothing; their tables and the summary hold the
    numbers of their own evaluation."""
    seed_upstream(study, tmp_path, (*UPSTREAM, "runs"))
    cfg = yaml.safe_load(TINY.read_text())
    cfg["external"] = {"shifted": {"kind": "synthetic", "synthetic": {
        "patients": 60, "max_images_per_patient": 2, "image_size": 64, "confounder_rate": 0.5, "lesion_contrast": 0.7,
        "seed": 7}}}
    meta = pd.read_csv(tmp_path / OUT / "raw/Data_Entry.csv").head(60)  # a csv set with the default column names
    pd.DataFrame({"image": meta["Image Index"], "label": meta["Finding Labels"], "patient": meta["Patient ID"]}).to_csv(
        tmp_path / "ward.csv", index=False)
    cfg["external"]["ward_b"] = {"kind": "csv", "root": str(tmp_path / OUT / "raw/images"), "table": str(tmp_path / "ward.csv")}
    cfg["external"]["chexpert_ward"] = {"kind": "chexpert", "root": str(chexpert_shaped(tmp_path, meta.tail(40)))}
    films, annotations = vindr_shaped(tmp_path, pd.read_csv(tmp_path / OUT / "raw/Data_Entry.csv").iloc[60:120])
    cfg["external"]["vindr"] = {"kind": "vindr", "root": str(films), "table": str(annotations)}
    (tmp_path / "ext.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "--configfile", str(tmp_path / "ext.yaml"))
    log = proc.stdout + proc.stderr
    jobs = re.findall(r"^(?:local)?rule (\w+):", log, re.M)
    assert "train" not in jobs and "evaluate" not in jobs and "train_unet" not in jobs, jobs
    assert jobs.count("evaluate_external") == 8 and jobs.count("cache_external") == 1, jobs
    for name in ("ward_b", "chexpert_ward", "vindr"):
        assert (tmp_path / OUT / f"tables/md/tiny_ne_t0.5_external_{name}_lambda.md").is_file()
    chexpert = json.loads((tmp_path / OUT / "runs/resnet18_tiny_ne_la1_t0.5_s0_ce/external/chexpert_ward.json").read_text())
    films = pd.read_csv(tmp_path / OUT / "external/chexpert_ward/ne.csv")
    assert chexpert["test"]["n"] == len(films) and not films["image"].str.contains("lateral").any()
    vindr = json.loads((tmp_path / OUT / "runs/resnet18_tiny_ne_la1_t0.5_s0_ce/external/vindr.json").read_text())
    boxed = pd.read_csv(tmp_path / OUT / "external/vindr/ne.localization.csv")
    assert len(boxed) == 2 * boxed["image"].nunique() and vindr["localization_boxes"]["n"] == (boxed["split"] == "test").sum() / 2
    for lam, objective in (("1", "ce"), ("0.5", "soft")):
        run = f"{OUT}/runs/resnet18_tiny_ne_la{lam}_t0.5_s0_{objective}"
        ext = json.loads((tmp_path / run / "external/shifted.json").read_text())
        own = json.loads((tmp_path / run / "metrics.json").read_text())
        assert ext["external"] == "shifted" and "val" not in ext and ext["test"]["n"] > 0
        assert ext["localization"]["iou_threshold"] == own["localization"]["iou_threshold"]
        summary = (tmp_path / OUT / "tables/md/tiny_ne_t0.5_external.md").read_text()
        row = next(line for line in summary.splitlines() if f"λ = {lam} " in line and "shifted" in line)
        assert f"{ext['test']['metrics']['auc']:.3f}" in row and f"{own['test']['metrics']['auc']:.3f}" in row
    table = (tmp_path / OUT / "tables/md/tiny_ne_t0.5_external_shifted_lambda.md").read_text()
    assert "the external set shifted" in table and f"{ext['test']['metrics']['auc']:.3f}" in table
    assert "tiny_ne_t0.5_external" in (tmp_path / OUT / "tables/appendix.tex").read_text().replace("\\_", "_")
