# The study's paths, its checked grid of runs (cxrloc.train.grid), wildcard helpers and the one
# function for final targets. Only torch-free project modules are imported: every parse stays fast
# (only a backbone or Grad-CAM layer outside the registry makes the grid import timm, to check it).
import json
import os
import re
import shlex
import shutil

from cxrloc.backbones import canonical
from cxrloc.config import unet_config
from cxrloc.data.manifest import films_digest
from cxrloc.data.marker import LAYOUT as MARKER_LAYOUT
from cxrloc.train.grid import GridError, plan
from cxrloc.objectives import REGISTRY as OBJECTIVE_REGISTRY
from cxrloc.resources import train_mem_mb, train_runtime

DS = config["dataset"]
RES = config["resources"]
GPU = int(config["device"].startswith("cuda"))  # where jobs run decides what they ask for
ENV = "../../envs/cxrloc.yaml"
OUT = f"results/{DS}"

# Data sources: what each kind of source provides.
SOURCE = config["source"]
SYNTHETIC = SOURCE["kind"] == "synthetic"
IMPLANTED = SOURCE["kind"] == "implanted"  # real films (SOURCE["root"]) with an implanted finding
GENERATED = SYNTHETIC or IMPLANTED  # the workflow writes the set itself, with true lesion masks and markers
PUBLIC = SOURCE["kind"] in ("chexpert", "mimic")  # a public set, read from its own tables (public_table)
RAW = f"{OUT}/raw" if GENERATED else SOURCE["root"]
IMAGES = RAW if SOURCE["kind"] in ("imagefolder", "csv") or PUBLIC else f"{RAW}/images"
SKIP_MISSING = SOURCE["skip_missing_images"]  # rows of absent images leave the splits (listed beside them)
METADATA = f"{RAW}/Data_Entry.csv" if GENERATED else SOURCE.get("table") or SOURCE.get("metadata")
TEST_LIST = f"{RAW}/{SOURCE['test_list']}" if SOURCE.get("test_list") else None
if PUBLIC:
    METADATA, TEST_LIST = f"{OUT}/public/table.csv", f"{OUT}/public/test_list.txt"
LESIONS = f"{RAW}/lesion_masks" if GENERATED else None
MARKERS = f"{RAW}/markers.csv" if GENERATED else None
BBOXES = SOURCE.get("bboxes")
NIH_ARCHIVES = [
    "vfk49d74nhbxq3nqjg0900w5nvkorp5c",
    "i28rlmbvmfjbl8p2n3ril0pptcmcu9d1",
    "f1t00wrtdk94satdfb9olcolqx20z2jp",
    "0aowwzs5lhjrceb3qp67ahp0rd1l1etg",
    "v5e3goj22zr6h8tzualxfsqlqaygfbsn",
    "asi7ikud9jwnkrnkj99jnpfkjdes7l6l",
    "jn1b4mw4n6lnh74ovmcjb8y48h8xj07n",
    "tvpxmn7qyrgl0w8wfh9kqfjskv6nmm1j",
    "upyy3ml7qdumlgk2rfcvlb9k6gvqq2pj",
    "l6nilvfa9cg3s28tqv1qc1olm3gnz54p",
    "hhq8fkdgvcari67vfhs7ppg2w6ni4jze",
    "ioqwiy20ihqwyr8pf4c24eazhh281pbu",
]
MONTGOMERY_URL = "https://openi.nlm.nih.gov/imgs/collections/NLM-MontgomeryCXRSet.zip"
MONTGOMERY_SHA256 = "54601e952315d8f67383e9202a6e145997ade429f54f7e0af44b4e158714f424"  # as torch-em's loader pins it
LUNGSET = "data/lungsets/montgomery"


def cache_files(folder, lesions):
    """An image cache's files, so each job that reads it declares them all."""
    files = {"images": f"{folder}/images.npy", "index": f"{folder}/index.csv", "digest": f"{folder}/SHA256SUMS"}
    return {**files, "lesions": f"{folder}/lesions.npy"} if lesions else files


CACHE = cache_files(f"{OUT}/cache", LESIONS)
# Films the user holds (a table's or class folders' own, written by no step): their digest is a
# parameter of every step that reads them, so an added, removed or overwritten film reruns it.
FILMS = films_digest(IMAGES) if SOURCE["kind"] in ("csv", "imagefolder") or PUBLIC else ""

# External test sets, by name: each cached and segmented once; every run evaluated on each.
EXTERNAL = config["external"]


def external(name):
    """What an external set provides: its images folder, its table (or class folders), lesion masks
    and markers (a synthetic set has both)."""
    ext = EXTERNAL[name]
    if ext["kind"] == "synthetic":
        raw = f"{OUT}/external/{name}/raw"
        return {
            "images": f"{raw}/images",
            "table": f"{raw}/Data_Entry.csv",
            "lesions": f"{raw}/lesion_masks",
            "markers": f"{raw}/markers.csv",
        }
    if ext["kind"] in ("csv", "vindr"):
        return {"images": ext["root"], "table": ext["table"], "lesions": None, "markers": None}
    return {"images": ext["root"], "table": None, "lesions": None, "markers": None}


# The films digest of each external set the user holds (a synthetic set is the workflow's own).
EXTERNAL_FILMS = {
    name: films_digest(ext["root"]) if ext["kind"] != "synthetic" else "" for name, ext in EXTERNAL.items()
}


def external_cache(name):
    return cache_files(f"{OUT}/external/{name}/cache", external(name)["lesions"])


def set_cache(folder):
    """The image cache of a set of images: the study's (folder ``""``) or an external set's
    (``external/<name>/``)."""
    return external_cache(folder.split("/")[1]) if folder else CACHE


# Lung segmentation: a trained U-Net (or a given checkpoint) and what it is trained on.
UNET_CFG = config["unet"]
UNET_SETTINGS = unet_config(config)  # the typed settings; UNET_CFG keeps the paths
UNET = UNET_CFG["checkpoint"] or f"{OUT}/unet/unet.pt"
# What the U-Net learns from: the synthetic set's own lungs, the implanted set's films with their
# masks (whole patients held out), Montgomery for the others, unless unet.images names a set.
OWN_LUNGS = {  # sources whose films come with lung masks: images, masks, patient table
    "synthetic": (f"{RAW}/images", f"{RAW}/lung_masks", []),
    "implanted": tuple(f"{SOURCE.get('root')}/{name}" for name in ("images", "masks", "labels.csv")),
}
LUNG_SET = OWN_LUNGS.get(SOURCE["kind"], (f"{LUNGSET}/images", f"{LUNGSET}/masks", []))
UNET_FROM_MONTGOMERY = not UNET_CFG.get("images") and SOURCE["kind"] not in OWN_LUNGS
UNET_IMAGES = UNET_CFG.get("images") or LUNG_SET[0]
UNET_MASKS = UNET_CFG.get("masks") or LUNG_SET[1]
UNET_LABELS = UNET_CFG.get("labels") or (LUNG_SET[2] if not UNET_CFG.get("images") else [])
UNET_FILMS = films_digest(UNET_IMAGES) + films_digest(UNET_MASKS) if UNET_CFG.get("images") or IMPLANTED else ""


try:
    GRID = plan(config)
except GridError as e:
    raise ValueError(str(e)) from None
TASKS = GRID.tasks
BACKBONES = GRID.backbones
# pretrained weights: files the config lists, else copies fetched once into weights_cache
PRETRAINED = config["train"]["pretrained"]
GIVEN_WEIGHTS = {canonical(b): path for b, path in config["weights"].items()}
WEIGHTS_CACHE = config["weights_cache"]
UNET_WEIGHTS_PATTERN = f"{WEIGHTS_CACHE}/unet/{{encoder}}.{{weights}}.safetensors"
UNET_WEIGHTS = (
    UNET_WEIGHTS_PATTERN.format(encoder=UNET_SETTINGS.encoder, weights=UNET_CFG["encoder_weights"])
    if UNET_CFG["encoder_weights"]
    else []
)
THRESHOLDS = GRID.thresholds
SEEDS = GRID.seeds
RUN = f"{{backbone}}_{DS}_{{task}}_la{{lam}}{{warmup}}_t{{thresh}}_s{{seed}}_{{objective}}"


wildcard_constraints:
    task="|".join(TASKS),
    ext="|".join(re.escape(e) for e in EXTERNAL) or "(?!)",
    set="(" + "|".join(f"external/{re.escape(e)}/" for e in EXTERNAL) + ")?",
    backbone="|".join(re.escape(b) for b in BACKBONES),
    lam=r"[0-9.]+a?",
    warmup=r"(w[0-9]+)?",
    thresh=r"[0-9.]+",
    seed=r"[0-9]+",
    objective="|".join(OBJECTIVE_REGISTRY),


def run_dir(**wc):
    return f"{OUT}/runs/{RUN}".format(**wc) if wc else f"{OUT}/runs/{RUN}"


def folder(name):
    """The folder of the job's input or output file ``name``: derived from the job's own files,
    so that jobs also run where files are staged (no shared file system)."""
    return lambda wildcards, input, output: os.path.dirname({**dict(input.items()), **dict(output.items())}[name])


def settings(*sections):
    """The named config sections as one JSON argument (and a rerun trigger as params); shell
    commands quote it with ``:q``, as every path and config value."""
    return json.dumps({s: config.get(s) for s in sections}, sort_keys=True)


# What a training or evaluation job reads of the config, as one argument (and a rerun trigger).
RUN_SETTINGS = settings("train", "attention", "weights", "device")


def option(flag, value):
    """`` --flag 'value' …`` with every value shell-quoted; nothing when there is no value."""
    values = [v for v in (value if isinstance(value, (list, tuple)) else [value]) if v]
    return f" {flag} {' '.join(shlex.quote(str(v)) for v in values)}" if values else ""


def external_table_options(name):
    """external-table's source of the set: its table (NIH's columns for a synthetic set; a csv set's
    own) or its class folders."""
    ext = EXTERNAL[name]
    if ext["kind"] == "imagefolder":
        return option("--folder", ext["root"])
    if ext["kind"] == "vindr":
        return option("--vindr", ext["table"])
    if ext["kind"] in ("chexpert", "mimic"):
        public = {
            "--public": ext["kind"],
            "--folder": ext["root"],
            "--uncertain": ext["uncertain"],
            "--views": ext["views"],
        }
        return "".join(option(flag, value) for flag, value in public.items())
    columns = option("--columns", json.dumps(ext.get("columns") or {})) if ext["kind"] == "csv" else ""
    return (
        option("--metadata", external(name)["table"])
        + columns
        + option("--label-separator", ext.get("label_separator"))
    )


def table_options():
    """The table's column names (and a csv source's label separator) for prepare-splits; none for
    NIH's table. The implanted set's table has a csv table's default names and a split column."""
    if IMPLANTED:
        return option("--columns", json.dumps({"split": "split"}))
    if PUBLIC:
        columns = {
            "image": "image",
            "labels": "label",
            "patient": "patient",
            "sex": "sex",
            "age": "age",
            "view": "view",
        }
        return option("--columns", json.dumps(columns))
    if SOURCE["kind"] != "csv":
        return ""
    return option("--columns", json.dumps(SOURCE["columns"])) + option(
        "--label-separator", SOURCE.get("label_separator")
    )


def task_argument(wildcards):
    """The job's task for the CLI's ``--task``: a built-in name, or the declared task as JSON."""
    return TASKS[wildcards.task].argument()


def run_options(wildcards):
    """The command-line words that name a run, shared by train, evaluate and evaluate_external as
    their ``run`` param: a function of the wildcards alone, so that Snakemake compares it (a rerun
    trigger) when it plans."""
    words = {
        "--dataset": DS,
        "--task": task_argument(wildcards),
        "--backbone": wildcards.backbone,
        "--lambda": wildcards.lam,
        "--warmup": wildcards.warmup[1:],
        "--thresh": wildcards.thresh,
        "--seed": wildcards.seed,
        "--objective": wildcards.objective,
        "--settings": RUN_SETTINGS,
    }
    return "".join(option(flag, value) for flag, value in words.items())


def evaluation_options(wildcards):
    """``run_options`` and the evaluation's own settings (with the external set it tests on, if any),
    shared by evaluate and evaluate_external."""
    external = option("--external", wildcards.get("ext"))
    return f"{run_options(wildcards)} --bootstrap {config['evaluate']['bootstrap']}{external}"


def evaluation_inputs(scope):
    """What an evaluation reads besides the model: the study's test with its localization set
    (``scope`` ""), or an external set's test with the run's own metrics, whose val chose the CAM
    threshold (``scope`` "external/{ext}/")."""

    def inputs(w):
        if not scope:
            own = {"splits": f"{OUT}/splits/{w.task}.csv", "locset": locset(w.task), "markers": MARKERS or []}
            return {**CACHE, **own, "lungs": f"{OUT}/masks/lungs.npz"}
        ext = {
            "splits": f"{OUT}/external/{w.ext}/{w.task}.csv",
            "markers": external(w.ext)["markers"] or [],
            "locset": external_locset(w.ext, w.task),
        }
        internal = f"{run_dir(**dict(w.items()))}/metrics.json"
        return {
            **external_cache(w.ext),
            **ext,
            "lungs": f"{OUT}/external/{w.ext}/masks/lungs.npz",
            "internal": internal,
        }

    return inputs


def evaluation_reads(wildcards, input):
    """The evaluation's optional inputs as options: markers, localization set, the run's own metrics."""
    reads = {"--markers": input.markers, "--localization": input.get("locset"), "--internal": input.get("internal")}
    return "".join(option(flag, value) for flag, value in reads.items())


def cache_inputs(scope):
    """What a set's image cache is built from: its tables (the study's splits, with the
    localization sets as extra tables, or an external set's tables), films and lesion masks, and
    for the study the markers table (the ceiling copies)."""

    def inputs(w):
        if not scope:
            extra = [f for t in TASKS for f in locset(t)]
            return {
                "tables": expand(f"{OUT}/splits/{{task}}.csv", task=TASKS),
                "extra": extra,
                "images": IMAGES,
                "lesions": LESIONS or [],
                "markers": MARKERS or [],
            }
        ext = external(w.ext)
        tables = [f"{OUT}/external/{w.ext}/{t}.csv" for t in TASKS]
        extra = [f for t in TASKS for f in external_locset(w.ext, t)]
        return {
            "tables": tables,
            "extra": extra,
            "images": ext["images"],
            "lesions": ext["lesions"] or [],
            "markers": [],
        }

    return inputs


def films_of(wildcards):
    """The digest of the films a set's cache reads: an external set's or the study's own."""
    return EXTERNAL_FILMS[wildcards.ext] if wildcards.get("ext") else FILMS


def weights_file(wildcards):
    """The backbone's pretrained weights for a training job; none when it trains from scratch."""
    if not PRETRAINED:
        return []
    return GIVEN_WEIGHTS.get(wildcards.backbone) or f"{WEIGHTS_CACHE}/{wildcards.backbone}.safetensors"


def locset(task="{task}"):
    """The task's localization set (NIH boxes), when the source has boxes."""
    return [f"{OUT}/splits/{task}.localization.csv"] if BBOXES else []


def external_locset(name, task="{task}"):
    """An external set's localization set (its radiologists' boxes), when the set has boxes (vindr)."""
    return [f"{OUT}/external/{name}/{task}.localization.csv"] if EXTERNAL[name]["kind"] == "vindr" else []


def expected_archive(name):
    """`` --size N --sha256 H`` of an archive, from ``source.archives`` (what is known of it)."""
    known = SOURCE["archives"].get(name) or {}
    return option("--size", known.get("size")) + option("--sha256", known.get("sha256"))


def grid(pattern):
    return [
        pattern.format(task=t, backbone=b, lam=sc.lam_token, warmup=sc.warmup_token, thresh=th, seed=s, objective=o)
        for t in TASKS
        for b in BACKBONES
        for sc, o in GRID.runs()
        for th in THRESHOLDS
        for s in SEEDS
    ]


def final_targets():
    """Everything `snakemake` builds by default: the appendix, its figures and the report inputs."""
    targets = [f"{OUT}/tables/appendix.tex", f"{OUT}/masks/lung_quality.png"]
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        targets.append(f"{OUT}/tables/appendix.pdf")
    if not UNET_CFG["checkpoint"]:
        targets.append(f"{OUT}/unet/report.json")
    if LESIONS:
        targets += expand(f"{OUT}/masks/{{task}}.coverage.json", task=TASKS)
    return targets
