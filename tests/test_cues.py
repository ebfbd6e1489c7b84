"""The implanted source's confounders (``cxrloc.data.cues``): each deterministic, where its setting
says, drawn at the cache's size like the film's own, absent from the cue-free films; on real films
(skipped, saying why, where absent) the implanted source draws each, and the coverage measures how
much of the cue lies in the lungs."""

import json

import numpy as np
import pytest
from cxrloc.config import ImplantedConfig
from cxrloc.data import cues
from cxrloc.data.imagecache import read_gray
from cxrloc.data.implanted import implant_films, variant
from cxrloc.data.marker import Markers
from PIL import Image

from .test_implanted import needs_films, truth, two_lungs

SIZE = 256


def film(size: int = SIZE) -> np.ndarray:
    """A smooth grey film with some structure."""
    y, x = np.mgrid[:size, :size] / size
    return (90 + 60 * np.sin(6 * x) * np.cos(4 * y) + 40 * y).astype(np.uint8)


def placed(kind: str, seed: int, size: int = SIZE) -> dict:
    return cues.place(kind, "corner", two_lungs(size), np.random.default_rng(seed))


@pytest.mark.parametrize("kind", cues.KINDS)
def test_a_cue_is_drawn_the_same_from_the_same_seed_and_differs_between_seeds(kind):
    assert placed(kind, 3) == placed(kind, 3)
    if kind != "square":  # the corner square has one place
        assert placed(kind, 3) != placed(kind, 4)
    cue = json.loads(cues.dumps(placed(kind, 3)))
    assert np.array_equal(cues.draw(film(), cue), cues.draw(film(), cue))
    assert (cues.draw(film(), cue) != film()).any()


@pytest.mark.parametrize("seed", range(8))
def test_text_lies_outside_the_lungs_and_the_tube_ends_inside_the_lower_lung(seed):
    lungs = two_lungs(SIZE)
    text, tube = placed("text", seed), placed("tube", seed)
    assert not (cues.spot(text, SIZE) & lungs).any()
    assert text["token"] in cues.TOKENS
    rows = np.flatnonzero(lungs.any(1))
    lower = lungs.copy()
    lower[: rows[0] + (rows[-1] - rows[0] + 1) // 2] = False
    line = cues.spot(tube, SIZE)
    assert (line & lower).sum() > 0.35 * line.sum(), "much of its course inside the lower lung"
    assert (line & ~lungs).any(), "it enters from outside the lungs"


def test_the_style_changes_the_whole_film_inside_the_lungs_too():
    cue = placed("style", 0)
    styled, lungs = cues.draw(film(), cue), two_lungs(SIZE)
    assert (np.abs(styled.astype(int) - film())[lungs] > 3).mean() > 0.9
    band = max(1, round(cue["border"] * SIZE))
    assert (styled[:band] == 0).all() and (styled[:, -band:] == 0).all(), "a dark collimation border"
    assert cues.spot(cue, 32).all() and not cues.local(cue) and all(cues.local(placed(k, 0)) for k in ("text", "tube"))


@pytest.mark.parametrize("kind", ["square", "text", "tube", "style"])
def test_a_cue_pasted_at_the_caches_size_matches_the_film_drawn_large_then_reduced(kind):
    """The evaluation pastes the cue into cue-free films at the cache's size; the films carry it
    drawn at the source's size and reduced by the cache: the two agree."""
    cue, small = placed(kind, 1), 96
    reduced = np.asarray(Image.fromarray(cues.draw(film(), cue)).resize((small, small), Image.Resampling.BILINEAR))
    pasted = cues.draw(np.asarray(Image.fromarray(film()).resize((small, small), Image.Resampling.BILINEAR)), cue)
    plain = np.asarray(Image.fromarray(film()).resize((small, small), Image.Resampling.BILINEAR)).astype(int)
    where = cues.spot(cue, small)
    assert np.abs(reduced.astype(int) - pasted)[where].mean() < 0.5 * np.abs(pasted - plain)[where].mean()


@pytest.mark.parametrize("kind", cues.KINDS)
def test_an_unmarked_variant_carries_no_cue_whatever_the_kind(kind):
    """The cue-free films (those the flips paste into) are the same whatever the confounder."""
    cfg = ImplantedConfig(image_size=96, confounder=kind)
    lungs, gray = two_lungs(96), film(96)
    plain, _, _ = variant(gray, lungs, True, False, ImplantedConfig(image_size=96), np.random.default_rng([0, 1]))
    clean, _, cue = variant(gray, lungs, True, False, cfg, np.random.default_rng([0, 1]))
    marked, _, same = variant(gray, lungs, True, True, cfg, np.random.default_rng([0, 1]))
    assert np.array_equal(clean, plain) and cue == same
    assert np.array_equal(marked, cues.draw(clean, cue))


def test_an_unknown_confounder_is_named():
    with pytest.raises(Exception, match="source.implanted.confounder 'arrow'; valid: square, text, style, tube"):
        cues.place("arrow", "corner", two_lungs(), np.random.default_rng(0))


@needs_films
@pytest.mark.parametrize("kind", ["text", "style", "tube"])
def test_real_films_carry_each_cue_where_the_markers_table_says(films, tmp_path, kind):
    cfg = ImplantedConfig(image_size=128, variants=2, confounder=kind, seed=2)
    table = implant_films(films, cfg, tmp_path / "out")
    markers = Markers.read(tmp_path / "out/markers.csv")
    assert markers.local == (kind != "style")
    for row in table.itertuples():
        image = read_gray(tmp_path / "out/images" / row.image)
        cue = markers.cue(row.image)
        assert cue["kind"] == kind
        if markers.carries([row.image])[0]:
            assert (image[markers.spot(row.image, 128)] != 0).any()
        if kind == "text":
            assert not (markers.spot(row.image, 128) & truth(films, row.image, 128)).any(), "outside the true lungs"
    shifted = table[table["split"] == "test"]
    assert 0 < markers.carries(shifted["image"]).mean() < 1

