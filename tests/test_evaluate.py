"""graphs.evaluate: score_dirs on PNG folders, LabelMe ground truth, and a PRIST run with the lite backend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _data import HDMI_JPG, HDMI_WORD_BOX
from PIL import Image

from agent.errors import BadInputError
from agent.images import ImageLimits, fit_size
from agent.memory import Memory
from agent.types import Mask
from graphs.evaluate import (
    evaluate_prist,
    focus_matches,
    labelme_mask,
    load_labelme_mask,
    score_dirs,
)
from graphs.runtime import Runtime


def write_png(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(Mask(mask).to_png())


def rect(shape: tuple[int, int], y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


# score_dirs ------------------------------------------------------------------------------------


def test_score_dirs_matches_by_name_and_lists_missing_and_extra(tmp_path: Path) -> None:
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    write_png(gt / "a.png", rect((20, 20), 0, 10, 0, 10))
    write_png(gt / "b.png", rect((20, 20), 5, 15, 5, 15))
    write_png(pred / "a.png", rect((20, 20), 0, 10, 5, 15))  # IoU 1/3
    write_png(pred / "c.png", rect((20, 20), 0, 1, 0, 1))
    # a 0/1 greyscale PNG (not 0/255) is read too
    Image.fromarray(rect((20, 20), 5, 15, 5, 15).astype(np.uint8)).save(gt / "d.png")
    write_png(pred / "d.png", rect((20, 20), 5, 15, 5, 15))
    doc = score_dirs(pred, gt)
    assert doc["overall"]["count"] == 3
    assert doc["missing_predictions"] == ["b.png"] and doc["extra_predictions"] == ["c.png"]
    assert doc["per_file"]["a.png"]["iou"] == pytest.approx(1 / 3)
    assert doc["per_file"]["b.png"]["iou"] == 0.0 and doc["per_file"]["b.png"]["missing"] is True
    assert doc["per_file"]["d.png"]["iou"] == 1.0
    assert doc["overall"]["giou"] == pytest.approx((1 / 3 + 0 + 1) / 3)
    assert doc["overall"]["ciou"] == pytest.approx((50 + 0 + 100) / (150 + 100 + 100))
    assert len(doc["notes"]) == 2
    json.dumps(doc)  # JSON-ready


def test_score_dirs_one_line_errors(tmp_path: Path) -> None:
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    pred.mkdir()
    with pytest.raises(BadInputError, match="folder not found"):
        score_dirs(pred, gt)
    gt.mkdir()
    with pytest.raises(BadInputError, match="no PNG masks"):
        score_dirs(pred, gt)
    write_png(gt / "a.png", rect((8, 8), 0, 4, 0, 4))
    (pred / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(BadInputError, match="cannot read mask") as err:
        score_dirs(pred, gt)
    assert "\n" not in err.value.one_line()
    write_png(pred / "a.png", rect((9, 8), 0, 4, 0, 4))
    with pytest.raises(BadInputError, match="a.png: prediction is 8x9 but ground truth is 8x8"):
        score_dirs(pred, gt)


# LabelMe ground truth ----------------------------------------------------------------------------


def box_shape(label: str, x0: float, y0: float, x1: float, y1: float, **extra: object) -> dict:
    return {"label": label, "points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "shape_type": "polygon", **extra}


def test_focus_rule_is_a_case_insensitive_substring() -> None:
    assert focus_matches("HDMI label", "The hdmi LABEL on the side")
    assert focus_matches("hdmi", "HDMI label")
    assert not focus_matches("HDMI label", "HDMI")
    assert not focus_matches("", "anything")


def test_labelme_polygons_rounded_unioned_and_rescaled() -> None:
    doc = {
        "imageWidth": 100, "imageHeight": 80,
        "shapes": [
            box_shape("HDMI label", 10, 10, 19, 19),
            box_shape("the hdmi label, again", 30.9, 10, 39.6, 19),  # rounded to 31..40, not truncated to 30..39
            box_shape("USB port", 50, 50, 60, 60),
            {"label": "HDMI label line", "points": [[0, 0], [5, 5]], "shape_type": "line"},
        ],
    }
    found = labelme_mask(doc, "HDMI Label")
    assert found.mask is not None and found.mask.shape == (80, 100)
    assert found.labels == ["HDMI label", "the hdmi label, again"]
    assert found.mask.sum() == 100 + 100
    assert found.mask[10, 31] and found.mask[10, 40] and not found.mask[10, 30]
    assert any("line" in n for n in found.notes)
    scaled = labelme_mask(doc, "USB port", image_size=(200, 160))
    assert scaled.mask is not None and scaled.mask.shape == (160, 200)
    assert scaled.mask.sum() == 21 * 21  # 100..120 inclusive on both axes
    assert any("rescaled" in n for n in scaled.notes)


def test_labelme_rectangle_and_no_match() -> None:
    doc = {"imageWidth": 20, "imageHeight": 20, "shapes": [
        {"label": "sign", "points": [[2, 3], [6, 8]], "shape_type": "rectangle"},
    ]}
    found = labelme_mask(doc, "SIGN")
    assert found.mask is not None and found.mask.sum() == 5 * 6
    missing = labelme_mask(doc, "bottle")
    assert missing.mask is None and "no shape label contains the focus 'bottle'" in missing.notes[-1]


def test_load_labelme_reads_cp1252_and_rejects_garbage(tmp_path: Path) -> None:
    doc = {"imageWidth": 10, "imageHeight": 10, "shapes": [box_shape("café sign", 1, 1, 3, 3)]}
    path = tmp_path / "x.json"
    path.write_bytes(json.dumps(doc, ensure_ascii=False).encode("cp1252"))
    assert load_labelme_mask(path, "CAFÉ").mask.sum() == 9
    path.write_text("[1, 2]")
    with pytest.raises(BadInputError, match="not a LabelMe document"):
        load_labelme_mask(path, "x")


# evaluate_prist with the real runtime and lite backend ----------------------------------------




SEG_REQUEST = "Based on the conversation above, generate a segmentation that supports the answers."


def prist_item(img_id: str, questions: list[str], focus: str = "HDMI label") -> dict:
    dialogue = []
    for q in [*questions, SEG_REQUEST]:
        dialogue += [{"from": "human", "value": q}, {"from": "gpt", "value": "(recorded answer, not used)"}]
    dialogue[-1]["value"] = "Sure, [SEG]."
    return {"img_id": img_id, "dialogue": dialogue, "focus": focus}


def test_evaluate_prist_end_to_end(tmp_path: Path, lite_runtime: Runtime) -> None:
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    masks.mkdir()
    shutil.copy(HDMI_JPG, images / "e1de30143f9c16b6.jpg")
    x0, y0, x1, y1 = HDMI_WORD_BOX
    (masks / "e1de30143f9c16b6.json").write_text(json.dumps({
        "imageWidth": 639, "imageHeight": 427,
        "shapes": [box_shape("HDMI label", x0, y0, x1, y1), box_shape("laptop", 0, 0, 600, 400)],
    }))
    dialogues = tmp_path / "prist.json"
    dialogues.write_text(json.dumps([
        prist_item("e1de30143f9c16b6.jpg", ["Where is the HDMI label on the laptop?"]),
        prist_item("e1de30143f9c16b6.jpg", ["What is printed next to the port?", "What does it say?"]),
        prist_item("0123456789abcdef.jpg", ["What is on the table?"]),
    ]))

    result = evaluate_prist(lite_runtime, dialogues, images, masks, out_dir=out, progress=False)

    counts = result["counts"]
    assert counts["dialogues"] == 3 and counts["evaluated"] == 2 and counts["scored"] == 2
    assert counts["skipped"] == 1 and counts["skipped_missing_image"] == 1
    assert result["skipped"] == [{"index": 2, "img_id": "0123456789abcdef.jpg", "reason": "image not found"}]
    assert any("image not found" in n for n in result["notes"])
    first, second = result["per_dialogue"]
    # the scores are those of the saved masks against the ground truth, computed here independently
    gt = Mask.from_png((out / "gt" / "0_e1de30143f9c16b6.png").read_bytes())
    ious = [Mask.from_png((out / "masks" / f"{i}_e1de30143f9c16b6.png").read_bytes()).iou(gt) for i in (0, 1)]
    assert [first["iou"], second["iou"]] == pytest.approx(ious, abs=1e-9)
    assert result["overall"]["giou"] == pytest.approx(sum(ious) / 2, abs=1e-9)
    assert ious[0] > 0.5  # "Where is the HDMI label?": the deterministic lite backend finds the printed label
    assert len(first["turns"]) == 2 and len(second["turns"]) == 3
    assert first["acts"][-1] in {"segment_request", "new_target", "refine", "correct"}
    assert first["iou"] > 0 and first["ground_truth"]["labels"] == ["HDMI label"]
    assert all(t["latency_ms"] > 0 for t in first["turns"])
    assert result["latency_ms"]["by_turn_position"]["1"]["count"] == 2

    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["overall"] == result["overall"]
    for key in ("latency_plot", "iou_plot"):
        assert Path(result["files"][key]).read_bytes().startswith(b"\x89PNG")
    assert (out / "masks" / "0_e1de30143f9c16b6.png").is_file()
    assert (out / "masks" / "1_e1de30143f9c16b6.png").is_file()
    # the saved masks and ground truth reproduce the numbers through score_dirs
    rescored = score_dirs(out / "masks", out / "gt")
    assert rescored["overall"]["ciou"] == pytest.approx(result["overall"]["ciou"])
    # each dialogue ran in its own session
    assert first["session_id"] != second["session_id"]
    assert len(lite_runtime.history(first["session_id"]).turns) == 4


def test_evaluate_prist_without_masks_and_with_limit(tmp_path: Path, lite_runtime: Runtime) -> None:
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(HDMI_JPG, images / "e1de30143f9c16b6.jpg")
    dialogues = tmp_path / "prist.json"
    dialogues.write_text(json.dumps([
        prist_item("nothere00000000.jpg", ["What is this?"]),
        prist_item("e1de30143f9c16b6.jpg", ["Where is the HDMI label?"]),
        prist_item("e1de30143f9c16b6.jpg", ["Where is the HDMI label?"]),
    ]))
    result = evaluate_prist(lite_runtime, dialogues, images, out_dir=tmp_path / "out", limit=2, progress=False)
    assert result["counts"]["dialogues"] == 2 and result["counts"]["evaluated"] == 1
    assert result["counts"]["scored"] == 0 and result["overall"]["giou"] is None
    assert "iou_plot" not in result["files"] and Path(result["files"]["latency_plot"]).is_file()
    assert (tmp_path / "out" / "masks" / "1_e1de30143f9c16b6.png").is_file()


def test_evaluate_prist_bad_inputs_are_one_line_errors(tmp_path: Path, lite_runtime: Runtime) -> None:
    (tmp_path / "images").mkdir()
    with pytest.raises(BadInputError, match="not found"):
        evaluate_prist(lite_runtime, tmp_path / "nope.json", tmp_path / "images", out_dir=tmp_path / "out")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(BadInputError):
        evaluate_prist(lite_runtime, bad, tmp_path / "images", out_dir=tmp_path / "out")
    good = tmp_path / "ok.json"
    good.write_text(json.dumps([prist_item("a.jpg", ["hi"])]))
    with pytest.raises(BadInputError, match="images folder not found"):
        evaluate_prist(lite_runtime, good, tmp_path / "missing", out_dir=tmp_path / "out")


def test_evaluate_prist_writes_partial_results_on_interrupt(tmp_path: Path, lite_runtime: Runtime) -> None:
    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(HDMI_JPG, images / "e1de30143f9c16b6.jpg")
    dialogues = tmp_path / "prist.json"
    dialogues.write_text(json.dumps([prist_item("e1de30143f9c16b6.jpg", ["Where is the HDMI label?"])] * 3))

    class Interrupting:
        """The real lite_runtime, with Ctrl-C arriving as the second dialogue starts."""

        def __init__(self, inner: Runtime) -> None:
            self.inner, self.sessions = inner, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def new_session(self, **kwargs: Any) -> str:
            self.sessions += 1
            if self.sessions == 2:
                raise KeyboardInterrupt
            return self.inner.new_session(**kwargs)

    with pytest.raises(KeyboardInterrupt):
        evaluate_prist(Interrupting(lite_runtime), dialogues, images, out_dir=tmp_path / "out", progress=False)  # type: ignore[arg-type]
    doc = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert doc["interrupted"] is True and doc["counts"]["evaluated"] == 1
    assert doc["notes"][0] == "interrupted after 1 of 3 dialogue(s)"


def test_read_mask_png_modes(tmp_path: Path) -> None:
    from graphs.evaluate import read_mask_png

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[1:3, 1:3, 3] = 255  # white everywhere, opaque only in the middle
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert read_mask_png(tmp_path / "a.png").sum() == 4
    Image.fromarray((rect((4, 4), 0, 2, 0, 4) * 255).astype(np.uint8)).convert("1").save(tmp_path / "b.png")
    assert read_mask_png(tmp_path / "b.png").sum() == 8


def test_an_image_reduced_to_the_working_budget_is_scored_at_its_full_size(tmp_path: Path, lite) -> None:
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    masks.mkdir()
    shutil.copy(HDMI_JPG, images / "e1de30143f9c16b6.jpg")
    x0, y0, x1, y1 = HDMI_WORD_BOX
    (masks / "e1de30143f9c16b6.json").write_text(json.dumps({
        "imageWidth": 639, "imageHeight": 427, "shapes": [box_shape("HDMI label", x0, y0, x1, y1)],
    }))
    dialogues = tmp_path / "prist.json"
    dialogues.write_text(json.dumps([prist_item("e1de30143f9c16b6.jpg", ["Where is the HDMI label on the laptop?"])]))
    runtime = Runtime(memory=Memory(f"sqlite:///{tmp_path / 'e.db'}"), backend=lite,
                      image_limits=ImageLimits(working_pixels=540 * 361))
    try:
        result = evaluate_prist(runtime, dialogues, images, masks, out_dir=out, progress=False)
        (entry,) = result["per_dialogue"]
        stored = runtime.memory.session_masks(entry["session_id"])
        width, height = fit_size(639, 427, 540 * 361)
        assert stored and all(m.rle["size"] == [height, width] for m in stored)  # segmented at the budget
    finally:
        runtime.close()
    assert result["counts"]["scored"] == 1 and entry["scored"] and entry["iou"] > 0.3
    assert Image.open(out / "masks" / "0_e1de30143f9c16b6.png").size == (639, 427)
