"""The shortcut benchmark, both marker placements: ``config/shortcut.yaml`` (corner marker)
and its twin with the marker inside the upper lung field (dataset ``shortcut_lung``). Runs
Snakemake on both at once (the cores split between them, so that neither half's serial start,
the synthetic set and its U-Net, leaves a core idle), times them, and keeps the paired tables
and figures in ``bench/results/``.

    python bench/shortcut.py --cores 2
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def configs(work: Path) -> dict[str, Path]:
    """The corner config as it is, and its in-lung twin written into ``work``."""
    corner = yaml.safe_load((ROOT / "config/shortcut.yaml").read_text())
    lung = {**corner, "dataset": "shortcut_lung"}
    lung["source"] = {**corner["source"], "synthetic": {**corner["source"]["synthetic"], "marker_placement": "lung"}}
    (work / "shortcut_lung.yaml").write_text(yaml.safe_dump(lung, sort_keys=False))
    return {"corner": ROOT / "config/shortcut.yaml", "lung": work / "shortcut_lung.yaml"}


def keep(dataset: str) -> list[str]:
    """Copy the dataset's shortcut tables and figures into bench/results/."""
    tables = ROOT / "results" / dataset / "tables"
    kept = []
    for path in [*(tables / "md").glob(f"{dataset}_*_shortcut*.md"), *(tables / "figures").glob(f"{dataset}_*_shortcut*.png")]:
        shutil.copy(path, RESULTS / path.name)
        kept.append(path.name)
    return sorted(kept)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cores", type=int, default=2, help="in all; each placement gets half")
    a = ap.parse_args()
    work = ROOT / "results" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    venv = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{venv}{os.pathsep}{os.environ.get('PATH', '')}"}
    cores = str(max(1, a.cores // 2))
    tic = time.time()
    running = {}
    for placement, config in configs(work).items():
        log = work / f"{placement}.log"
        print(f"{placement}: Snakemake on {cores} core(s), log {log.relative_to(ROOT)}", flush=True)
        with log.open("w") as out:
            running[placement] = (config, subprocess.Popen([str(venv / "snakemake"), "--cores", cores, "--configfile",
                                                            str(config), "--rerun-incomplete"],
                                                           cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
    report = {}
    while running:
        time.sleep(5)
        for placement, (config, job) in list(running.items()):
            if job.poll() is None:
                continue
            if job.returncode:
                sys.exit(f"the {placement} placement failed (exit {job.returncode}): see {work / f'{placement}.log'}")
            del running[placement]
            dataset = yaml.safe_load(config.read_text())["dataset"]
            report[placement] = {"dataset": dataset, "minutes": round((time.time() - tic) / 60, 1), "kept": keep(dataset)}
            print(json.dumps({placement: report[placement]}), flush=True)
    report["total_minutes"] = round((time.time() - tic) / 60, 1)
    (RESULTS / "shortcut_timing.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
