"""Every error a user can make is one line naming the file or key (the ``CxrlocError`` path), from
the CLI as a user runs it: crafted, truncated and missing checkpoints, bad weights files, a bad
``--settings``, unknown backbones, CUDA where there is none, caches of the wrong kind."""

import json
import re
import shutil

import numpy as np
import pytest
import torch
from cxrloc.cli import main
from PIL import Image

from .test_resume import Payload
from .workflow import OUT, run_args


def one_line_error(*argv: str) -> str:
    """The CLI's exit message; it must be one line that starts with the command's name."""
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    message = str(e.value.code)
    assert message.startswith(f"cxrloc {argv[0]}: error: ") and "\n" not in message, message
    return message


@pytest.fixture(scope="module")
def unet_checkpoint(tmp_path_factory) -> dict:
    """A lung U-Net checkpoint as train-unet writes it, and broken versions of it."""
    from cxrloc.lungs.unet import build

    folder = tmp_path_factory.mktemp("unets")
    model = build("resnet18", (16, 8, 8, 8, 8))
    torch.save({"state_dict": model.state_dict(), "encoder": "resnet18", "image_size": 32,
                "decoder_channels": [16, 8, 8, 8, 8], "standardize": None}, folder / "unet.pt")
    data = (folder / "unet.pt").read_bytes()
    (folder / "truncated.pt").write_bytes(data[: len(data) // 2])
    torch.save({"fingerprint": "x", "payload": Payload(folder / "pwned")}, folder / "crafted.pt")
    torch.save({"state_dict": {}, "spec": {}}, folder / "classifier.pt")  # a checkpoint, but no U-Net
    (folder / "films").mkdir()
    Image.fromarray(np.full((40, 30), 90, np.uint8)).save(folder / "films/a.png")
    return {"folder": folder, "films": folder / "films"}


@pytest.mark.parametrize(("name", "says"), [
    ("truncated.pt", "corrupt or foreign lung U-Net checkpoint"),
    ("crafted.pt", "corrupt or foreign lung U-Net checkpoint"),
    ("classifier.pt", "is not a lung U-Net of cxrloc train-unet"),
    ("absent.pt", "lung U-Net checkpoint .* not found"),
])
def test_a_bad_unet_checkpoint_is_one_line_naming_it(unet_checkpoint, tmp_path, name, says):
    path = unet_checkpoint["folder"] / name
    message = one_line_error("segment-lungs", "--checkpoint", str(path), "--images", str(unet_checkpoint["films"]),
                             "--out", str(tmp_path / "seg"))
    assert str(path) in message and re.search(says, message), message
    assert not (tmp_path / "seg").exists()
    assert not (unet_checkpoint["folder"] / "pwned").exists(), "the crafted checkpoint ran code"


def test_segment_lungs_writes_nothing_for_films_sharing_a_name_or_a_bad_film(unet_checkpoint, tmp_path):
    """``a.png`` and ``a.jpg`` would share ``masks/a.png``; a bad film in a later batch must not leave
    the masks of the earlier ones without their ``boxes.csv``."""
    films, out = tmp_path / "films", tmp_path / "seg"
    films.mkdir()
    shutil.copy(unet_checkpoint["films"] / "a.png", films / "a.png")
    Image.open(films / "a.png").convert("RGB").save(films / "a.jpg")
    message = one_line_error("segment-lungs", "--checkpoint", str(unet_checkpoint["folder"] / "unet.pt"),
                             "--images", str(films), "--out", str(out))
    assert f"{films / 'a.jpg'} and {films / 'a.png'} share the name 'a'" in message and not out.exists()

    (films / "a.jpg").unlink()
    for i in range(20):
        shutil.copy(films / "a.png", films / f"b{i:02d}.png")
    (films / "z.png").write_bytes(b"not a film")  # in the second batch of 16
    message = one_line_error("segment-lungs", "--checkpoint", str(unet_checkpoint["folder"] / "unet.pt"),
                             "--images", str(films), "--out", str(out))
    assert f"cannot decode image {films / 'z.png'}" in message
    assert not (out / "masks").exists() and not (out / "boxes.csv").exists() and not list(out.glob(".*.part"))


def test_a_bad_unet_checkpoint_in_precache_masks_is_one_line(unet_checkpoint, tmp_path):
    from cxrloc.data.imagecache import build_cache

    build_cache(["a.png"], unet_checkpoint["films"], tmp_path / "cache", 32)
    path = unet_checkpoint["folder"] / "crafted.pt"
    message = one_line_error("precache-masks", "--unet", str(path), "--cache", str(tmp_path / "cache"),
                             "--out", str(tmp_path / "lungs.npz"), "--report", str(tmp_path / "report.json"))
    assert f"corrupt or foreign lung U-Net checkpoint {path}" in message


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_a_bad_unet_encoder_weights_file_is_one_line(tmp_path, suffix):
    films, masks = tmp_path / "films", tmp_path / "masks"
    for folder in (films, masks):
        folder.mkdir()
        for i in range(3):
            Image.fromarray(np.full((32, 32), 200 * (folder == masks), np.uint8)).save(folder / f"{i}.png")
    weights = tmp_path / f"encoder{suffix}"
    weights.write_bytes(b"\x00" * 64)
    message = one_line_error("train-unet", "--images", str(films), "--masks", str(masks), "--encoder-weights",
                             str(weights), "--settings", '{unet: {image_size: 32}}', "--out", str(tmp_path / "u.pt"),
                             "--report", str(tmp_path / "r.json"))
    assert f"{weights} is not a weights file of the U-Net encoder 'resnet18'" in message


@pytest.mark.parametrize(("settings", "says"), [
    ("{train: [1, 2", "--settings: not YAML or JSON"),
    ("[1, 2]", "--settings: a mapping of config sections"),
    ("missing.yaml", "--settings: missing.yaml not found"),
    ('{"train": 5}', "train: 5 is not of type 'object'"),
    ('{"train": {"epochs": 0}}', "train.epochs: 0 is less than the minimum of 1"),
])
def test_a_bad_settings_argument_is_one_line(settings, says):
    message = one_line_error("train", "--splits", "s.csv", "--cache", "c", "--lungs", "l.npz", "--task", "ne",
                             "--backbone", "resnet18", "--settings", settings, "--out", "run")
    assert says in message


def test_a_missing_input_file_is_one_line_naming_it(tmp_path):
    message = one_line_error("cache-images", "--splits", str(tmp_path / "ne.csv"), "--images", str(tmp_path),
                             "--size", "32", "--out", str(tmp_path / "cache"))
    assert message.endswith(f"{tmp_path / 'ne.csv'}: No such file or directory")


def test_an_unknown_backbone_is_one_line_with_each_close_name_once(tmp_path):
    message = one_line_error("fetch-weights", "--backbone", "resnet19", "--out", str(tmp_path / "w.safetensors"))
    assert "unknown backbone 'resnet19'; did you mean" in message
    close = message.split("did you mean ")[1].split("?")[0].split(", ")
    assert len(close) == len(set(close)) and "resnet18" in close, close


@pytest.mark.workflow
@pytest.mark.parametrize("problem", ["backbone", "cuda", "weights.pt", "weights.safetensors", "images.npy",
                                     "lungs.npz", "lungs.npz of other arrays", "warm-up"])
def test_a_training_job_of_bad_inputs_is_one_line_naming_the_file_or_key(study, tmp_path, problem):
    args = run_args(study, lam="1")
    work = tmp_path / "inputs"
    if problem == "backbone":
        args[args.index("--backbone") + 1] = "resnet19"
        expect = "unknown backbone 'resnet19'"
    elif problem == "cuda":
        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
        args += ["--device", "cuda"]
        expect = "device 'cuda' was asked for but CUDA is not available here"
    elif problem == "warm-up":
        args[args.index("--lambda") + 1] = "0.5"
        args += ["--warmup", "2"]  # the tiny study trains 2 epochs
        expect = "λ 0.5w2: a warm-up of 2 epochs leaves none of train.epochs (2) for the objective"
    elif problem.startswith("weights"):
        weights = tmp_path / problem
        weights.write_bytes(b"PK\x03\x04 not weights")
        settings = json.loads(args[args.index("--settings") + 1])
        settings["train"]["pretrained"] = True
        args[args.index("--settings") + 1] = json.dumps(settings)
        args += ["--weights", str(weights)]
        expect = f"cannot load the pretrained weights {weights} into 'resnet_tiny'"
    else:
        shutil.copytree(study / OUT / "cache", work / "cache")
        shutil.copy(study / OUT / "masks/lungs.npz", work / "lungs.npz")
        if problem == "images.npy":
            np.save(work / "cache/images.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        elif problem == "lungs.npz":
            (work / "lungs.npz").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
        else:
            np.savez(work / "lungs.npz", image=np.array(["a.png"]))
        args[args.index("--cache") + 1] = str(work / "cache")
        args[args.index("--lungs") + 1] = str(work / "lungs.npz")
        expect = str(work / ("cache/images.npy" if problem == "images.npy" else "lungs.npz"))
    message = one_line_error("train", *args, "--out", str(tmp_path / "run"))
    assert expect in message and message.count("rerun the rule") <= 1, message
    assert not (tmp_path / "run/model.pt").exists()


def bomb(path):
    """A PNG whose header claims 14000 × 14000 pixels: Pillow refuses it as a decompression bomb on opening."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 14000, 14000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_one_line_naming_the_film(tmp_path):
    """A CSV source's film and a film given to predict used to end in Pillow's traceback."""
    (tmp_path / "films").mkdir()
    film = bomb(tmp_path / "films/huge.png")
    (tmp_path / "ne.csv").write_text("image\nhuge.png\n")
    message = one_line_error("cache-images", "--splits", str(tmp_path / "ne.csv"), "--images", str(tmp_path / "films"),
                             "--size", "32", "--out", str(tmp_path / "cache"))
    assert f"cannot decode image {film}" in message and "decompression bomb" in message
    assert not (tmp_path / "cache").exists()
