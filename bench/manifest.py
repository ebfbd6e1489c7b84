"""What the films digest costs at planning on a study of NIH's size: a folder of 112,120 small files
(NIH's flat layout, names like NIH's), listed, statted and hashed as every parse of a study whose films
the user holds does (``cxrloc.data.manifest``). The first pass reads cold metadata only if the page
cache was dropped; the median of warm repeats is what a rerun pays. Writes
``bench/results/manifest_cpu.json``.

    python bench/manifest.py --files 112120 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from cxrloc.atomic import atomic_write_json
from cxrloc.data.manifest import films_digest
from provenance import stamp

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=112_120)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/manifest_cpu.json")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for i in range(a.files):
            (folder / f"{i // 10:08d}_{i % 10:03d}.png").write_bytes(b"x" * (i % 97))
        first = time.perf_counter()
        films_digest(folder)
        first = time.perf_counter() - first
        times = []
        for _ in range(a.repeats):
            tic = time.perf_counter()
            films_digest(folder)
            times.append(time.perf_counter() - tic)
    result = {**stamp(), "files": a.files, "first_seconds": round(first, 3),
              "median_seconds": round(statistics.median(times), 3), "repeats": a.repeats}
    atomic_write_json(a.out, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
