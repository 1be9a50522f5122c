"""Evaluation sets with hand-drawn masks: loading and checking, per-turn scoring, the report."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent.errors import BadInputError
from graphs.evalset import (
    Expect,
    _matched_iou,
    category_of,
    cut_part,
    load_evalset,
    run_evalset,
    summarise,
)

H, W = 240, 320
DATA = Path(__file__).resolve().parents[1] / "data"
SPLITS = ("dev", "test", "holdout", "blind", "sealed", "reserve", "vault", "crate", "depot", "ember", "flint", "grove", "heath", "inlet")
"""The splits of ``data/eval/`` (``bench/bench_eval.py --split all`` runs the same six)."""


def _polygon(x0: int, y0: int, x1: int, y1: int) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def _write_set(root: Path, dialogues: list[dict], shapes: dict[str, list]) -> Path:
    """A photo of a red and a blue square, its LabelMe objects and a set file, laid out as data/."""
    (root / "photos").mkdir(parents=True)
    (root / "eval" / "masks").mkdir(parents=True)
    img = np.full((H, W, 3), 235, np.uint8)
    img[90:150, 40:100] = (220, 30, 30)
    img[80:160, 200:280] = (30, 60, 210)
    Image.fromarray(img).save(root / "photos" / "squares.png")
    labelme = {
        "version": "5.4.1", "flags": {}, "imagePath": "../../photos/squares.png",
        "imageData": None, "imageHeight": H, "imageWidth": W,
        "shapes": [
            {"label": label, "points": pts, "group_id": None, "description": "",
             "shape_type": "polygon", "flags": {}}
            for label, polys in shapes.items() for pts in polys
        ],
    }  # fmt: skip
    (root / "eval" / "masks" / "squares.json").write_text(json.dumps(labelme))
    path = root / "eval" / "dev.json"
    path.write_text(json.dumps({"split": "dev", "version": 1, "dialogues": dialogues}))
    return path


SHAPES = {"square-1": [_polygon(40, 90, 100, 150)], "square-2": [_polygon(200, 80, 280, 160)]}


def test_category_of_object_ids():
    assert category_of("person-2") == "person"
    assert category_of("cup") == "cup"
    assert category_of("cup-handle") == "cup-handle"
    assert category_of("wine_glass-1") == "wine glass"


def test_cut_part_halves_at_the_box_midline():
    m = np.zeros((10, 10), bool)
    m[2:6, 2:8] = True  # x 2..7: midline at 5
    left = cut_part(m, "left half")
    assert left[:, :5].sum() == m[:, :5].sum() and not left[:, 5:].any()
    bottom = cut_part(m, "bottom half")  # rows 2..5: midline at 4
    assert (bottom[4:6] == m[4:6]).all() and not bottom[:4].any()


def test_matched_iou_is_one_to_one():
    a, b = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    a[0, 0], b[3, 3] = True, True
    assert _matched_iou([b, a], [a, b]) == 1.0
    assert _matched_iou([a, a], [a, b]) == 0.5  # one prediction cannot serve two objects
    assert _matched_iou([], [a]) == 0.0


def test_expect_needs_exactly_one_kind():
    with pytest.raises(ValueError):
        Expect(objects=["a"], absent=True)
    with pytest.raises(ValueError):
        Expect()


def test_load_refuses_undrawn_objects_and_bad_files(tmp_path):
    path = _write_set(
        tmp_path,
        [{"id": "d", "image": "squares.png", "turns": [{"user": "x", "expect": {"objects": ["nope"]}}]}],
        SHAPES,
    )
    with pytest.raises(BadInputError, match="undrawn object"):
        load_evalset(path)
    path.write_text('{"split": "dev", "dialogues": [{"id": 1}]}')
    with pytest.raises(BadInputError, match="not an evaluation set"):
        load_evalset(path)
    with pytest.raises(BadInputError, match="cannot read"):
        load_evalset(tmp_path / "missing.json")


def test_run_scores_objects_absent_and_keep_turns(tmp_path, lite_runtime):
    dialogues = [
        {
            "id": "red-then-dog",
            "image": "squares.png",
            "kinds": ["dialogue", "colour"],
            "turns": [
                {"user": "find the red square", "expect": {"objects": ["square-1"]}},
                {"user": "what colour is it?", "expect": {"keep": True}},
                {"user": "segment the dog", "expect": {"absent": True}},
                {"user": "now the blue one", "expect": {"objects": ["square-2"]}},
                {"user": "only its left half", "expect": {"objects": ["square-2"], "part": "left half"}},
            ],
        }
    ]
    evalset = load_evalset(_write_set(tmp_path, dialogues, SHAPES))
    assert set(evalset.objects["squares.png"]) == {"square-1", "square-2"}
    out = tmp_path / "report"
    metrics = run_evalset(lite_runtime, evalset, out_dir=out)
    turns = json.loads((out / "turns.json").read_text())
    assert [t["turn"] for t in turns] == [0, 2, 3, 4]  # the question is not scored
    by_turn = {t["turn"]: t for t in turns}
    assert by_turn[0]["iou"] > 0.85 and by_turn[3]["iou"] > 0.85  # colour cues on flat squares
    assert by_turn[2]["iou"] == 1.0 and by_turn[2]["returned"] == 0  # the dog is absent
    assert by_turn[4]["iou"] > 0.8 and by_turn[4]["expect"] == "part"
    assert by_turn[0]["first_on_image"] and not by_turn[3]["first_on_image"]
    assert metrics["absent_answered_absent"] == 1.0 and metrics["false_absent"] == 0
    assert metrics["turns_scored"] == 4 and metrics["giou_coco_single"] is None  # squares are no COCO
    assert metrics["giou_all_turns"] == pytest.approx(np.mean([t["iou"] for t in turns]), abs=1e-4)
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert (out / "by_kind.png").stat().st_size > 1000


def test_summary_counts_several_targets_and_false_absent():
    from graphs.evalset import TurnScore

    scores = [
        TurnScore("a", 0, "all the cups", [], "each", True, 0.8, returned=2, wanted=2, instance_iou=0.7),
        TurnScore("b", 0, "the cup", ["coco"], "objects", True, 0.0, returned=0, wanted=1),
        TurnScore("c", 0, "the dog", [], "absent", True, 0.0, returned=1, wanted=0),
    ]
    m = summarise(scores, split="dev")
    assert m["several_count_right"] == 1.0 and m["several_instance_iou"] == 0.7
    assert m["false_absent"] == 1 and m["absent_answered_absent"] == 0.0
    assert m["giou_coco_single"] == 0.0 and m["coco_single_turns"] == 1


# ---------------------------------------------------------------------------------------------
# the splits in data/eval/: loaded and checked only, no backend runs on their photos


@pytest.mark.parametrize("split", SPLITS)
def test_split_loads_and_every_turn_has_a_drawn_truth(split):
    evalset = load_evalset(DATA / "eval" / f"{split}.json")
    spec = evalset.spec
    assert spec.split == split
    ids = [d.id for d in spec.dialogues]
    assert len(ids) == len(set(ids)), "dialogue ids are unique"
    for dialogue in spec.dialogues:
        for turn in dialogue.turns:
            expect = turn.expect
            if expect.each:
                assert len(set(expect.objects)) == len(expect.objects) >= 2, dialogue.id
            truth = evalset.truth(dialogue.image, expect)
            assert truth is None or truth.any(), f"{dialogue.id}: empty truth for {turn.user!r}"
    assert all(mask.any() for objects in evalset.objects.values() for mask in objects.values())


@pytest.mark.parametrize("split", SPLITS)
def test_split_masks_fit_their_photos_and_photos_are_unmodified(split):
    evalset = load_evalset(DATA / "eval" / f"{split}.json")
    sources = (DATA / "photos" / f"SOURCES-{split}.md").read_text(encoding="utf-8")
    listed = re.findall(r"^([0-9a-f]{64})\s+(\S+)$", sources, re.M)
    sha256 = {name: digest for digest, name in listed}
    for photo in evalset.photos.values():
        labelme = DATA / "eval" / "masks" / f"{photo.stem}.json"
        doc = json.loads(labelme.read_text(encoding="utf-8"))
        with Image.open(photo) as img:
            assert (doc["imageWidth"], doc["imageHeight"]) == img.size, photo.name
        assert doc["imagePath"] == f"../../photos/{photo.name}" and doc["imageData"] is None
        assert all(sh["shape_type"] == "polygon" and len(sh["points"]) >= 3 for sh in doc["shapes"])
        assert hashlib.sha256(photo.read_bytes()).hexdigest() == sha256[photo.name], photo.name


def test_splits_share_no_photo_and_match_the_readme_table():
    readme = (DATA / "eval" / "README.md").read_text(encoding="utf-8")
    seen: dict[str, str] = {}
    for split in SPLITS:
        evalset = load_evalset(DATA / "eval" / f"{split}.json")
        for photo in evalset.photos.values():
            digest = hashlib.sha256(photo.read_bytes()).hexdigest()
            first = seen.setdefault(digest, split)
            assert first == split, f"{photo.name} is in both {first} and {split}"
        spec = evalset.spec
        figures = (
            sum(len(objects) for objects in evalset.objects.values()),
            len(spec.dialogues),
            sum(turn.expect.scored for dialogue in spec.dialogues for turn in dialogue.turns),
        )
        row = re.search(rf"^\| `{split}\.json` \|[^|]*\| (\d+) \| (\d+) \| (\d+) \|", readme, re.M)
        assert row and tuple(map(int, row.groups())) == figures, split
