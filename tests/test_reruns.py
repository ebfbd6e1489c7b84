"""The README's partial-rerun recipes: which jobs Snakemake would run, and, run for real on
one's own study (a CSV set), that what reruns really retrains."""

import re
import shutil

import pandas as pd
import pytest
import yaml

from .workflow import OUT, TINY, in_study, snakemake

pytestmark = pytest.mark.workflow
# the default target compiles appendix.pdf where LaTeX is installed: it follows every aggregate
PDF = {"appendix_pdf": 1} if shutil.which("latexmk") and shutil.which("pdflatex") else {}


def planned(work, *args) -> dict[str, int]:
    out = snakemake(work, "--configfile", str(TINY), "-n", *args).stdout
    if "Nothing to be done" in out:
        return {}
    table = out[out.index("Job stats") :]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, re.M) if rule not in ("total", "all")}


def test_stop_after_split_preparation(tmp_path):
    assert planned(tmp_path, "--until", "prepare_splits") == {"synthesize": 1, "prepare_splits": 1}


def test_retrain_one_backbone_only(study):
    models = sorted(str(p.relative_to(study)) for p in (study / OUT / "runs").glob("resnet18_*/model.pt"))
    assert len(models) == 2
    assert planned(study, "--forcerun", *models) == {"train": 2, "evaluate": 2, "aggregate": 1, **PDF}


def test_force_one_rule_reruns_it_and_what_depends_on_it(study):
    assert planned(study, "--forcerun", "precache_masks") == {
        "precache_masks": 1, "finding_coverage": 1, "train": 2, "evaluate": 2, "aggregate": 1, **PDF}


def test_a_parameter_change_retrains_unless_triggers_say_otherwise(study, tmp_path):
    cfg = yaml.safe_load(TINY.read_text())
    cfg["train"]["epochs"] = 3
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    out = in_study(study, "--configfile", str(changed), "-n").stdout
    assert re.search(r"^train\s+2$", out, re.M) and re.search(r"^evaluate\s+2$", out, re.M)
    assert not re.search(r"^precache_masks\s+1$", out, re.M)
    quiet = in_study(study, "--configfile", str(changed), "-n", "--rerun-triggers", "mtime").stdout
    assert "Nothing to be done" in quiet


def test_forcerun_of_one_model_really_retrains(study, tmp_path):
    """A rerun never "resumes" a finished run: --forcerun of one model trains it from epoch 0 (that a
    rebuilt cache changes a run's fingerprint, test_resume checks). On a copy of the study: the
    retraining removes the run's evaluation, which other tests read."""
    shutil.copytree(study / OUT, tmp_path / OUT)
    model = f"{OUT}/runs/resnet18_tiny_ne_la0.5_t0.5_s0_soft/model.pt"
    log = tmp_path / OUT / "logs/train/resnet18_tiny_ne_la0.5_t0.5_s0_soft.log"
    history = tmp_path / model.replace("model.pt", "history.csv")
    before = pd.read_csv(history)
    snakemake(tmp_path, model, "--forcerun", model, "--configfile", str(TINY))
    assert "resuming" not in log.read_text() and "epoch 0:" in log.read_text()
    pd.testing.assert_frame_equal(pd.read_csv(history)[["loss", "val_acc"]], before[["loss", "val_acc"]])


def _films_study(tmp_path, kind):
    """A study of films the user holds (class folders, or a table of films), and its config."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "films"
    rows = []
    for split in ("train", "val", "test"):
        for label, folder in enumerate(("0NoFinding", "1Effusion")):
            (root / split / folder).mkdir(parents=True)
            for i in range(3):
                name = f"{split}/{folder}/{i}.png"
                Image.fromarray(np.full((16, 16), 40 * i + 100 * label, np.uint8)).save(root / name)
                rows.append({"file": name, "finding": ["No Finding", "Effusion"][label], "subject": f"{split}{i}{label}"})
    cfg = {**yaml.safe_load(TINY.read_text()), "dataset": "films"}
    if kind == "csv":
        pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
        cfg["source"] = {"kind": "csv", "root": str(root), "table": str(tmp_path / "labels.csv"),
                         "columns": {"image": "file", "labels": "finding", "patient": "subject"}}
    else:
        cfg["source"] = {"kind": "imagefolder", "root": str(root)}
    (tmp_path / "films.yaml").write_text(yaml.safe_dump(cfg))
    return root, tmp_path / "films.yaml"


@pytest.mark.parametrize("kind", ["imagefolder", "csv"])
def test_a_film_overwritten_in_place_or_added_reruns_what_reads_it(tmp_path, kind):
    """Snakemake compares a folder's own time only: a film overwritten inside it, or added to a class
    folder, left the old cache (and every model and table after it) standing."""
    import numpy as np
    from cxrloc.data.imagecache import ImageCache
    from PIL import Image

    root, config = _films_study(tmp_path, kind)
    cache = "results/films/cache/images.npy"
    snakemake(tmp_path, cache, "--configfile", str(config))
    film = root / "test/1Effusion/0.png"
    Image.fromarray(np.full((16, 16), 7, np.uint8)).save(film)
    if kind == "imagefolder":
        shutil.copy(film, root / "train/1Effusion/new.png")
    snakemake(tmp_path, cache, "--configfile", str(config))
    read = ImageCache(tmp_path / "results/films/cache")
    assert (read.images()[read.index["test/1Effusion/0.png"]] == 7).all()
    assert ("train/1Effusion/new.png" in read.index) == (kind == "imagefolder")
    again = snakemake(tmp_path, cache, "--configfile", str(config))
    assert "Nothing to be done" in again.stdout + again.stderr, "an unchanged folder reruns nothing"


def test_a_killed_retraining_leaves_no_old_result_standing(study, tmp_path):
    """Snakemake deletes a job's own outputs before it runs, not the evaluation after it: a retraining
    killed mid-way left the old metrics.json and cams.npz, and a plain rerun found nothing to do."""
    import os
    import signal
    import subprocess
    import time

    from .workflow import BIN, ROOT, env

    shutil.copytree(study / OUT, tmp_path / OUT)
    cfg = yaml.safe_load(TINY.read_text())
    cfg["train"]["epochs"] = 3
    (tmp_path / "three.yaml").write_text(yaml.safe_dump(cfg))
    run = tmp_path / OUT / "runs/resnet18_tiny_ne_la0.5_t0.5_s0_soft"
    (run / "state.pt").unlink(missing_ok=True)
    target = str((run / "metrics.json").relative_to(tmp_path))
    cmd = [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "--cores", "1", target,
           "--forcerun", target.replace("metrics.json", "model.pt"), "--configfile", str(tmp_path / "three.yaml")]
    with open(tmp_path / "killed.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env(), cwd=tmp_path, stdout=log, stderr=log, start_new_session=True)
    deadline = time.time() + 120
    while not (run / "state.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: Snakemake and its job alike
    proc.wait(timeout=120)
    assert "epoch 0:" in (tmp_path / OUT / "logs/train/resnet18_tiny_ne_la0.5_t0.5_s0_soft.log").read_text()
    assert not (run / "model.pt").exists(), "killed before the retraining finished"
    assert not (run / "metrics.json").exists() and not (run / "cams.npz").exists()
