# Config checks beyond the schema, wildcard helpers, and the one function for final targets.
import json
import shlex
import shutil
from pathlib import Path

from cxrloc.attention import MODES
from cxrloc.models import canonical
from cxrloc.resources import train_mem_mb, train_runtime
from cxrloc.train import lam_token

DS = config["dataset"]
RES = config.get("resources", {})
GPU = int(config["device"].startswith("cuda"))  # one device key: where jobs run decides what they ask for
ENV = "../../envs/cxrloc.yaml"
OUT = f"results/{DS}"


def _checked_backbones():
    """Registry names of the configured backbones; an unknown one names the key."""
    try:
        return [canonical(b) for b in config["backbones"]]
    except KeyError as e:
        raise ValueError(f"config key 'backbones': {e.args[0]}") from None


BACKBONES = _checked_backbones()
LAMBDAS = [lam_token(lam) for lam in config["lambdas"]]
WARMUPS = config.get("warmups") or [0]
THRESHOLDS = [f"{t:g}" for t in config["thresholds"]]
SEEDS = [str(s) for s in config["seeds"]]
OBJECTIVES = config.get("objectives") or [config.get("attention", {}).get("mode", "soft")]


wildcard_constraints:
    task="|".join(config["tasks"]),
    backbone="|".join(b.replace(".", r"\.") for b in BACKBONES),
    lam=r"[0-9.]+a?(w[0-9]+)?",
    thresh=r"[0-9.]+",
    seed=r"[0-9]+",
    objective="|".join(["ce", "ceiling", *MODES]),


RUN = "{backbone}_" + DS + "_{task}_la{lam}_t{thresh}_s{seed}_{objective}"


def run_dir(**wc):
    return f"{OUT}/runs/{RUN}".format(**wc) if wc else f"{OUT}/runs/{RUN}"


def settings(*sections):
    """The named config sections as one JSON argument (and a rerun trigger as params); shell
    commands quote it with ``:q``, as every path and config value."""
    return json.dumps({s: config.get(s) for s in sections}, sort_keys=True)


def option(flag, value):
    """`` --flag 'value' …`` with every value shell-quoted; nothing when there is no value."""
    values = [v for v in (value if isinstance(value, (list, tuple)) else [value]) if v]
    return f" {flag} {' '.join(shlex.quote(str(v)) for v in values)}" if values else ""


def lambda_objectives():
    """(λ-schedule token, objective) pairs of the grid: λ = 1 is cross-entropy (``ce``) whatever
    the objective; every other λ runs once per warm-up; ``ceiling`` is cross-entropy with the
    synthetic confounder erased."""
    pairs = [("1", "ce")] if "1" in LAMBDAS else []
    pairs += [(lam + (f"w{w}" if w else ""), o) for lam in LAMBDAS if lam != "1" for w in WARMUPS
              for o in OBJECTIVES if o != "ceiling"]
    return pairs + ([("1", "ceiling")] if "ceiling" in OBJECTIVES else [])


def grid(pattern):
    return [
        pattern.format(task=t, backbone=b, lam=lam, thresh=th, seed=s, objective=o)
        for t in config["tasks"] for b in BACKBONES for lam, o in lambda_objectives() for th in THRESHOLDS for s in SEEDS
    ]


def final_targets():
    """Everything `snakemake` builds by default: the appendix, its figures and the report inputs."""
    targets = [f"{OUT}/tables/appendix.tex", f"{OUT}/masks/lung_quality.png"]
    if shutil.which("latexmk") and shutil.which("xelatex"):
        targets.append(f"{OUT}/tables/appendix.pdf")
    if not config.get("unet", {}).get("checkpoint"):
        targets.append(f"{OUT}/unet/report.json")
    return targets
