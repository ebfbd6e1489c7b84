"""The shortcut benchmark of one confounder: a shortcut config (by default ``config/shortcut.yaml``,
synthetic radiographs; ``config/shortcut_real.yaml`` the real films with an implanted effusion).
For the square marker, both placements: the config's own (the corner) and its twin with the marker
inside the upper lung field (dataset ``<dataset>_lung``), run at once (the cores split between
them, so that neither half's serial start leaves a core idle). For another cue of the implanted
source (``--confounder text``, ``style`` or ``tube``), the config with that cue (dataset
``<dataset>_<cue>``). Times them and keeps the paired tables, the verdicts, the figures, the
finding and cue coverage and the U-Net's report in ``bench/results/``. With ``--shared-unet`` the
lung U-Net is trained once, on all cores, first (the real films' U-Net depends on no cue).

    python bench/shortcut.py --cores 2
    python bench/shortcut.py --cores 2 --config config/shortcut_real.yaml --shared-unet
    python bench/shortcut.py --cores 2 --config config/shortcut_real.yaml --shared-unet --confounder text
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from costs import run_costs
from provenance import stamp

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def configs(config: Path, confounder: str, work: Path, unet: str | None) -> dict[str, Path]:
    """The settings to run, each a config written into ``work`` (reading ``unet`` when given): for the
    square, the corner config as it is and its in-lung twin; for another cue, the config with it."""
    base = yaml.safe_load(config.read_text())
    kind = base["source"]["kind"]
    if confounder == "square":
        variants = {"corner": (base["dataset"], {}), "lung": (f"{base['dataset']}_lung", {"marker_placement": "lung"})}
    else:
        variants = {confounder: (f"{base['dataset']}_{confounder}", {"confounder": confounder})}
    written = {}
    for setting, (dataset, source) in variants.items():
        cfg = {**base, "dataset": dataset, "source": {**base["source"], kind: {**base["source"][kind], **source}}}
        if unet:
            cfg["unet"] = {**base.get("unet", {}), "checkpoint": unet}
        written[setting] = work / f"{dataset}.yaml"
        written[setting].write_text(yaml.safe_dump(cfg, sort_keys=False))
    return written


def keep(dataset: str) -> list[str]:
    """Copy the dataset's shortcut tables and figures, its finding coverage and its U-Net's report
    (without the per-image list) into bench/results/."""
    out = ROOT / "results" / dataset
    kept = []
    for path in [*(out / "tables/md").glob(f"{dataset}_*_shortcut*.md"),
                 *(out / "tables/figures").glob(f"{dataset}_*_shortcut*.png")]:
        shutil.copy(path, RESULTS / path.name)
        kept.append(path.name)
    for path in (out / "masks").glob("*.coverage.json"):
        shutil.copy(path, RESULTS / f"{dataset}_{path.name}")
        kept.append(f"{dataset}_{path.name}")
    if (out / "unet/report.json").exists():
        report = {k: v for k, v in json.loads((out / "unet/report.json").read_text()).items() if k != "per_image"}
        (RESULTS / f"{dataset}_unet.json").write_text(json.dumps(report, indent=1) + "\n")
        kept.append(f"{dataset}_unet.json")
    return sorted(kept)


def snakemake(venv: Path, cores: str, config: Path, *targets: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([str(venv / "snakemake"), "--cores", cores, "--configfile", str(config), "--rerun-incomplete",
                             *targets], cwd=ROOT, **popen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", type=int, default=2, help="in all; split between the settings")
    ap.add_argument("--config", type=Path, default=ROOT / "config/shortcut.yaml", help="the benchmark's config (the "
                                                                                     "square in the corner)")
    ap.add_argument("--shared-unet", action="store_true", help="train the lung U-Net once, first, for every setting")
    ap.add_argument("--confounder", default="square", choices=["square", "text", "style", "tube"],
                    help="the cue (the implanted source's source.implanted.confounder; synthetic: square only)")
    a = ap.parse_args()
    work = ROOT / "results" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    venv = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{venv}{os.pathsep}{os.environ.get('PATH', '')}"}
    dataset = yaml.safe_load(a.config.read_text())["dataset"]
    tic = time.time()
    unet = None
    if a.shared_unet:
        unet = f"results/{dataset}/unet/unet.pt"
        with (work / f"{dataset}_unet.log").open("w") as out:
            print(f"the lung U-Net on {a.cores} core(s), log {(work / f'{dataset}_unet.log').relative_to(ROOT)}", flush=True)
            if snakemake(venv, str(a.cores), a.config, unet, env=env, stdout=out, stderr=subprocess.STDOUT).wait():
                sys.exit(f"the lung U-Net failed: see {work / f'{dataset}_unet.log'}")
    settings = configs(a.config, a.confounder, work, unet)
    cores = str(max(1, a.cores // len(settings)))
    running = {}
    for setting, config in settings.items():
        log = work / f"{dataset}_{setting}.log"
        print(f"{setting}: Snakemake on {cores} core(s), log {log.relative_to(ROOT)}", flush=True)
        with log.open("w") as out:
            running[setting] = (config, snakemake(venv, cores, config, env=env, stdout=out, stderr=subprocess.STDOUT))
    report = {**stamp(), "config": str(a.config.resolve().relative_to(ROOT)), "confounder": a.confounder,
              "cores": a.cores}
    if unet:
        report["unet_minutes"] = round((time.time() - tic) / 60, 1)
    while running:
        time.sleep(5)
        for setting, (config, job) in list(running.items()):
            if job.poll() is None:
                continue
            if job.returncode:
                sys.exit(f"the {setting} setting failed (exit {job.returncode}): see {work / f'{dataset}_{setting}.log'}")
            del running[setting]
            name = yaml.safe_load(config.read_text())["dataset"]
            report[setting] = {"dataset": name, "minutes": round((time.time() - tic) / 60, 1), "kept": keep(name),
                               "costs": run_costs(name)}
            print(json.dumps({setting: report[setting]}), flush=True)
    report["total_minutes"] = round((time.time() - tic) / 60, 1)
    timing = f"{dataset}_timing.json" if a.confounder == "square" else f"{dataset}_{a.confounder}_timing.json"
    (RESULTS / timing).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
