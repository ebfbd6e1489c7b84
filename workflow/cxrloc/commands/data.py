"""``cxrloc`` subcommands of the data: synthetic and implanted sets, downloads, split tables, the image cache."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import config
from ..arguments import TASK_HELP, positive, task


def _present(meta, images: Path, listing: Path):
    """The metadata rows whose image is in ``images``; the others are listed in ``listing``."""
    from ..atomic import atomic_path
    from ..data.metadata import split_present

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
    from ..atomic import atomic_path
    from ..data.locset import localization_set, read_bboxes

    locset = localization_set(read_bboxes(args.bboxes), meta, args.task, args.seed)
    with atomic_path(Path(args.out).with_suffix(".localization.csv")) as tmp:
        locset.to_csv(tmp, index=False)
    held_out = set(locset["patient"])
    print(f"localization set: {len(locset)} boxes on {locset['image'].nunique()} images of {len(held_out)} patients")
    return held_out


def _synthesize(args) -> None:
    from ..data.synthetic import synthesize

    meta = synthesize(config.synthetic_config(config.load(args.settings)), Path(args.out))
    print(f"wrote {len(meta)} images of {meta['Patient ID'].nunique()} patients to {args.out}")


def _implant(args) -> None:
    from ..data.implanted import implant_films

    table = implant_films(Path(args.films), config.implanted_config(config.load(args.settings)), Path(args.out))
    counts = table.groupby(["split", "label"]).size().unstack(fill_value=0)
    print(f"wrote {len(table)} variants of {table['patient'].nunique()} patients' films to {args.out}:\n{counts}")


def _download(args) -> None:
    from ..data.download import fetch

    fetch(args.url, Path(args.out), sha256=args.sha256, size=args.size, manifest=Path(args.manifest) if args.manifest else None)


def _extract(args) -> None:
    from ..data.download import extract_images

    print(f"extracted {extract_images([Path(f) for f in args.archives], Path(args.out), args.expect)} images to {args.out}")


def _nih_file(args) -> None:
    from ..data.download import nih_file

    print(f"wrote {nih_file(args.name, Path(args.out))}")


def _montgomery(args) -> None:
    from ..lungs.montgomery import montgomery

    print(f"prepared {montgomery(Path(args.zip), Path(args.out))} Montgomery radiographs with lung masks in {args.out}")


def _prepare_splits(args) -> None:
    from ..data.metadata import read_list, read_metadata
    from ..data.splits import SplitConfig, given_splits, prepare_splits, report, write_splits

    meta = read_metadata(args.metadata, json.loads(args.columns) if args.columns else None, args.label_separator)
    if args.skip_missing:
        meta = _present(meta, Path(args.skip_missing), Path(args.out).with_suffix(".missing.csv"))
    if "split" in meta:
        splits = given_splits(meta, args.task, args.metadata)
    else:
        splits = prepare_splits(meta, SplitConfig(args.task, args.seed), read_list(args.test_list), _held_out(args, meta))
    write_splits(splits, args.out, args.task)
    print(report(splits))


def _external_table(args) -> None:
    from ..atomic import atomic_path

    if args.public:
        from ..data.public import public_table
        from ..data.splits import external_split

        films, _ = public_table(args.public, Path(args.folder), args.uncertain, args.views, set(args.task.classes))
        meta = films.rename(columns={"label": "labels"}).assign(labels=lambda t: t["labels"].str.split("|"))
        table = external_split(meta, args.task, Path(args.folder))
    elif args.vindr:
        from ..data.splits import external_split
        from ..data.vindr import image_labels, read_annotations

        table = external_split(image_labels(read_annotations(Path(args.vindr))), args.task, args.vindr)
    elif args.folder:
        from ..data.imagefolder import index_class_folders

        table = index_class_folders(Path(args.folder), args.task)
    else:
        from ..data.metadata import read_metadata
        from ..data.splits import external_split

        meta = read_metadata(args.metadata, json.loads(args.columns) if args.columns else None, args.label_separator,
                             f"external.{args.set}" if args.set else "external.<set>")
        table = external_split(meta, args.task, args.metadata)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)
    print(f"{len(table)} images of {args.task.name}'s classes: {table['finding'].value_counts().to_dict()}")


def _external_boxes(args) -> None:
    from ..atomic import atomic_path
    from ..data.locset import localization_set
    from ..data.vindr import boxes, image_labels, read_annotations

    annotations = read_annotations(Path(args.vindr))
    locset = localization_set(boxes(annotations, args.task), image_labels(annotations), args.task)
    with atomic_path(args.out) as tmp:
        locset.to_csv(tmp, index=False)
    print(f"{len(locset)} boxes of {locset['image'].nunique()} images: {locset['finding'].value_counts().to_dict()}")


def _index_imagefolder(args) -> None:
    from ..data.imagefolder import index_imagefolder
    from ..data.splits import report, write_splits

    splits = index_imagefolder(Path(args.root), args.task)
    write_splits(splits, args.out, args.task)
    print(report(splits))


def _cache_images(args) -> None:
    import pandas as pd

    from ..data.imagecache import build_cache

    names = list(dict.fromkeys(pd.concat([pd.read_csv(f, usecols=["image"]) for f in args.splits + args.extra])["image"]))
    if args.markers:
        from ..data.marker import Markers

        copies = Markers.read(Path(args.markers)).table["ceiling"].reindex(names)
        names += [c for c in copies if isinstance(c, str) and c]
    cache = build_cache(names, Path(args.images), Path(args.out), args.size, args.threads,
                        Path(args.lesions) if args.lesions else None)
    print(f"cached {len(cache.index)} images at {args.size} px in {args.out}")


def _public_table(args) -> None:
    from ..atomic import atomic_path, atomic_write_text
    from ..data.public import public_table

    table, test = public_table(args.kind, Path(args.root), args.uncertain, args.views, set(args.named))
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)
    atomic_write_text(args.test_list, "".join(f"{name}\n" for name in sorted(test)))
    print(f"{len(table)} frontal films of {table['patient'].nunique()} patients, {len(test)} in the official test")


def _public_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--uncertain", choices=["zeros", "ones", "drop"], default=config.default_of("source.uncertain"),
                   help="what an uncertain (-1) finding becomes (source.uncertain)")
    p.add_argument("--views", nargs="+", default=config.default_of("source.views"), help="the frontal views kept")


def register(sub) -> None:
    """Add this stage's subcommands to ``sub``."""
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
    p.add_argument("--task", required=True, type=task, help=TASK_HELP)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=config.default_of("split_seed"))
    p.add_argument("--test-list", help="images whose patients form the test pool (NIH's test_list.txt format)")
    p.add_argument("--bboxes", help="NIH's BBox_List_2017.csv: write <out>.localization.csv, keep its patients out of train/val")
    p.add_argument("--skip-missing", metavar="IMAGES", help="leave out the rows whose image is absent from this folder, "
                                                            "listed in <out>.missing.csv")
    p.set_defaults(func=_prepare_splits)

    p = sub.add_parser("public-table", help="a public set's table (CheXpert, MIMIC-CXR-JPG) from its own tables, and "
                                            "its official test")
    p.add_argument("--kind", required=True, choices=["chexpert", "mimic"])
    p.add_argument("--root", required=True, help="the set's folder: its tables as published and its films")
    _public_options(p)
    p.add_argument("--named", nargs="*", default=[], help="the findings the tasks name (for uncertain: drop)")
    p.add_argument("--out", required=True, help="the table (image, label, patient, sex, age, view)")
    p.add_argument("--test-list", required=True, help="the official test's films, one a line")
    p.set_defaults(func=_public_table)

    p = sub.add_parser("external-table", help="an external test set's table: every image of the task's classes")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--metadata", help="NIH-style Data_Entry CSV, or any table with --columns")
    where.add_argument("--folder", help="a folder of class folders (<class>/*.png, sorted into label order), or with "
                                        "--public a public set's folder")
    where.add_argument("--vindr", help="VinDr-CXR's annotation table (its films <root>/<image_id>.dicom)")
    p.add_argument("--public", choices=["chexpert", "mimic"], help="--folder holds this public set, its tables as "
                                                                    "published")
    _public_options(p)
    p.add_argument("--columns", help="JSON: the table's column of image, labels and patient")
    p.add_argument("--label-separator", default=config.default_of("source.label_separator"),
                   help="between the findings of a multi-label row")
    p.add_argument("--task", required=True, type=task, help=TASK_HELP)
    p.add_argument("--set", help="the set's name in the config (external.<set>), for messages")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_external_table)

    p = sub.add_parser("external-boxes", help="an external set's localization set: the radiologists' boxes of the "
                                              "task's findings, every reader's, in val and test halves")
    p.add_argument("--vindr", required=True, help="VinDr-CXR's annotation table")
    p.add_argument("--task", required=True, type=task, help=TASK_HELP)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_external_boxes)

    p = sub.add_parser("index-imagefolder", help="the split table of a train|val|test/<class>/ folder")
    p.add_argument("--root", required=True)
    p.add_argument("--task", required=True, type=task, help=TASK_HELP)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_index_imagefolder)

    p = sub.add_parser("cache-images", help="decode and resize every split image once")
    p.add_argument("--splits", nargs="+", required=True)
    p.add_argument("--extra", nargs="*", default=[], help="more image lists to cache (localization sets)")
    p.add_argument("--images", required=True)
    p.add_argument("--size", type=positive, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--lesions", help="folder of true lesion masks with the images' names")
    p.add_argument("--markers", help="generated sets: markers.csv, whose ceiling copies of the images are cached too")
    p.add_argument("--threads", type=positive, default=config.default_of("train.threads"))
    p.set_defaults(func=_cache_images)
