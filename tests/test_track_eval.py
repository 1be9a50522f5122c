"""PRIST loading, tracker inputs, token F1, and tracking the development dialogues."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _data import PRIST_DEV, PRIST_FOLDS

from agent.errors import BadInputError
from agent.intent import RuleIntentTracker
from agent.prist import PristDialogue, load_prist, tracker_turns
from graphs.track_eval import (
    Folds,
    baseline_target,
    evaluate,
    evaluate_folds,
    leave_one_fold_out,
    load_folds,
    split_by_image,
    token_f1,
    tokens,
    track_dialogue,
    track_dialogues,
)

DEV = PRIST_DEV

ITEM = {
    "img_id": "e1de30143f9c16b6.jpg",
    "dialogue": [
        {"from": "human", "value": "What label is visible on the large bottle?"},
        {"from": "gpt", "value": "The label on the large bottle reads 'Sky Cola'."},
        {"from": "human", "value": "Does the label mention any specific flavor or type?"},
        {"from": "gpt", "value": "The label indicates it's a cola beverage."},
        {
            "from": "human",
            "value": "Segment the provided conversation to match the answers accordingly.",
        },
        {"from": "gpt", "value": "[SEG]."},
    ],
    "focus": "The 'Sky Cola' label on the large bottle",
}


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "prist.json"
    path.write_text(content, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- token F1


def test_tokens_lowercase_and_drop_stop_words():
    assert tokens("The 'Sky Cola' label on the large bottle") == [
        "sky",
        "cola",
        "label",
        "large",
        "bottle",
    ]
    assert tokens("802.11n Wi-Fi") == ["802", "11n", "wi", "fi"]
    assert tokens("the of a") == []


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("label", "The label", 1.0),
        ("HDMI LABEL", "hdmi label", 1.0),
        ("red car", "car", 2 / 3),
        ("car", "red car", 2 / 3),
        ("cup", "bottle", 0.0),
        ("", "bottle", 0.0),
        ("bottle", "", 0.0),
        ("", "", 1.0),
        ("the of", "a an", 1.0),
        ("label label", "label", 2 / 3),
    ],
)
def test_token_f1(pred, gold, expected):
    assert token_f1(pred, gold) == pytest.approx(expected)


def test_token_f1_is_symmetric():
    assert token_f1("green text spine", "text on the spine next to it") == token_f1(
        "text on the spine next to it", "green text spine"
    )


# --------------------------------------------------------------------------- loading


def test_load_prist_reads_items(tmp_path):
    items = load_prist(write(tmp_path, json.dumps([ITEM])))
    assert len(items) == 1
    assert items[0].img_id == ITEM["img_id"]
    assert items[0].focus == ITEM["focus"]
    assert [t.role for t in items[0].turns()] == ["user", "assistant"] * 3


def test_load_prist_missing_file(tmp_path):
    with pytest.raises(BadInputError, match="not found") as err:
        load_prist(tmp_path / "nope.json")
    assert "\n" not in err.value.one_line()


def test_load_prist_directory(tmp_path):
    with pytest.raises(BadInputError, match="not a file"):
        load_prist(tmp_path)


def test_load_prist_bad_json(tmp_path):
    with pytest.raises(BadInputError, match="not valid JSON.*line 1") as err:
        load_prist(write(tmp_path, '[{"img_id": '))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"img_id": "x"}', "expected a JSON list"),
        ("[1]", "dialogue 0"),
        (json.dumps([{**ITEM, "focus": None}]), "dialogue 0: focus"),
        (json.dumps([{k: v for k, v in ITEM.items() if k != "focus"}]), "dialogue 0: focus"),
        (
            json.dumps([ITEM, {**ITEM, "dialogue": [{"from": "robot", "value": "hi"}]}]),
            "dialogue 1: dialogue.0.from",
        ),
        (json.dumps([{**ITEM, "dialogue": []}]), "dialogue 0: dialogue"),
        (json.dumps([{**ITEM, "dialogue": [{"from": "gpt", "value": "hi"}]}]), "no human turn"),
    ],
)
def test_load_prist_wrong_schema(tmp_path, content, match):
    with pytest.raises(BadInputError, match=match) as err:
        load_prist(write(tmp_path, content))
    assert "\n" not in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_tracker_turns_leave_out_the_segmentation_answer():
    item = PristDialogue.model_validate(ITEM)
    turns = tracker_turns(item)
    assert [t.user for t in turns] == [m["value"] for m in ITEM["dialogue"][::2]]
    assert [t.answer for t in turns] == [
        "The label on the large bottle reads 'Sky Cola'.",
        "The label indicates it's a cola beverage.",
        None,
    ]


def test_baseline_stops_at_the_first_verb():
    item = PristDialogue.model_validate(ITEM)
    assert baseline_target(item) == "The label on the large bottle"


# --------------------------------------------------------------------------- tracking


def test_track_dialogue_row():
    row = track_dialogue(RuleIntentTracker(), PristDialogue.model_validate(ITEM), index=7)
    assert set(row) == {"index", "img_id", "target", "intent"}
    assert row["index"] == 7 and row["img_id"] == ITEM["img_id"]
    assert row["target"] == "'Sky Cola' label on the large bottle"
    assert row["intent"]["attributes"]["text"] == "Sky Cola"
    assert len(row["intent"]["history"]) == 3
    assert token_f1(row["target"], ITEM["focus"]) == 1.0
    json.dumps(row)  # JSON-ready


def test_track_dialogues_yields_one_row_per_item():
    items = [PristDialogue.model_validate(ITEM)] * 3
    rows = list(track_dialogues(RuleIntentTracker(), items))
    assert [r["index"] for r in rows] == [0, 1, 2]


def test_evaluate_empty():
    assert evaluate(RuleIntentTracker(), []) == {"n": 0, "mean_token_f1": 0.0, "baseline_f1": 0.0}


@pytest.fixture(scope="module")
def dev_items():
    return load_prist(DEV)


def test_split_by_image_keeps_images_together(dev_items):
    first, second = split_by_image(dev_items)
    assert len(first) + len(second) == len(dev_items)
    assert {i.img_id for i in first}.isdisjoint({i.img_id for i in second})
    assert first and second


def test_tracker_beats_the_baseline_on_the_dev_set(dev_items):
    scores = evaluate(RuleIntentTracker(), dev_items)
    assert scores["n"] == len(dev_items) == 102
    assert scores["mean_token_f1"] > scores["baseline_f1"]
    assert scores["mean_token_f1"] > 0.45
    for half in split_by_image(dev_items):
        part = evaluate(RuleIntentTracker(), half)
        assert part["mean_token_f1"] > part["baseline_f1"]


# --------------------------------------------------------------------------- folds by image


def test_the_shipped_folds_split_the_dev_images(dev_items):
    folds = load_folds(PRIST_FOLDS)
    images = {it.img_id for it in dev_items}
    assert {i for fold in folds.folds for i in fold} == images
    assert folds.tuned and folds.unseen and not set(folds.tuned) & set(folds.unseen)


def test_bad_folds_files_are_one_line_errors(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        load_folds(tmp_path / "none.json")
    bad = write(tmp_path, json.dumps({"folds": [["a.jpg"], ["a.jpg"]], "tuned": [0], "unseen": [1]}))
    with pytest.raises(BadInputError, match="more than one fold") as err:
        load_folds(bad)
    assert "\n" not in str(err.value)


def test_fold_scores_and_the_gap(dev_items, capsys):
    folds = load_folds(PRIST_FOLDS)
    result = evaluate_folds(RuleIntentTracker(), dev_items, folds)
    rows = result["folds"]
    assert [r["n"] for r in rows] and sum(r["n"] for r in rows) == len(dev_items)
    assert result["gap"] == pytest.approx(result["tuned_f1"] - result["unseen_f1"], abs=1e-3)
    with capsys.disabled():
        print(
            "\nPRIST dev folds: "
            + ", ".join(f"{r['fold']} ({r['split']}) {r['mean_token_f1']:.3f}" for r in rows)
            + f"; tuned {result['tuned_f1']:.3f}, unseen {result['unseen_f1']:.3f}, gap {result['gap']:.3f}"
        )
    for r in rows:  # the tracker beats the first-answer baseline on the folds it was tuned on
        if r["split"] == "tuned":
            assert r["mean_token_f1"] > r["baseline_f1"]


def test_folds_on_a_toy_split():
    item = PristDialogue.model_validate(ITEM)
    other = PristDialogue.model_validate({**ITEM, "img_id": "other.jpg", "focus": "a cat"})
    folds = Folds(folds=[[ITEM["img_id"]], ["other.jpg"]], tuned=[0], unseen=[1])
    result = evaluate_folds(RuleIntentTracker(), [item, other, item], folds)
    assert [r["n"] for r in result["folds"]] == [2, 1]
    assert result["tuned_f1"] == 1.0 and result["unseen_f1"] == 0.0 and result["gap"] == 1.0
    assert result["worst_unseen_fold_f1"] == 0.0 and result["unassigned"] == 0


def test_leave_one_fold_out_scores_each_fold_with_the_variant_the_others_chose():
    from agent.intent.focus import FocusOptions

    def item(img: str, focus: str) -> PristDialogue:
        return PristDialogue.model_validate({
            "img_id": img,
            "focus": focus,
            "dialogue": [
                {"from": "human", "value": "What signs are visible in the background?"},
                {"from": "gpt", "value": "There are several signs."},
                {"from": "human", "value": "How can you identify the logo on the sign?"},
                {"from": "gpt", "value": "It is a red circle."},
                {"from": "human", "value": "Segment the provided conversation to match the answers accordingly."},
                {"from": "gpt", "value": "[SEG]."},
            ],
        })

    # folds 0 and 1 want the later question's "logo on the sign"; fold 2 wants the signs
    items = [item("a.jpg", "logo on the sign"), item("b.jpg", "logo on the sign"), item("c.jpg", "signs in the background")]
    folds = Folds(folds=[["a.jpg"], ["b.jpg"], ["c.jpg"]], tuned=[0, 1], unseen=[2])
    trackers = {
        "never": RuleIntentTracker(focus=FocusOptions(on_current=False, same_noun_more_words=False, which_names=False)),
        "moves": RuleIntentTracker(focus=FocusOptions()),
    }
    result = leave_one_fold_out(trackers, items, folds)
    assert result["variants"] == {"never": [0.0, 0.0, 1.0], "moves": [1.0, 1.0, 0.0]}
    # fold 0 is scored with the choice of folds 1-2 (a tie: the earlier variant), fold 2 with
    # that of folds 0-1 (moves), so no fold is scored by the variant it chose
    assert [h["chosen"] for h in result["held_out"]] == ["never", "never", "moves"]
    assert [h["f1"] for h in result["held_out"]] == [0.0, 0.0, 0.0]
    assert result["lofo_f1"] == 0.0


def test_cli_track_folds_prints_the_fold_scores(dev_items):
    import io

    from ui.cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["track", str(DEV), "--folds"], stdout=out, stderr=err) == 0
    result = json.loads(out.getvalue())
    assert {r["split"] for r in result["folds"]} == {"tuned", "unseen"} and "gap" in result
    assert main(["track", str(DEV), "--tracker", "llm"], stdout=out, stderr=err) == 2
    assert "needs a model" in err.getvalue()


def test_cli_bad_tracker_setting_is_one_line(monkeypatch, tmp_path):
    import io

    from ui.cli import main

    monkeypatch.setenv("PIXELRS_TRACKER", "bogus")
    out, err = io.StringIO(), io.StringIO()
    path = write(tmp_path, json.dumps([ITEM]))
    assert main(["track", str(path)], stdout=out, stderr=err) == 2
    assert err.getvalue().count("\n") == 1 and "PIXELRS_TRACKER" in err.getvalue()
