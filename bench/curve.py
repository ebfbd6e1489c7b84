"""The learning curve on the real films (``config/curve_real.yaml``): does segmentation-driven
attention help when films are few? The config runs at each share of the training patients
(``train.patients``; dataset ``<dataset>_p<percent>``), the lung U-Net trained once, first, for all
of them; two shares at a time, the cores split between them. Then ``cxrloc learning-curve`` writes the
table, the verdict and the figure; they and the timing are kept in ``bench/results/``.

    python bench/curve.py --cores 2
    python bench/curve.py --cores 40 --profile profiles/slurm     # on a SLURM cluster: --cores is jobs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from costs import run_costs
from provenance import stamp

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SHARES = (1.0, 0.5, 0.25, 0.1)  # largest first: the lanes end together


def share_configs(config: Path, shares: tuple[float, ...], work: Path, unet: str) -> dict[float, Path]:
    """One config per share, written into ``work``: the base config at that ``train.patients``, as its
    own dataset, reading the shared U-Net."""
    base = yaml.safe_load(config.read_text())
    written = {}
    for share in shares:
        dataset = f"{base['dataset']}_p{round(100 * share)}"
        cfg = {**base, "dataset": dataset, "train": {**base["train"], "patients": share},
               "unet": {**base["unet"], "checkpoint": unet}}
        written[share] = work / f"{dataset}.yaml"
        written[share].write_text(yaml.safe_dump(cfg, sort_keys=False))
    return written


def grid_runs(config: Path) -> list[Path]:
    """The metrics files of the config's runs (its objectives with cross-entropy, λ values and seeds),
    leaving out any other run a folder may hold from an earlier config."""
    cfg = yaml.safe_load(config.read_text())
    wanted = {"objectives": {*cfg["objectives"], "ce"}, "lambda": {f"{lam:g}" for lam in cfg["lambdas"]},
              "seed": set(cfg["seeds"])}
    files = []
    for path in sorted((ROOT / "results" / cfg["dataset"] / "runs").glob("*/metrics.json")):
        run = json.loads(path.read_text())["run"]
        if run["objective"] in wanted["objectives"] and run["lambda"] in wanted["lambda"] and run["seed"] in wanted["seed"]:
            files.append(path)
    return files


def snakemake(venv: Path, cores: str, config: Path, log: Path, profile: str | None, *targets: str) -> int:
    """Run the workflow on ``config`` (its default target, or ``targets``), output into ``log``."""
    env = {**os.environ, "PATH": f"{venv}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(venv / "snakemake"), "--cores", cores, "--configfile", str(config), "--rerun-incomplete",
               *(["--workflow-profile", profile] if profile else []), *targets]
    with log.open("w") as out:
        return subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT).returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cores", type=int, default=2, help="in all; split between two shares at a time")
    ap.add_argument("--config", type=Path, default=ROOT / "config/curve_real.yaml")
    ap.add_argument("--profile", help="a Snakemake workflow profile (profiles/slurm) for every share's run")
    a = ap.parse_args()
    work = ROOT / "results" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    venv = Path(sys.executable).parent
    base = yaml.safe_load(a.config.read_text())
    dataset = base["dataset"]
    tic = time.time()
    unet = f"results/{dataset}/unet/unet.pt"
    print(f"the lung U-Net on {a.cores} core(s), log results/bench/{dataset}_unet.log", flush=True)
    if snakemake(venv, str(a.cores), a.config, work / f"{dataset}_unet.log", a.profile, unet):
        sys.exit(f"the lung U-Net failed: see {work / f'{dataset}_unet.log'}")
    report = {**stamp(), "config": str(a.config.resolve().relative_to(ROOT)), "cores": a.cores,
              "unet_minutes": round((time.time() - tic) / 60, 1)}
    configs = share_configs(a.config, SHARES, work, unet)
    lanes = min(2, len(configs))
    cores = str(max(1, a.cores // lanes))

    def run(share: float) -> tuple[float, int, float]:
        log = work / f"{configs[share].stem}.log"
        print(f"{100 * share:.0f} % of the training patients: Snakemake on {cores} core(s), log "
              f"{log.relative_to(ROOT)}", flush=True)
        return share, snakemake(venv, cores, configs[share], log, a.profile), round((time.time() - tic) / 60, 1)

    with ThreadPoolExecutor(lanes) as pool:
        for share, code, minutes in pool.map(run, configs):
            if code:
                sys.exit(f"the {100 * share:.0f} % share failed (exit {code}): see {work / configs[share].stem}.log")
            report[configs[share].stem] = {"dataset": configs[share].stem, "patients": share, "minutes": minutes,
                                           "costs": run_costs(configs[share].stem)}
    files = [str(f) for config in configs.values() for f in grid_runs(config)]
    splits = ROOT / "results" / configs[1.0].stem / "splits" / f"{base['tasks'][0]}.csv"
    out = RESULTS / dataset
    subprocess.run([str(venv / "cxrloc"), "learning-curve", "--runs", *files, "--splits", str(splits), "--out", str(out)],
                   check=True)
    report |= {"runs": len(files), "total_minutes": round((time.time() - tic) / 60, 1)}
    (RESULTS / f"{dataset}_timing.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
