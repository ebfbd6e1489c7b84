"""The pages written from benchmark results and the registries: ``docs/speed.md`` whole, and marked
blocks of others (the README's table of the shortcut benchmark's answer, the benchmark's tables in
``docs/shortcut.md``, the learning curve's in ``docs/curve.md``, the lung U-Net's figures in
``docs/lungs.md``, the objective and backbone registries in ``docs/method.md``, every config key in
``config/README.md``). Every figure there is read from a file under ``bench/results/``, with the
date, machine and commit of the run that wrote it (recorded in the file, or, for a file written
before cxrloc recorded them, the last commit that changed it); every registry row from its record,
every key from ``config/schema.yaml``. ``--check`` fails, naming the page, where a page differs from
what the files, registries and schema say now (a test runs it).

    python bench/pages.py
    python bench/pages.py --check
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SPEED = ROOT / "docs" / "speed.md"
BASELINE = "import torch, timm"  # what every job must import; bench/startup.py's first row


def markers(name: str) -> tuple[str, str]:
    """The lines around a generated block of a page."""
    return (f"<!-- {name}: written by bench/pages.py; do not edit by hand -->",
            f"<!-- end of {name} -->")


def load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def record_of(name: str) -> dict:
    """Date, machine and commit of a results file: its own record, else git's last change of it."""
    data = load(name) if name.endswith(".json") else {}
    if "commit" not in data:
        log = subprocess.run(["git", "log", "-1", "--format=%as %h", "--", f"bench/results/{name}"], cwd=ROOT,
                             capture_output=True, text=True).stdout.split()
        data = {"date": log[0] if log else "not committed", "commit": log[1] if log else "none", **data}
    return data


def described(name: str, data: dict) -> str:
    return f"`bench/results/{name}`: {data['date']}, {data.get('machine', 'machine not recorded')}, commit {data['commit']}"


def provenance(name: str) -> str:
    """``date, machine, commit`` of a results file: its own record, else git's last change of it."""
    return described(name, record_of(name))


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]) + "\n"


def md_rows(name: str) -> dict[str, dict[str, str]]:
    """A markdown table written by ``cxrloc aggregate`` (pandas' pipe format), by its first column."""
    lines = [line for line in (RESULTS / name).read_text().splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]
    return {row[header[0]]: row for row in rows}


def mean(cell: str) -> float:
    return float(cell.split("±")[0])


BENCHMARKS = (  # set, cue, the dataset, its timing record
    ("synthetic phantoms, 64 px", "square, corner", "shortcut", "shortcut_timing.json"),
    ("synthetic phantoms, 64 px", "square, in the lung", "shortcut_lung", "shortcut_timing.json"),
    ("real films, implanted effusion, 96 px", "square, corner", "shortcut_real", "shortcut_real_timing.json"),
    ("real films, implanted effusion, 96 px", "square, in the lung", "shortcut_real_lung", "shortcut_real_timing.json"),
    ("real films, implanted effusion, 96 px", "text outside the lungs", "shortcut_real_text",
     "shortcut_real_text_timing.json"),
    ("real films, implanted effusion, 96 px", "acquisition style", "shortcut_real_style",
     "shortcut_real_style_timing.json"),
    ("real films, implanted effusion, 96 px", "tube in the lower lung", "shortcut_real_tube",
     "shortcut_real_tube_timing.json"),
)


def shortcut_table(dataset: str) -> str:
    return f"{dataset}_ne_t0.5_shortcut.md"


def run_record(name: str, timing: str) -> dict:
    """A benchmark table's date, machine and commit: the code its run recorded, else git's last change."""
    record = load(timing) if (RESULTS / timing).exists() else {}
    return record if "commit" in record else record_of(name)


def run_provenance(name: str, timing: str) -> str:
    return described(name, run_record(name, timing))


def answer() -> str:
    """The README's key table: per setting, the shifted AUC of cross-entropy, masked, soft, swap (λ
    chosen on val) and the ceiling, with swap's gap closed and marker flips."""
    from cxrloc.report.shortcut import gap_closed

    rows = []
    for data, cue, dataset, timing in BENCHMARKS:
        if not (RESULTS / shortcut_table(dataset)).exists():
            continue
        t = md_rows(shortcut_table(dataset))
        ce, swap, ceiling = t["ce"], t["swap"], t["ceiling"]
        chosen = [f"{t[o]['shifted AUC']} ({t[o]['λ']})" if o in t else "–" for o in ("soft", "swap")]
        rows.append([data, cue, ce["shifted AUC"], t["masked"]["shifted AUC"] if "masked" in t else "–", *chosen,
                     ceiling["shifted AUC"],
                     gap_closed(mean(swap["shifted AUC"]), mean(ce["shifted AUC"]), mean(ceiling["shifted AUC"])),
                     f"{mean(ce['marker flips']):.3f} → {mean(swap['marker flips']):.3f}",
                     run_record(shortcut_table(dataset), timing)["commit"]])
    header = ["set", "cue", "cross-entropy", "masked", "soft (λ)", "swap (λ)", "ceiling", "swap: gap closed",
              "cue flips, CE → swap", "commit"]
    return f"Shifted-test AUC, mean ± sd over 5 paired seeds (`bench/results/*_shortcut.md`):\n\n{table(header, rows)}"


def cue_coverage(dataset: str) -> str:
    """Where the pipeline's U-Net puts the drawn cue: its share inside the lung mask and the target region."""
    path = RESULTS / f"{dataset}_ne.coverage.json"
    if not path.exists() or not load(path.name).get("cue"):
        return ""
    shares = "; ".join(f"inside the {r['inside']}: {r['mean']:.2f} (10th percentile {r['p10']:.2f})"
                       for r in load(path.name)["cue"])
    return f"The drawn cue, as the pipeline's U-Net segments the films ({path.name}): {shares}.\n"


def shortcut_tables() -> str:
    """docs/shortcut.md's tables: each benchmark's objectives (λ chosen on val), its verdict and where its cue lies."""
    parts = []
    for data, cue, dataset, timing in BENCHMARKS:
        name = shortcut_table(dataset)
        for path in (RESULTS / name, RESULTS / name.replace(".md", "_verdict.md")):
            if path.exists():
                parts.append(f"**{data}, {cue}** ({run_provenance(path.name, timing)})\n\n"
                             + "\n".join(line for line in path.read_text().splitlines() if line.startswith("|")) + "\n")
        parts.append(cue_coverage(dataset) if (RESULTS / name).exists() else "")
    return "\n".join(p for p in parts if p)


CURVE, CURVE_TIMING = "curve_real.md", "curve_real_timing.json"


def curve() -> str:
    """docs/curve.md's tables: the learning curve on the real films and its verdict, with its figure."""
    if not (RESULTS / CURVE).exists():
        return "Not run yet: `python bench/curve.py --cores 2`.\n"
    timing = load(CURVE_TIMING)
    return (f"{timing['runs']} runs, {timing['total_minutes']} min on {timing['cores']} cores "
            f"({run_provenance(CURVE, CURVE_TIMING)}):\n\n{(RESULTS / CURVE).read_text()}\n"
            "![test AUC and pointing game against the number of training images](../bench/results/curve_real.png)\n")


def lungs() -> str:
    """docs/lungs.md's figures: the lung U-Net on real films, and what an effusion does to its region."""
    rows = []
    for name, recipe in (("lung_unet.json", "progressive 64:28 96:16, then 13 epochs at 128 px"),
                         ("lung_unet_single_size.json", "42 epochs at 128 px"),
                         ("lung_unet_default_decoder.json", "smp's default decoder, 30 epochs, before flips"),
                         ("lung_unet_no_augment.json", "no augmentation, 40 epochs, no post-processing")):
        r = load(name)
        rows.append([recipe, f"{r['dice_mean']:.3f}", f"{r['dice_median']:.3f}", f"{r['dice_p10']:.3f}",
                     f"{r['seconds']:.0f}", provenance(name).split(": ", 1)[1]])
    fit = load("lung_unet.json")["training_films"]
    region = load("finding_region.json")
    shifts = [[key.replace("opacities_", "unet.opacities "), f"{v['dice_mean']:.3f}",
               *(f"{v['box_change_pct_of_side'][k]:+.1f}" for k in ("bottom", "height", "width")),
               *(f"{v[k]['mean']:.3f} / {v[k]['p10']:.3f}" for k in ("finding_inside_region_with_finding",
                                                                     "finding_inside_region_without_finding"))]
              for key, v in region.items() if key.startswith("opacities_")]
    true = region["true_masks"]["finding_inside_region"]
    return ("Held-out patients' films, per-image Dice (`python bench/lung_unet.py --threads 2`, its options as "
            "named):\n\n" + table(["recipe", "mean", "median", "10th percentile", "seconds", "date, machine, commit"], rows)
            + f"\nThe same U-Net scored on its own 174 training films: {fit['dice_mean']:.3f} mean, "
            f"{fit['dice_p10']:.3f} at the 10th percentile (`training_films` in `lung_unet.json`).\n\n"
            "What an implanted effusion does to the lower-lung region (`python bench/finding_region.py --threads 2`; "
            f"{provenance('finding_region.json')}): the box change when the finding is added, in % of the image side "
            "(bottom: negative is higher), and the share of the finding inside the region (mean / 10th percentile) "
            "computed on the film with the finding and on the same film without it:\n\n"
            + table(["U-Net", "held-out Dice", "box bottom", "box height", "box width", "finding inside, with it",
                     "finding inside, without it"], shifts)
            + f"\nThe true masks' region holds {true['mean']:.3f} of the finding on average, {true['p10']:.3f} at the "
            "10th percentile.\n")


def speed() -> str:
    """docs/speed.md: every speed figure of the project, each table from its results file."""
    start = load("startup_cpu.json")
    parts = ["# Speed\n\nWritten by `python bench/pages.py` from `bench/results/`; each table names the file it is "
             "read from, with the date, machine and commit of the run. Benchmarks are scripts that print figures "
             "and write those files; no test times anything.\n",
             "## A job's start-up\n\n"
             "A train or evaluate job imports what it uses when it uses it (pandas, scipy, scikit-learn inside the "
             "functions that need them): from a fresh process to its first line of work it costs little more than "
             "`import torch, timm`, which any such job must pay. `python bench/startup.py` "
             f"({provenance('startup_cpu.json')}), median of {start['repeats']} interleaved runs:\n\n"
             + table(["what the process imports", "seconds", "over `import torch, timm`"],
                     [[name, f"{s:.2f}", f"{start['over_torch_timm_seconds'][name]:+.2f}"]
                      for name, s in sorted(start["median_seconds"].items(), key=lambda kv: kv[0] != BASELINE)])]
    plan = load("planning_cpu.json")
    parts.append("## Planning\n\nThe modules the workflow imports at parse time load no torch, timm or smp. "
                 f"`python bench/planning.py` ({provenance('planning_cpu.json')}):\n\n"
                 + table(["what", "seconds"], [["`cxrloc --help`", plan["cxrloc_help_s"]],
                                               [f"the project's imports in `snakemake -n --configfile {plan['config']}`",
                                                plan["project_import_s"]],
                                               ["that whole dry run", plan["dry_run_wall_s"]]]))
    films = load("manifest_cpu.json")
    parts.append("A study whose films the user holds (a csv source, class folders) also digests the films' folder "
                 "listing at each planning, so that a changed film reruns what reads it ([reruns](reruns.md)). "
                 f"`python bench/manifest.py` on a folder of {films['files']:,} files, NIH's count "
                 f"({provenance('manifest_cpu.json')}):\n\n"
                 + table(["what", "seconds"], [["first digest", films["first_seconds"]],
                                               [f"median of {films['repeats']} more", films["median_seconds"]]]))
    rows = []
    for name in ("attention_step_cpu.json", "attention_step_h100.json"):
        data = load(name)
        rows += [[data["machine"], r["backbone"], f"{r['size']}, {r['batch']}", f"{r['median_s']['cross-entropy']:.3f}",
                  f"{r['median_s']['ours (soft)']:.3f}", f"{r['median_s']['original']:.3f}", f"{r['ours_over_ce']:.2f}×",
                  f"{r['original_over_ours']:.1f}×"] for r in data["rows"]]
    parts.append("## One training step\n\nPlain cross-entropy, cxrloc's batched differentiable loss (`soft`, λ = 0.5) "
                 "and the original's per-sample procedure (a deep copy of the model and pytorch-grad-cam per image, "
                 "and a U-Net pass at 512 × 512 per image), fp32, median of interleaved repeats, seconds "
                 f"(`make bench`; `ATTENTION=1 bash bench/gpu_check.sh` on a GPU; {provenance('attention_step_cpu.json')}; "
                 f"{provenance('attention_step_h100.json')}):\n\n"
                 + table(["machine", "backbone", "px, batch", "CE", "ours", "original", "ours / CE", "original / ours"],
                         rows))
    cache = load("image_cache_cpu.json")
    parts.append(f"## The image cache\n\nOne epoch of {cache['images']} NIH-sized PNGs ({cache['png_side']} px, resized "
                 f"to {cache['size']}) decoded, against the same epoch read from the cache (`python bench/image_cache.py`; "
                 f"{provenance('image_cache_cpu.json')}):\n\n"
                 + table(["read", "images/s"], [["PNG decode", f"{cache['png_images_per_s']:.0f}"],
                                                ["image cache", f"{cache['cache_images_per_s']:,.0f}"],
                                                ["speed-up", f"{cache['speedup']:.0f}×"]]))
    scale = load("train_scale_cuda_graph_vs_eager_3epochs.json")
    steps = scale["steps"]
    parts.append(f"## A training job at NIH `ne` scale\n\n{scale['train']:,} training and {scale['val']:,} validation "
                 f"images at {scale['size']} px, {scale['backbone']}, λ {scale['lambda']}, batch {scale['batch']}, bf16 "
                 "autocast: the eager step against the step replayed as a CUDA graph (`bash bench/gpu_check.sh`; "
                 f"{provenance('train_scale_cuda_graph_vs_eager_3epochs.json')}):\n\n"
                 + table(["step", "s per epoch (median)", "training images/s", "s per step", "GPU busy in a step",
                          "100 epochs, estimated from the median epoch"],
                         [[k, f"{v['s_per_epoch_median']:.1f}", f"{v['train_images_per_s_median']:,.0f}",
                           f"{v['s_per_step']:.3f}", f"{100 * v['gpu_busy_share']:.0f} %",
                           f"{v['s_per_100_epochs_estimate'] / 60:.0f} min"] for k, v in steps.items()])
                 + "\nThe 100 epochs are an estimate, not yet measured end to end (a GPU was not lent since).\n")
    timing_rows = []
    for name in ("shortcut_timing.json", "shortcut_real_timing.json", *(f"shortcut_real_{c}_timing.json"
                                                                         for c in ("text", "style", "tube"))):
        if (RESULTS / name).exists():
            data = load(name)
            done = ", ".join(f"{k} {v['minutes']}" for k, v in data.items() if isinstance(v, dict) and "minutes" in v)
            timing_rows.append([data.get("config", "config/shortcut.yaml"), data.get("confounder", "square"),
                                data.get("cores", 2), data.get("unet_minutes", "–"), done, data["total_minutes"],
                                provenance(name).split(": ", 1)[1]])
    parts.append("## The shortcut benchmarks\n\nOne confounder per command (`python bench/shortcut.py`; the square's two "
                 "placements at once, one core each; with `--shared-unet` the lung U-Net first, on both cores), "
                 "minutes:\n\n"
                 + table(["config", "cue", "cores", "U-Net", "settings done", "total", "date, machine, commit"],
                         timing_rows))
    parts.append(costs())
    if (RESULTS / CURVE_TIMING).exists():
        data = load(CURVE_TIMING)
        parts.append("## The learning curve\n\n`python bench/curve.py` (the lung U-Net first, on every core, then two "
                     "shares of the training patients at a time), minutes:\n\n"
                     + table(["config", "cores", "runs", "U-Net", "shares done", "total", "date, machine, commit"],
                             [[data["config"], data["cores"], data["runs"], data["unet_minutes"],
                               ", ".join(f"{100 * v['patients']:.0f} % {v['minutes']}" for v in data.values()
                                         if isinstance(v, dict) and "patients" in v),
                               data["total_minutes"], provenance(CURVE_TIMING).split(": ", 1)[1]]]))
    return "\n".join(parts)


def costs() -> str:
    """What bounds a benchmark's minutes: per setting and objective, a run's mean training and evaluation
    seconds (read from the runs, kept in the timing records), and per benchmark the share of its core
    time (after the U-Net) that the jobs' own work fills."""
    settings, busy = {}, []
    for path in sorted(RESULTS.glob("*_timing.json")):
        data = load(path.name)
        own = {s["dataset"]: s["costs"] for s in data.values() if isinstance(s, dict) and s.get("costs")}
        if own:
            settings |= own
            work = sum(v["runs"] * (v["train_s"] + v["evaluate_s"]) for c in own.values() for v in c.values())
            core_s = (data["total_minutes"] - data.get("unet_minutes", 0)) * 60 * data.get("cores", 2)
            busy.append([path.name, ", ".join(own), f"{100 * work / core_s:.0f} %"])
    if not settings:
        return ""
    objectives = sorted({o for c in settings.values() for o in c})
    rows = [[o, *(f"{c[o]['train_s']:.0f} + {c[o]['evaluate_s']:.0f}" if o in c else "–" for c in settings.values())]
            for o in objectives]
    return ("What bounds those minutes: a run's training (its epochs) + evaluation seconds, mean over its runs, per "
            "setting (dataset), read from the runs:\n\n" + table(["objective", *settings], rows)
            + "\nThe share of each benchmark's core time after the U-Net that the jobs' own work fills (the rest is "
            "each job's start, `import torch, timm` and reading the caches, and Snakemake's):\n\n"
            + table(["timing record", "settings", "jobs' own work"], busy))


def demo() -> str:
    """The README's quick start: what `make demo` costs from a fresh clone."""
    d = load("demo_cpu.json")
    return (f"From a fresh clone, `make demo` set up the environment in {d['setup_minutes']} min ({d['venv_gb']} GB) and "
            f"ran the pipeline in {d['demo_minutes']} min ({d['results_gb']} GB of results), {d['total_minutes']} min in "
            f"all (`python bench/demo.py`; {provenance('demo_cpu.json')}).\n")


def objective_table() -> str:
    """docs/method.md's table of the objective registry (cxrloc.objectives), one row per record."""
    from cxrloc.objectives import BUILTIN, INPUT_GRADIENT, SIGNED_CAM

    reads = {"cam": "Grad-CAM", SIGNED_CAM: "signed Grad-CAM of z₁ − z₀", INPUT_GRADIENT: "input gradient"}
    rows = []
    for o in BUILTIN:
        if o.baseline:
            kind = "baseline, λ = 1" + ("; trained on copies whose confounder carries no label" if o.unconfounded else "") + (
                "; sees the lungs alone" if o.mask_input else "")
        elif o.heat:
            kind = f"map term on the {reads[o.heat]}" + ("" if o.graph_through_cam else ", no gradient")
        else:
            kind = "term on a second pass" + ("; pairs images (batch ≥ 2)" if o.pairs else "")
        term = f"`{o.term.split(':')[1]}`" if o.term else "–"
        rows.append([f"`{o.name}`", kind, term, o.doc])
    return table(["objective", "kind", "term (function)", "what it is"], rows)


def backbone_table() -> str:
    """docs/method.md's table of the backbone registry (cxrloc.backbones), one row per record."""
    from cxrloc.backbones import ALIASES, REGISTRY

    aliases = {name: alias for alias, name in ALIASES.items()}
    rows = [[f"`{name}`" + (f" (`{aliases[name]}`)" if name in aliases else ""), f"`{b.timm_name}`", f"`{b.cam_layer}`",
             b.label, b.min_size() or "measured", b.note] for name, b in REGISTRY.items()]
    return table(["backbone (alias)", "timm model", "Grad-CAM layer", "table label", "least image_size for a map term",
                  "note"], rows)


def config_keys() -> str:
    """config/README.md's table of every config key, its default and its description, from config/schema.yaml."""
    import yaml

    def rows(node: dict, prefix: str = ""):
        for name, spec in node.get("properties", {}).items():
            if "properties" in spec:
                yield from rows(spec, f"{prefix}{name}.")
            else:
                default = f"`{json.dumps(spec['default'], ensure_ascii=False)}`" if "default" in spec else "–"
                about = spec.get("description", "").replace("\n", " ")
                yield [f"`{prefix}{name}`", default.replace("|", "\\|"), about.replace("|", "\\|")]

    schema = yaml.safe_load((ROOT / "config/schema.yaml").read_text())
    return table(["key", "default", "what it is"], list(rows(schema)))


BLOCKS = {ROOT / "README.md": {"the answer": answer, "the demo's cost": demo},
          ROOT / "docs/shortcut.md": {"the tables": shortcut_tables},
          ROOT / "docs/curve.md": {"the curve": curve}, ROOT / "docs/lungs.md": {"the lung figures": lungs},
          ROOT / "docs/method.md": {"the objectives": objective_table, "the backbones": backbone_table},
          ROOT / "config/README.md": {"every key": config_keys}}


def with_block(text: str, where: Path, name: str, body: str) -> str:
    """``text`` (of ``where``) with its block ``name`` replaced by ``body``; missing markers are an error."""
    begin, end = markers(name)
    if begin not in text or end not in text:
        sys.exit(f"{where}: the markers of the block '{name}' are missing ({begin} … {end})")
    return re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: f"{begin}\n\n{body}\n{end}", text, flags=re.S)


def pages() -> dict[Path, str]:
    """Every generated page's text as the results say it now."""
    out = {SPEED: speed()}
    for path, blocks in BLOCKS.items():
        text = path.read_text()
        for name, body in blocks.items():
            text = with_block(text, path, name, body())
        out[path] = text
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="fail where a page differs from the results")
    a = ap.parse_args()
    stale = {path: text for path, text in pages().items() if not path.exists() or path.read_text() != text}
    if a.check:
        if stale:
            sys.exit(f"out of date with bench/results/: {', '.join(str(p.relative_to(ROOT)) for p in stale)}; "
                     "run python bench/pages.py")
        return
    for path, text in stale.items():
        path.write_text(text)
    print(f"wrote {', '.join(str(p.relative_to(ROOT)) for p in stale) or 'nothing: the pages were up to date'}")


if __name__ == "__main__":
    main()
