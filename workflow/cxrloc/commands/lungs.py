"""``cxrloc`` subcommands of the lungs: the U-Net trained, applied to a folder, precached; finding coverage."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import config
from ..arguments import TASK_HELP, positive, task


def _train_unet(args) -> None:
    import torch

    from ..atomic import atomic_write_json
    from ..device import gpu_slot
    from ..lungs.quality import worst_cases
    from ..lungs.unet_training import train_unet
    from ..report.figures import segmentations

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

    from ..device import gpu_slot
    from ..lungs.boxes import FLAGS
    from ..lungs.segment import most_implausible, segment_folder
    from ..report.figures import segmentations

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

    from ..atomic import atomic_write_json
    from ..data.imagecache import ImageCache
    from ..device import gpu_slot
    from ..lungs.inference import precache
    from ..lungs.lungcache import LungCache
    from ..report.figures import lung_quality

    torch.set_num_threads(args.threads)
    cache = ImageCache(Path(args.cache))
    with gpu_slot(args.device) as device:
        report = precache(Path(args.unet), cache, Path(args.out), device, postprocess=args.postprocess)
    atomic_write_json(args.report, report)
    print(f"precached {report['images']} lung masks at {report['images_per_s']:.1f} images/s; flags {report['flags']}")
    if args.figure:
        lung_quality(cache.images(), cache.index, LungCache.read(Path(args.out)), Path(args.figure))
    if args.table:
        from ..atomic import atomic_write_text
        from ..lungs.quality import quality_table

        atomic_write_text(args.table, quality_table(report))


def _finding_coverage(args) -> None:
    from ..atomic import atomic_write_json, atomic_write_text
    from ..data.imagecache import ImageCache
    from ..lungs.coverage import finding_coverage
    from ..lungs.lungcache import LungCache
    from ..train.splitdata import read_splits

    region = config.attention_config(config.load(args.settings)).region
    splits, cache, lungs = read_splits(Path(args.splits)), ImageCache(Path(args.cache)), LungCache.read(Path(args.lungs))
    table = finding_coverage(splits, cache, lungs, args.task, region)
    tables = {"classes": table}
    if args.markers:
        from ..data.marker import Markers
        from ..lungs.coverage import cue_coverage

        tables["cue"] = cue_coverage(splits, cache, lungs, args.task, region, Markers.read(Path(args.markers)))
    atomic_write_json(args.out, {"task": args.task.name, **{k: t.to_dict(orient="records") for k, t in tables.items()}})
    if args.table:
        atomic_write_text(args.table, "".join(t.to_html(index=False, float_format="%.3f") for t in tables.values()))
    for t in tables.values():
        print(t.to_string(index=False, float_format="%.3f"))


def _device_options(p: argparse.ArgumentParser) -> None:
    """Where a U-Net job runs: ``--device`` and ``--threads``, with the config's defaults."""
    p.add_argument("--device", default=config.default_of("device"))
    p.add_argument("--threads", type=positive, default=config.default_of("train.threads"))


def register(sub) -> None:
    """Add this stage's subcommands to ``sub``."""
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
    _device_options(p)
    p.set_defaults(func=_train_unet)

    p = sub.add_parser("segment-lungs", help="lung mask (PNG) and box (CSV) of every image of a folder, and an overlay grid")
    p.add_argument("--checkpoint", required=True, help="a trained lung U-Net (train-unet's --out)")
    p.add_argument("--images", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--postprocess", action="store_true", help="keep the two largest components, fill holes")
    _device_options(p)
    p.set_defaults(func=_segment_lungs)

    p = sub.add_parser("precache-masks", help="lung mask and box of every cached image, once")
    p.add_argument("--unet", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--figure")
    p.add_argument("--table", help="HTML table of the flag counts, for the report")
    p.add_argument("--postprocess", action="store_true", help="keep the two largest components, fill holes")
    _device_options(p)
    p.set_defaults(func=_precache_masks)

    p = sub.add_parser("finding-coverage", help="share of each true finding (and of the confounder's cue) inside its "
                                                "class's target region")
    p.add_argument("--splits", required=True)
    p.add_argument("--cache", required=True, help="an image cache with lesions.npy (true lesion masks)")
    p.add_argument("--lungs", required=True)
    p.add_argument("--task", required=True, type=task, help=TASK_HELP)
    p.add_argument("--settings", default="{}", help="the attention section (its region: box or mask)")
    p.add_argument("--out", required=True, help="JSON")
    p.add_argument("--table", help="the same as an HTML table, for the report")
    p.add_argument("--markers", help="generated sets: markers.csv, whose drawn cues are measured too")
    p.set_defaults(func=_finding_coverage)
