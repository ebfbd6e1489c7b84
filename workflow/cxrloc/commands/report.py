"""``cxrloc`` subcommands of reports: a trained run applied to new films, the tables."""

from __future__ import annotations

from pathlib import Path

from .. import config
from ..arguments import positive


def _predict(args) -> None:
    import torch

    from ..device import gpu_slot
    from ..report.predict import TrainedRun, film_names, predict

    torch.set_num_threads(args.threads)
    run = TrainedRun.read(Path(args.run))
    unet = Path(args.unet) if args.unet else run.study_unet
    root, names = film_names(Path(args.images) if args.images else None, Path(args.table) if args.table else None,
                             Path(args.out))
    with gpu_slot(args.device, fix="give --device cpu") as device:
        table = predict(run, root, names, Path(args.out), device, unet, args.batch)
    counts = table["predicted"].value_counts().to_dict()
    print(f"predicted {len(table)} films with {run.folder.name} ({'lung U-Net ' + str(unet) if unet else 'no lung U-Net'}):"
          f" {counts}; {Path(args.out) / 'predictions.csv'}, {Path(args.out) / 'cams'}/, {Path(args.out) / 'overview.png'}")


def _aggregate(args) -> None:
    from ..report.aggregate import aggregate

    stems = aggregate([Path(f) for f in args.runs], [Path(f) for f in args.histories], args.dataset, Path(args.out),
                      Path(args.cache) if args.cache else None, Path(args.lungs) if args.lungs else None,
                      [Path(f) for f in args.externals], {Path(f).stem: Path(f) for f in args.splits}, args.bootstrap)
    print(f"wrote {len(stems)} tables to {args.out}")


def _learning_curve(args) -> None:
    from ..report.curve import write

    compared = write([Path(f) for f in args.runs], Path(args.splits), Path(args.out))
    print(f"{len(compared)} share × objective rows: {args.out}.md, .png, .json")


def register(sub) -> None:
    """Add this stage's subcommands to ``sub``."""
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
    p.add_argument("--splits", nargs="*", default=[], help="the tasks' split tables (<task>.csv), for the subgroup "
                                                          "tables where they have sex, age or view")
    p.add_argument("--bootstrap", type=positive, default=config.default_of("evaluate.bootstrap"),
                   help="resamples of the subgroups' AUC intervals")
    p.set_defaults(func=_aggregate)

    p = sub.add_parser("learning-curve", help="objectives against cross-entropy at each share of the training "
                                              "patients (train.patients): table, verdict, figure")
    p.add_argument("--runs", nargs="+", required=True, help="the runs' metrics.json, every share and seed")
    p.add_argument("--splits", required=True, help="the task's split table (<task>.csv), to count each share's films")
    p.add_argument("--out", required=True, help="path without suffix: writes .md, .png and .json")
    p.set_defaults(func=_learning_curve)
