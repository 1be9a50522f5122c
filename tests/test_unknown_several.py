"""Several things no model knows: "all three pumpkins" (a class neither the detector nor the
classifier has) is answered with that many separate salient regions, each flagged as a guess,
not with one region for all of them. On a real photo of three jack-o'-lanterns (vault split)."""

from __future__ import annotations

from pathlib import Path

from graphs.evalset import load_evalset
from tests._data import open_on_photo

DATA = Path(__file__).resolve().parents[1] / "data"
PHOTO = DATA / "photos" / "va_jack_o_lanterns.jpg"


def test_a_counted_unknown_thing_gets_one_guess_per_instance(lite_runtime):
    drawn = load_evalset(DATA / "eval" / "vault.json").objects[PHOTO.name]
    _, answer = open_on_photo(lite_runtime, "select all three pumpkins", PHOTO)
    instances = [m.mask.array for m in answer.masks if m.role == "instance"]
    assert len(instances) == 3, answer.reply
    best = [max(float((m & d).sum() / (m | d).sum()) for m in instances) for d in drawn.values()]
    assert sum(b >= 0.3 for b in best) >= 2, best
    assert "guess" in answer.reply or "not confident" in answer.reply


def test_one_unknown_thing_is_still_one_guess(lite_runtime):
    _, answer = open_on_photo(lite_runtime, "select the pumpkin", PHOTO)
    assert len([m for m in answer.masks if m.role == "target"]) == 1
