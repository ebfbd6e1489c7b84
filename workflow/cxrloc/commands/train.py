"""``cxrloc`` subcommands of training: pretrained weights, one training job, one evaluation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import config
from ..arguments import TASK_HELP, positive, task, whole


def _spec(args):
    from ..train.run import resolve_run

    given = {"batch_size": args.batch, "device": f"cuda:{args.gpu}" if args.gpu is not None else args.device,
             "threads": args.threads}
    train = {k: v for k, v in given.items() if v is not None}
    settings = config.load(args.settings) if args.settings else {}
    if args.weights:
        train["weights"] = {**config.train_config(settings).weights, args.backbone: args.weights}
    return resolve_run(args.dataset, args.task, args.backbone, args.lam, args.thresh, args.seed, settings,
                       args.objective, args.adaptive, args.warmup, **train)


def _splits_data(args, spec, names, markers, required=("train", "val", "test")):
    """The named splits of the run ``spec`` (cxrloc.train.splitdata.run_splits), and the identity of its inputs."""
    from ..data.imagecache import ImageCache
    from ..lungs.lungcache import LungCache
    from ..train.splitdata import input_identity, run_splits

    cache, lungs = ImageCache(Path(args.cache)), LungCache.read(Path(args.lungs))
    data = run_splits(spec, Path(args.splits), cache, lungs, names, required, markers)
    return data, input_identity(Path(args.splits), cache, lungs)


def _markers(args):
    from ..data.marker import Markers

    return Markers.read(Path(args.markers)) if getattr(args, "markers", None) else None


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--splits", required=True, help="split CSV of the task")
    p.add_argument("--cache", "--path", required=True, help="image cache folder (--path: the original's flag)")
    p.add_argument("--lungs", required=True, help="precached lung masks (.npz)")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--task", required=True, type=task, help=TASK_HELP)
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
    p.add_argument("--markers", help="generated sets: markers.csv (the confounder's box per image, and the "
                                     "ceiling copies the ceiling trains on; the evaluation measures its use)")


def _fetch_weights(args) -> None:
    from ..train.weights import fetch, fetch_unet_encoder

    if args.backbone:
        print(f"wrote {fetch(args.backbone, Path(args.out))}")
    elif not args.encoder_weights:
        raise config.ConfigError("--unet-encoder needs --encoder-weights: which of smp's weights to fetch (imagenet, …)")
    else:
        print(f"wrote {fetch_unet_encoder(args.unet_encoder, args.encoder_weights, Path(args.out))}")


def _train(args) -> None:
    from ..train.job import Preempted, train

    spec = _spec(args)
    (tr, va), inputs = _splits_data(args, spec, ["train", "val"], _markers(args))
    try:
        train(spec, tr, va, Path(args.out), inputs)
    except Preempted:
        print("stopped by SIGTERM; the last finished epoch is checkpointed and a rerun resumes from it", file=sys.stderr)
        sys.exit(143)


def _evaluate(args) -> None:
    import pandas as pd

    from ..data.imagecache import ImageCache
    from ..train.evaluate import evaluate

    if args.external and not args.internal:
        raise config.ConfigError("--external needs --internal: the run's own metrics.json (its CAM threshold)")
    spec, markers = _spec(args), _markers(args)
    locset = pd.read_csv(args.localization, dtype={"patient": str}) if args.localization else None
    if args.external:
        from ..train.results import read_result

        (te,), _ = _splits_data(args, spec, ["test"], markers, required=("test",))
        threshold = (read_result(args.internal).localization or {}).get("iou_threshold")
        r = evaluate(spec, Path(args.model), None, te, Path(args.out), args.bootstrap, locset, ImageCache(Path(args.cache)),
                     markers=markers, external=args.external, iou_threshold=threshold)
    else:
        (va, te, iid), _ = _splits_data(args, spec, ["val", "test", "test_iid"], markers)
        r = evaluate(spec, Path(args.model), va, te, Path(args.out), args.bootstrap, locset, ImageCache(Path(args.cache)),
                     markers, iid)
    print({k: round(v, 3) for k, v in r["test"]["metrics"].items()})


def register(sub) -> None:
    """Add this stage's subcommands to ``sub``."""
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
    p.add_argument("--localization", help="a localization set of boxes (<task>.localization.csv: NIH's, or an external "
                                          "set's) to score CAMs against")
    p.add_argument("--external", metavar="NAME", help="evaluate on an external test set of this name: --splits, "
                                                      "--cache and --lungs are that set's (its table holds only test)")
    p.add_argument("--internal", help="with --external: the run's own metrics.json (the CAM threshold its val chose)")
    p.set_defaults(func=_evaluate)
