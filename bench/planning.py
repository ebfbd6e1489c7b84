"""What planning costs: ``cxrloc --help`` wall time, and the project's own import share of a
Snakemake dry run on the NIH config (``python -X importtime``: the cumulative time of each
top-level ``cxrloc`` import, which includes whatever it pulls in). Prints JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import stamp

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def help_seconds(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        subprocess.run([str(BIN / "cxrloc"), "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - tic)
    return sorted(times)[len(times) // 2]


def project_import_share(config: str) -> dict:
    """Cumulative import time (s) of the top-level cxrloc modules a Snakemake parse loads."""
    with tempfile.TemporaryDirectory() as work:
        tic = time.perf_counter()
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "snakemake", "-n", "-s", str(ROOT / "Snakefile"),
                               "--directory", work, "--configfile", str(ROOT / config), "--cores", "1"],
                              capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=work)
        wall = time.perf_counter() - tic
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-2000:] + proc.stderr[-3000:])
    rows = [(int(cum) / 1e6, len(indent), name) for cum, indent, name in
            re.findall(r"^import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)$", proc.stderr, re.M)]
    top = {}
    for i, (cum, depth, name) in enumerate(rows):
        # importtime lists children before their parent: the parent is the next line less indented
        parent = next((n for _, d, n in rows[i + 1:] if d < depth), "")
        if name.split(".")[0] == "cxrloc" and parent.split(".")[0] != "cxrloc":
            top[name] = cum
    heavy = sorted({name for _, _, name in rows if name in ("torch", "timm", "segmentation_models_pytorch")})
    return {"config": config, "dry_run_wall_s": round(wall, 2), "project_import_s": round(sum(top.values()), 3),
            "project_modules": {k: round(v, 3) for k, v in top.items()}, "heavy_modules_loaded": heavy}


if __name__ == "__main__":
    print(json.dumps({**stamp(), "cxrloc_help_s": round(help_seconds(), 3), **project_import_share("config/nih.yaml")},
                     indent=1))
