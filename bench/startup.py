"""How long a training or evaluation job takes to start: the wall time of a fresh Python that imports
what the job imports before its first line of work (the CLI and the job's module), side by side
with a bare ``import torch, timm`` (what any such job must load), median of interleaved repeats.
Writes ``bench/results/startup_cpu.json``.

    python bench/startup.py --repeats 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from cxrloc.atomic import atomic_write_json
from provenance import stamp

ROOT = Path(__file__).resolve().parents[1]
STARTS = {
    "import torch, timm": "import torch, timm",
    "train job": "import cxrloc.cli, cxrloc.train.job",
    "evaluate job": "import cxrloc.cli, cxrloc.train.evaluate",
}


def seconds(code: str) -> float:
    tic = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - tic


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/startup_cpu.json")
    a = ap.parse_args()
    for code in STARTS.values():  # warm the file cache once
        seconds(code)
    times = {name: [] for name in STARTS}
    for _ in range(a.repeats):
        for name, code in STARTS.items():
            times[name].append(seconds(code))
    median = {name: round(statistics.median(t), 3) for name, t in times.items()}
    result = {**stamp(), "repeats": a.repeats, "median_seconds": median,
              "over_torch_timm_seconds": {n: round(median[n] - median["import torch, timm"], 3) for n in STARTS}}
    atomic_write_json(a.out, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
