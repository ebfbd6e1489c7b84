"""What `make demo` costs a newcomer: a fresh clone of this checkout, the environment's set-up and the
pipeline timed apart, and the disk each takes. Writes ``bench/results/demo_cpu.json`` (the README's
quick start quotes it); the clone is deleted afterwards.

    python bench/demo.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from cxrloc.atomic import atomic_write_json
from provenance import stamp

ROOT = Path(__file__).resolve().parents[1]


def minutes(*command: str, cwd: Path) -> float:
    tic = time.time()
    subprocess.run(command, cwd=cwd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return round((time.time() - tic) / 60, 1)


def gigabytes(folder: Path) -> float:
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
    return round(size / 2**30, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/demo_cpu.json")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cxrloc-demo-"))
    try:
        clone = work / "cxrloc"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        result = {**stamp(), "setup_minutes": minutes("make", ".venv/.installed", cwd=clone),
                  "demo_minutes": minutes("make", "demo", cwd=clone),
                  "venv_gb": gigabytes(clone / ".venv"), "results_gb": gigabytes(clone / "results")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["total_minutes"] = round(result["setup_minutes"] + result["demo_minutes"], 1)
    atomic_write_json(a.out, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
