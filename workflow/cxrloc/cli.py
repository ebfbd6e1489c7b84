"""``cxrloc``: one subcommand per workflow rule, so every step also runs by hand."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import config, tasks


def _synthesize(args) -> None:
    from .data.synthetic import synthesize

    meta = synthesize(config.synthetic_config(config.load(args.settings)), Path(args.out))
    print(f"wrote {len(meta)} images of {meta['Patient ID'].nunique()} patients to {args.out}")


def _implant(args) -> None:
    from .data.implanted import implant_films

    table = implant_films(Path(args.films), config.implanted_config(config.load(args.settings)), Path(args.out))
    counts = table.groupby(["split", "label"]).size().unstack(fill_value=0)
    print(f"wrote {len(table)} variants of {table['patient'].nunique()} patients' films to {args.out}:\n{counts}")


def _prepare_splits(args) -> None:
    from .data.metadata import read_list, read_metadata
    from .data.splits import SplitConfig, given_splits, prepare_splits, report, write_splits

    meta = read_metadata(args.metadata, json.loads(args.columns) if args.columns else None, args.label_separator)
    if args.skip_missing:
        meta = _present(meta, Path(args.skip_missing), Path(args.out).with_suffix(".missing.csv"))
    if "split" in meta:
        splits = given_splits(meta, args.task, args.metadata)
    else:
        splits = prepare_splits(meta, SplitConfig(args.task, args.seed), read_list(args.test_list), _held_out(args, meta))
    write_splits(splits, args.out, args.task)
    print(report(splits))


def _present(meta, images: Path, listing: Path):
    """The metadata rows whose image is in ``images``; the others are listed in ``listing``."""
    from .atomic import atomic_path
    from .data.metadata import split_present

    present, absent = split_present(meta, images)
    with atomic_path(listing) as tmp:
        absent.assign(labels=absent["labels"].str.join("|")).to_csv(tmp, index=False)
    print(f"left out {len(absent)} image(s) absent from {images} (listed in {listing}): "
          f"{', '.join(absent['image'].head(10))}{' …' if len(absent) > 10 else ''}")
    return present


def _held_out(args, meta) -> set[str]:
    """Patients of the localization set (``--bboxes``), written beside the splits; none without."""
    if not args.bboxes:
        return set()
    from .atomic import atomic_path
    from .data.locset import localization_set, read_bboxes

    locset = localization_set(read_bboxes(args.bboxes), meta, args.task, args.seed)
    with atomic_path(Path(args.out).with_suffix(".localization.csv")) as tmp:
        locset.to_csv(tmp, index=False)
    held_out = set(locset["patient"])
    print(f"localization set: {len(locset)} boxes on {locset['image'].nunique()} images of {len(held_out)} patients")
    return held_out


def _fetch_weights(args) -> None:
    from .train.weights import fetch, fetch_unet_encoder

    if args.backbone:
        print(f"wrote {fetch(args.backbone, Path(args.out))}")
    elif not args.encoder_weights:
        raise config.ConfigError("--unet-encoder needs --encoder-weights: which of smp's weights to fetch (imagenet, …)")
    else:
        print(f"wrote {fetch_unet_encoder(args.unet_encoder, args.encoder_weights, Path(args.out))}")


def _index_imagefolder(args) -> None:
    from .data.imagefolder import index_imagefolder
    from .data.splits import report, write_splits

    splits = index_imagefolder(Path(args.root), args.task)
    write_splits(splits, args.out, args.task)
    print(report(splits))


def _external_table(args) -> None:
    from .atomic import atomic_path

    if args.folder:
        from .data.imagefolder import index_class_folders

        table = index_class_folders(Path(args.folder), args.task)
    else:
        from .data.metadata import read_metadata
        from .data.splits import external_split

        meta = read_metadata(args.metadata, json.loads(args.columns) if args.columns else None, args.label_separator,
                             f"external.{args.set}" if args.set else "external.<set>")
        table = external_split(meta, args.task, args.metadata)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)
    print(f"{len(table)} images of {args.task.name}'s classes: {table['finding'].value_counts().to_dict()}")


def _cache_images(args) -> None:
    import pandas as pd

    from .data.imagecache import build_cache

    names = pd.concat([pd.read_csv(f, usecols=["image"]) for f in args.splits + args.extra])["image"].tolist()
    cache = build_cache(names, Path(args.images), Path(args.out), args.size, args.threads,
                        Path(args.lesions) if args.lesions else None)
    print(f"cached {len(cache.index)} images at {args.size} px in {args.out}")


def _train_unet(args) -> None:
    import torch

    from .atomic import atomic_write_json
    from .device import gpu_slot
    from .lungs.quality import worst_cases
    from .lungs.unet_training import train_unet
    from .report.figures import segmentations

    torch.set_num_threads(args.threads)
    images = Path(args.images)
    with gpu_slot(args.device) as device:
        report, data, test, pred = train_unet(images, Path(args.masks), config.unet_config(config.load(args.settings)),
                                              Path(args.out), device, Path(args.labels) if args.labels else None,
                                              Path(args.encoder_weights) if args.encoder_weights else None)
    atomic_write_json(args.report, report)
    summary = (f"U-Net on {report['held_out_images']} held-out images of {report['held_out_patients']} patients: Dice "
               f"{report['dice_mean']:.4f} mean, {report['dice_median']:.4f} median, {report['dice_p10']:.4f} 10th "
               f"percentile; pooled Dice {report['dice_pooled']:.4f}, IoU {report['iou_pooled']:.4f}")
    if args.figure:
        segmentations(worst_cases(report, data, test, pred, images), Path(args.figure), summary)
    print(f"{summary} ({report['seconds']:.0f} s)")


def _segment_lungs(args) -> None:
    import torch

    from .device import gpu_slot
    from .lungs.boxes import FLAGS
    from .lungs.segment import most_implausible, segment_folder
    from .report.figures import segmentations

    torch.set_num_threads(args.threads)
    images, out = Path(args.images), Path(args.out)
    with gpu_slot(args.device, fix="give --device cpu") as device:
        table = segment_folder(Path(args.checkpoint), images, out, device, postprocess=args.postprocess)
    segmentations(most_implausible(table, images, out), out / "overlays.png")
    counts = {f: int(table[f].sum()) for f in FLAGS}
    print(f"segmented {len(table)} images into {out / 'masks'}; boxes in {out / 'boxes.csv'}; flagged {counts}; "
          f"the most implausible in {out / 'overlays.png'}")


def _precache_masks(args) -> None:
    import torch

    from .atomic import atomic_write_json
    from .data.imagecache import ImageCache
    from .device import gpu_slot
    from .lungs.inference import precache
    from .lungs.lungcache import LungCache
    from .report.figures import lung_quality

    torch.set_num_threads(args.threads)
    cache = ImageCache(Path(args.cache))
    with gpu_slot(args.device) as device:
        report = precache(Path(args.unet), cache, Path(args.out), device, postprocess=args.postprocess)
    atomic_write_json(args.report, report)
    print(f"precached {report['images']} lung masks at {report['images_per_s']:.1f} images/s; flags {report['flags']}")
    if args.figure:
        lung_quality(cache.images(), cache.index, LungCache.read(Path(args.out)), Path(args.figure))
    if args.table:
        from .atomic import atomic_write_text
        from .lungs.quality import quality_table

        atomic_write_text(args.table, quality_table(report))


def _finding_coverage(args) -> None:
    from .atomic import atomic_write_json, atomic_write_text
    from .data.imagecache import ImageCache
    from .lungs.coverage import finding_coverage
    from .lungs.lungcache import LungCache
    from .train.splitdata import read_splits

    region = config.attention_config(config.load(args.settings)).region
    table = finding_coverage(read_splits(Path(args.splits)), ImageCache(Path(args.cache)), LungCache.read(Path(args.lungs)),
                             args.task, region)
    atomic_write_json(args.out, {"task": args.task.name, "classes": table.to_dict(orient="records")})
    if args.table:
        atomic_write_text(args.table, table.to_html(index=False, float_format="%.3f"))
    print(table.to_string(index=False, float_format="%.3f"))


def _spec(args):
    from .train.run import resolve_run

    given = {"batch_size": args.batch, "device": f"cuda:{args.gpu}" if args.gpu is not None else args.device,
             "threads": args.threads}
    train = {k: v for k, v in given.items() if v is not None}
    settings = config.load(args.settings) if args.settings else {}
    if args.weights:
        train["weights"] = {**config.train_config(settings).weights, args.backbone: args.weights}
    return resolve_run(args.dataset, args.task, args.backbone, args.lam, args.thresh, args.seed, settings,
                       args.objective, args.adaptive, args.warmup, **train)


def _splits_data(args, spec, names, required=("train", "val", "test")):
    """The named splits of the run ``spec`` (cxrloc.train.splitdata.run_splits), and the identity of its inputs."""
    from .data.imagecache import ImageCache
    from .lungs.lungcache import LungCache
    from .train.splitdata import input_identity, run_splits

    cache, lungs = ImageCache(Path(args.cache)), LungCache.read(Path(args.lungs))
    data = run_splits(spec, Path(args.splits), cache, lungs, names, required, _markers(args))
    return data, input_identity(Path(args.splits), cache, lungs)


def _markers(args):
    from .data.marker import Markers

    return Markers.read(Path(args.markers)) if getattr(args, "markers", None) else None


def _train(args) -> None:
    from .train.job import Preempted, train

    spec = _spec(args)
    (tr, va), inputs = _splits_data(args, spec, ["train", "val"])
    try:
        train(spec, tr, va, Path(args.out), inputs)
    except Preempted:
        print("stopped by SIGTERM; the last finished epoch is checkpointed and a rerun resumes from it", file=sys.stderr)
        sys.exit(143)


def _evaluate(args) -> None:
    import pandas as pd

    from .data.imagecache import ImageCache
    from .train.evaluate import evaluate

    if args.external:
        if not args.internal:
            raise config.ConfigError("--external needs --internal: the run's own metrics.json (its CAM threshold)")
        from .train.results import read_result

        spec = _spec(args)
        (te,), _ = _splits_data(args, spec, ["test"], required=("test",))
        threshold = (read_result(args.internal).localization or {}).get("iou_threshold")
        r = evaluate(spec, Path(args.model), None, te, Path(args.out), args.bootstrap, markers=_markers(args),
                     external=args.external, iou_threshold=threshold)
    else:
        spec = _spec(args)
        (va, te, iid), _ = _splits_data(args, spec, ["val", "test", "test_iid"])
        locset = pd.read_csv(args.localization, dtype={"patient": str}) if args.localization else None
        r = evaluate(spec, Path(args.model), va, te, Path(args.out), args.bootstrap, locset, ImageCache(Path(args.cache)),
                     _markers(args), iid)
    print({k: round(v, 3) for k, v in r["test"]["metrics"].items()})


def _predict(args) -> None:
    import torch

    from .device import gpu_slot
    from .report.predict import TrainedRun, film_names, predict

    torch.set_num_threads(args.threads)
    run = TrainedRun.read(Path(args.run))
    unet = Path(args.unet) if args.unet else _study_unet(Path(args.run))
    root, names = film_names(Path(args.images) if args.images else None, Path(args.table) if args.table else None,
                             Path(args.out))
    with gpu_slot(args.device, fix="give --device cpu") as device:
        table = predict(run, root, names, Path(args.out), device, unet, args.batch)
    counts = table["predicted"].value_counts().to_dict()
    print(f"predicted {len(table)} films with {run.folder.name} ({'lung U-Net ' + str(unet) if unet else 'no lung U-Net'}):"
          f" {counts}; {Path(args.out) / 'predictions.csv'}, {Path(args.out) / 'cams'}/, {Path(args.out) / 'overview.png'}")


def _study_unet(run: Path) -> Path | None:
    """The lung U-Net of the run's study (``results/<dataset>/unet/unet.pt``), where there is one."""
    path = run.resolve().parent.parent / "unet" / "unet.pt"
    return path if path.is_file() else None


def _aggregate(args) -> None:
    from .report.aggregate import aggregate

    stems = aggregate([Path(f) for f in args.runs], [Path(f) for f in args.histories], args.dataset, Path(args.out),
                      Path(args.cache) if args.cache else None, Path(args.lungs) if args.lungs else None,
                      [Path(f) for f in args.externals])
    print(f"wrote {len(stems)} tables to {args.out}")


def _download(args) -> None:
    from .data.download import fetch

    fetch(args.url, Path(args.out), sha256=args.sha256, size=args.size, manifest=Path(args.manifest) if args.manifest else None)


def _extract(args) -> None:
    from .data.download import extract_images

    print(f"extracted {extract_images([Path(f) for f in args.archives], Path(args.out), args.expect)} images to {args.out}")


def _nih_file(args) -> None:
    from .data.download import nih_file

    print(f"wrote {nih_file(args.name, Path(args.out))}")


def _montgomery(args) -> None:
    from .lungs.montgomery import montgomery

    print(f"prepared {montgomery(Path(args.zip), Path(args.out))} Montgomery radiographs with lung masks in {args.out}")


TASK_HELP = (f"a built-in task ({', '.join(tasks.BUILTIN)}) or a definition: "
             "'{name: ..., classes: [label 0, label 1, ...], regions: {class: region}}'")


def whole(least: int):
    """An argument type for a count (threads, films per batch, pixels; warm-up epochs): a whole number ≥ ``least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least {least}")
        return value

    return parse


positive = whole(1)


def _task(text: str) -> tasks.Task:
    try:
        return tasks.parse(text)
    except tasks.TaskError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--splits", required=True, help="split CSV of the task")
    p.add_argument("--cache", "--path", required=True, help="image cache folder (--path: the original's flag)")
    p.add_argument("--lungs", required=True, help="precached lung masks (.npz)")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--task", required=True, type=_task, help=TASK_HELP)
    p.add_argument("--backbone", required=True)
    p.add_argument("--lambda", "--lamda", dest="lam", default="1", help="λ in [0, 1], or 'adaptive' ('1a')")
    p.add_argument("--warmup", type=whole(0), default=0, help="cross-entropy epochs before λ applies (run names: 0.5w2)")
    p.add_argument("--adaptive", "--isAdaptive", action="store_true", help="adaptive λ = max(0.2, 1 − 0.023·epoch)")
    p.add_argument("--thresh", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--objective", help="training objective, a name of the objective registry (default: "
                                       "attention.mode); baselines (ce, ceiling, masked) with λ = 1")
    p.add_argument("--settings", help="train/attention sections: YAML or JSON, inline or a file")
    p.add_argument("--batch", type=positive, help="batch size (overrides train.batch_size)")
    p.add_argument("--gpu", type=int, help="CUDA device index (the original's flag); implies device cuda:N")
    p.add_argument("--device", help="cpu, cuda or cuda:N (overrides the settings' top-level device)")
    p.add_argument("--threads", type=positive, help="CPU threads")
    p.add_argument("--weights", help="the backbone's pretrained weights (a file from fetch-weights; with train.pretrained)")
    p.add_argument("--markers", help="synthetic sets: markers.csv (the confounder's box per image: the ceiling "
                                     "erases it, the evaluation measures its use)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cxrloc", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synthesize", help="draw the synthetic radiograph set")
    p.add_argument("--settings", default="{}", help="a config with a source.synthetic section (YAML/JSON, inline or file)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_synthesize)

    p = sub.add_parser("implant", help="real films with an implanted effusion and a confounder (the real-film benchmark)")
    p.add_argument("--films", required=True, help="a folder of films: images/<id>.png, masks/<id>.png (both lungs), "
                                                 "labels.csv (id, patient)")
    p.add_argument("--settings", default="{}", help="a config with a source.implanted section (YAML/JSON, inline or file)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_implant)

    p = sub.add_parser("download", help="fetch one file: resumable, retried, verified")
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--sha256", help="expected SHA-256 (hex)")
    p.add_argument("--size", type=int, help="expected size in bytes")
    p.add_argument("--manifest", help="SHA256SUMS of first downloads: a new file is recorded there, a later copy "
                                      "must match it")
    p.set_defaults(func=_download)

    p = sub.add_parser("extract", help="unpack image archives flat into one folder")
    p.add_argument("--archives", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--expect", type=int, help="the number of images there must be")
    p.set_defaults(func=_extract)

    p = sub.add_parser("nih-file", help="NIH's Data_Entry_2017_v2020.csv or BBox_List_2017.csv")
    p.add_argument("--name", required=True, choices=["Data_Entry_2017_v2020.csv", "BBox_List_2017.csv"])
    p.add_argument("--out", required=True)
    p.set_defaults(func=_nih_file)

    p = sub.add_parser("montgomery", help="lay out NLM's Montgomery set as images/ + masks/")
    p.add_argument("--zip", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_montgomery)

    p = sub.add_parser("prepare-splits", help="patient-disjoint train/val/test split of one task")
    p.add_argument("--metadata", required=True, help="NIH-style Data_Entry CSV, or any table with --columns")
    p.add_argument("--columns", help='JSON: the table\'s column of image, labels, patient and (optional) split, '
                                     '{"image": "path", "labels": "finding", "patient": "subject", "split": "fold"}')
    p.add_argument("--label-separator", default=config.default_of("source.label_separator"),
                   help="between the findings of a multi-label row")
    p.add_argument("--task", required=True, type=_task, help=TASK_HELP)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=config.default_of("split_seed"))
    p.add_argument("--test-list", help="images whose patients form the test pool (NIH's test_list.txt format)")
    p.add_argument("--bboxes", help="NIH's BBox_List_2017.csv: write <out>.localization.csv, keep its patients out of train/val")
    p.add_argument("--skip-missing", metavar="IMAGES", help="leave out the rows whose image is absent from this folder, "
                                                            "listed in <out>.missing.csv")
    p.set_defaults(func=_prepare_splits)

    p = sub.add_parser("external-table", help="an external test set's table: every image of the task's classes")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--metadata", help="NIH-style Data_Entry CSV, or any table with --columns")
    where.add_argument("--folder", help="a folder of class folders (<class>/*.png, sorted into label order)")
    p.add_argument("--columns", help="JSON: the table's column of image, labels and patient")
    p.add_argument("--label-separator", default=config.default_of("source.label_separator"),
                   help="between the findings of a multi-label row")
    p.add_argument("--task", required=True, type=_task, help=TASK_HELP)
    p.add_argument("--set", help="the set's name in the config (external.<set>), for messages")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_external_table)

    p = sub.add_parser("index-imagefolder", help="the split table of a train|val|test/<class>/ folder")
    p.add_argument("--root", required=True)
    p.add_argument("--task", required=True, type=_task, help=TASK_HELP)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_index_imagefolder)

    p = sub.add_parser("cache-images", help="decode and resize every split image once")
    p.add_argument("--splits", nargs="+", required=True)
    p.add_argument("--extra", nargs="*", default=[], help="more image lists to cache (localization sets)")
    p.add_argument("--images", required=True)
    p.add_argument("--size", type=positive, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--lesions", help="folder of true lesion masks with the images' names")
    p.add_argument("--threads", type=positive, default=config.default_of("train.threads"))
    p.set_defaults(func=_cache_images)

    p = sub.add_parser("train-unet", help="train the lung U-Net")
    p.add_argument("--images", required=True)
    p.add_argument("--masks", required=True, help="one mask per image: the same file name (plus unet.mask_suffix)")
    p.add_argument("--labels", help="a table with id (the image file's stem) and patient: held-out images are whole "
                                    "patients")
    p.add_argument("--figure", help="the worst held-out segmentations (PNG)")
    p.add_argument("--encoder-weights", help="the encoder's pretrained weights (a file from fetch-weights --unet-encoder)")
    p.add_argument("--settings", default="{}", help="the unet section")
    p.add_argument("--out", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--device", default=config.default_of("device"))
    p.add_argument("--threads", type=positive, default=config.default_of("train.threads"))
    p.set_defaults(func=_train_unet)

    p = sub.add_parser("segment-lungs", help="lung mask (PNG) and box (CSV) of every image of a folder, and an overlay grid")
    p.add_argument("--checkpoint", required=True, help="a trained lung U-Net (train-unet's --out)")
    p.add_argument("--images", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--postprocess", action="store_true", help="keep the two largest components, fill holes")
    p.add_argument("--device", default=config.default_of("device"))
    p.add_argument("--threads", type=positive, default=config.default_of("train.threads"))
    p.set_defaults(func=_segment_lungs)

    p = sub.add_parser("precache-masks", help="lung mask and box of every cached image, once")
    p.add_argument("--unet", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--figure")
    p.add_argument("--table", help="HTML table of the flag counts, for the report")
    p.add_argument("--postprocess", action="store_true", help="keep the two largest components, fill holes")
    p.add_argument("--device", default=config.default_of("device"))
    p.add_argument("--threads", type=positive, default=config.default_of("train.threads"))
    p.set_defaults(func=_precache_masks)

    p = sub.add_parser("finding-coverage", help="share of each true finding inside its class's target region")
    p.add_argument("--splits", required=True)
    p.add_argument("--cache", required=True, help="an image cache with lesions.npy (true lesion masks)")
    p.add_argument("--lungs", required=True)
    p.add_argument("--task", required=True, type=_task, help=TASK_HELP)
    p.add_argument("--settings", default="{}", help="the attention section (its region: box or mask)")
    p.add_argument("--out", required=True, help="JSON")
    p.add_argument("--table", help="the same as an HTML table, for the report")
    p.set_defaults(func=_finding_coverage)

    p = sub.add_parser("fetch-weights", help="a backbone's or the U-Net encoder's pretrained weights from the Hugging "
                                             "Face hub, once")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--backbone")
    which.add_argument("--unet-encoder", help="an smp encoder (unet.encoder), with --encoder-weights")
    p.add_argument("--encoder-weights", help="with --unet-encoder: smp's name of the encoder's weights (unet.encoder_weights: "
                                             "imagenet, ssl, ...)")
    p.add_argument("--out", required=True, help="the .safetensors file to write")
    p.set_defaults(func=_fetch_weights)

    p = sub.add_parser("train", help="one training job")
    _run_args(p)
    p.add_argument("--out", required=True, help="run folder")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="metrics, intervals and localization of one run")
    _run_args(p)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--bootstrap", type=int, default=config.default_of("evaluate.bootstrap"))
    p.add_argument("--localization", help="a localization set (<task>.localization.csv) to score CAMs against")
    p.add_argument("--external", metavar="NAME", help="evaluate on an external test set of this name: --splits, "
                                                      "--cache and --lungs are that set's (its table holds only test)")
    p.add_argument("--internal", help="with --external: the run's own metrics.json (the CAM threshold its val chose)")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("predict", help="apply one trained run to new films: probabilities, heat maps, an overview")
    p.add_argument("--run", required=True, help="a trained run's folder (results/<dataset>/runs/<run>/)")
    films = p.add_mutually_exclusive_group(required=True)
    films.add_argument("--images", help="a folder of films (png, jpg; any size and aspect)")
    films.add_argument("--table", help="a CSV with an image column: paths under the table's folder")
    p.add_argument("--out", required=True)
    p.add_argument("--unet", help="the lung U-Net to draw lungs and target regions with (default: the run's study's)")
    p.add_argument("--device", default=config.default_of("device"), help="cpu, cuda or cuda:N")
    p.add_argument("--batch", type=positive, default=32, help="films per forward")
    p.add_argument("--threads", type=positive, default=config.default_of("train.threads"))
    p.set_defaults(func=_predict)

    p = sub.add_parser("aggregate", help="tables, figures and appendix.tex")
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--histories", nargs="*", default=[])
    p.add_argument("--externals", nargs="*", default=[], help="runs' results on external sets (runs/<run>/external/<set>.json)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--cache", help="image cache, for the CAM overlays")
    p.add_argument("--lungs", help="precached lung boxes, for the CAM overlays")
    p.set_defaults(func=_aggregate)
    return ap


def main(argv: list[str] | None = None) -> None:
    from .errors import CxrlocError

    args = parser().parse_args(argv)
    try:
        args.func(args)
    except CxrlocError as e:
        sys.exit(f"cxrloc {args.command}: error: {e}")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as e:  # an input path
        sys.exit(f"cxrloc {args.command}: error: {e.filename}: {e.strerror}")


if __name__ == "__main__":
    main()
