"""What a benchmark's runs cost, read from the runs themselves: per objective, the mean seconds of a
training job's epochs (``history.csv``'s ``seconds``) and of its evaluation (``metrics.json``'s
``seconds``) over a dataset's runs. bench/shortcut.py and bench/curve.py keep them in their timing
records, so that the speed page can say what bounds a setting's minutes; for a record written
before, this adds them:

    python bench/costs.py bench/results/shortcut_real_timing.json
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run_costs(dataset: str) -> dict[str, dict[str, float]]:
    """Per objective: its runs, and their mean training (epochs) and evaluation seconds."""
    seconds = defaultdict(list)
    for run in sorted((ROOT / "results" / dataset / "runs").glob("*")):
        history, metrics = run / "history.csv", run / "metrics.json"
        if history.exists() and metrics.exists():
            result = json.loads(metrics.read_text())
            with history.open() as f:
                train = sum(float(row["seconds"]) for row in csv.DictReader(f))
            seconds[result["run"]["objective"]].append((train, result["seconds"]))
    return {objective: {"runs": len(s), "train_s": round(float(np.mean([t for t, _ in s])), 1),
                        "evaluate_s": round(float(np.mean([e for _, e in s])), 1)} for objective, s in seconds.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("timing", type=Path, help="a benchmark's timing record (bench/results/*_timing.json)")
    timing = ap.parse_args().timing
    record = json.loads(timing.read_text())
    for setting in record.values():
        if isinstance(setting, dict) and "dataset" in setting:
            setting["costs"] = run_costs(setting["dataset"])
    timing.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
