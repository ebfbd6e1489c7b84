"""The shortcut benchmark, both marker placements: a shortcut config (by default
``config/shortcut.yaml``, synthetic radiographs; ``config/shortcut_real.yaml`` the real films with
an implanted effusion) with its marker in the corner, and its twin with the marker inside the
upper lung field (dataset ``<dataset>_lung``). Runs Snakemake on both at once (the cores split
between them, so that neither half's serial start leaves a core idle), times them, and keeps the
paired tables, the verdicts, the figures, the finding coverage and the U-Net's report in
``bench/results/``. With ``--shared-unet`` the lung U-Net is trained once, on all cores, before
both placements start (the real films' U-Net does not depend on the placement).

    python bench/shortcut.py --cores 2
    python bench/shortcut.py --cores 2 --config config/shortcut_real.yaml --shared-unet
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
from provenance import stamp

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def configs(config: Path, work: Path, unet: str | None) -> dict[str, Path]:
    """The corner config as it is, and its in-lung twin written into ``work`` (reading ``unet`` when given)."""
    corner = yaml.safe_load(config.read_text())
    kind = corner["source"]["kind"]
    lung = {**corner, "dataset": f"{corner['dataset']}_lung"}
    lung["source"] = {**corner["source"], kind: {**corner["source"][kind], "marker_placement": "lung"}}
    if unet:
        lung["unet"] = {**corner.get("unet", {}), "checkpoint": unet}
    (work / f"{lung['dataset']}.yaml").write_text(yaml.safe_dump(lung, sort_keys=False))
    return {"corner": config, "lung": work / f"{lung['dataset']}.yaml"}


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
    ap.add_argument("--cores", type=int, default=2, help="in all; each placement gets half")
    ap.add_argument("--config", type=Path, default=ROOT / "config/shortcut.yaml", help="the corner placement's config")
    ap.add_argument("--shared-unet", action="store_true", help="train the lung U-Net once, first, for both placements")
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
    cores = str(max(1, a.cores // 2))
    running = {}
    for placement, config in configs(a.config, work, unet).items():
        log = work / f"{dataset}_{placement}.log"
        print(f"{placement}: Snakemake on {cores} core(s), log {log.relative_to(ROOT)}", flush=True)
        with log.open("w") as out:
            running[placement] = (config, snakemake(venv, cores, config, env=env, stdout=out, stderr=subprocess.STDOUT))
    report = {**stamp(), "config": str(a.config.resolve().relative_to(ROOT)), "cores": a.cores}
    if unet:
        report["unet_minutes"] = round((time.time() - tic) / 60, 1)
    while running:
        time.sleep(5)
        for placement, (config, job) in list(running.items()):
            if job.poll() is None:
                continue
            if job.returncode:
                sys.exit(f"the {placement} placement failed (exit {job.returncode}): see "
                         f"{work / f'{dataset}_{placement}.log'}")
            del running[placement]
            name = yaml.safe_load(config.read_text())["dataset"]
            report[placement] = {"dataset": name, "minutes": round((time.time() - tic) / 60, 1), "kept": keep(name)}
            print(json.dumps({placement: report[placement]}), flush=True)
    report["total_minutes"] = round((time.time() - tic) / 60, 1)
    (RESULTS / f"{dataset}_timing.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
