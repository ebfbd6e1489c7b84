"""Where and when a benchmark ran: its date, the machine and the commit, recorded in every JSON the
speed page is written from (docs/speed.md)."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu() -> str:
    """The CPU's model name and core count (Linux: /proc/cpuinfo)."""
    info = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in info.read_text().splitlines()
             if line.startswith("model name")] if info.exists() else []
    return f"{names[0] if names else platform.machine()}, {os.cpu_count()} cores"


def stamp(machine: str | None = None) -> dict:
    """``date``, ``machine`` (the CPU unless given, e.g. a GPU's name) and ``commit`` of this run."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    return {"date": date.today().isoformat(), "machine": machine or cpu(), "commit": commit.strip() or "unknown"}
