"""The lite backend on the real HDMI photo (real RapidOCR, real OpenCV) and on small synthetic images."""

from __future__ import annotations

import hashlib
import json
import threading

import numpy as np
import pytest
from _data import HDMI_JPG, HDMI_WORD_BOX

from agent.images import load_image_file
from agent.types import (
    BoxPrompt,
    DialogueTurn,
    ImageRef,
    Intent,
    IntentOp,
    Mask,
    PointPrompt,
    Prompts,
    Relation,
)
from tools.backends.base import Backend, ExplainRequest, SegmentRequest
from tools.backends.lite import LiteBackend

# --------------------------------------------------------------------------- helpers

H, W = 240, 320
RED = (slice(90, 150), slice(40, 100))  # 60 x 60, left
BLUE = (slice(80, 160), slice(200, 280))  # 80 x 80, right, bigger


def ref_for(rgb: np.ndarray) -> ImageRef:
    return ImageRef(
        sha256=hashlib.sha256(rgb.tobytes()).hexdigest(), width=rgb.shape[1], height=rgb.shape[0]
    )


def squares() -> np.ndarray:
    img = np.full((H, W, 3), 235, np.uint8)
    img[RED] = (220, 30, 30)
    img[BLUE] = (30, 60, 210)
    return img


def region(sl: tuple[slice, slice], shape: tuple[int, int] = (H, W)) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[sl] = True
    return m


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


def seg(backend, rgb, intent, *, prev=None, prompts=None, text="find it"):
    return backend.segment(
        SegmentRequest(
            image=rgb,
            image_ref=ref_for(rgb),
            dialogue=[DialogueTurn(role="user", text=text)],
            intent=intent,
            previous_mask=Mask(prev) if prev is not None else None,
            prompts=prompts or Prompts(),
        )
    )


def explain(backend, rgb, ref, intent, mask, *, result=None, previous=None, question="explain"):
    return list(
        backend.explain(
            ExplainRequest(
                image=rgb,
                image_ref=ref,
                dialogue=[DialogueTurn(role="user", text=question)],
                intent=intent,
                mask=Mask(mask) if mask is not None else None,
                previous_mask=Mask(previous) if previous is not None else None,
                result=result,
            )
        )
    )


@pytest.fixture(scope="module")
def backend() -> LiteBackend:
    return LiteBackend()


@pytest.fixture(scope="module")
def photo():
    return load_image_file(HDMI_JPG)


@pytest.fixture(scope="module")
def hdmi(backend, photo):
    intent = Intent(target="HDMI label", attributes={"text": "HDMI"})
    result = backend.segment(
        SegmentRequest(
            image=photo.rgb,
            image_ref=photo.ref,
            dialogue=[DialogueTurn(role="user", text="segment the HDMI label")],
            intent=intent,
        )
    )
    return intent, result


# --------------------------------------------------------------------------- real photo, real OCR


def test_lite_satisfies_backend_protocol(backend):
    assert isinstance(backend, Backend)
    assert backend.name == "lite"


def test_hdmi_label_mask_covers_the_printed_word(hdmi, photo):
    _, result = hdmi
    best = result.best
    assert best is not None and best.label == "HDMI label"
    mask = best.mask.array
    assert mask.shape == (photo.ref.height, photo.ref.width)
    x0, y0, x1, y1 = HDMI_WORD_BOX
    word = np.zeros_like(mask)
    word[y0 : y1 + 1, x0 : x1 + 1] = True
    bx, by, bw, bh = best.mask.bbox
    box = np.zeros_like(mask)
    box[by : by + bh, bx : bx + bw] = True
    assert iou(box, word) >= 0.3
    assert mask[word].mean() >= 0.6
    assert mask.sum() <= 3 * word.sum()
    assert 0.5 < best.score <= 1.0
    ev = result.evidence
    assert [o["text"] for o in ev["ocr"]] == ["HDMI"]
    assert "text 'HDMI'" in ev["cues"]
    ox0, oy0, ox1, oy1 = ev["ocr"][0]["box"]
    assert abs(ox0 - x0) < 15 and abs(oy0 - y0) < 15 and abs(ox1 - x1) < 15 and abs(oy1 - y1) < 15
    assert ev["region"]["kind"] == "text" and "fallback" not in ev
    assert result.backend_ms > 0
    json.dumps(ev)  # stored in SQL as JSON


def test_port_right_of_hdmi_label(backend, photo, hdmi):
    result = backend.segment(
        SegmentRequest(
            image=photo.rgb,
            image_ref=photo.ref,
            dialogue=[DialogueTurn(role="user", text="the port right of the HDMI label")],
            intent=Intent(
                target="port right of the HDMI label",
                relations=[Relation(kind="right_of", anchor="HDMI label")],
            ),
            previous_mask=hdmi[1].best.mask,
        )
    )
    x, y, w, h = result.best.mask.bbox
    assert x + w / 2 > HDMI_WORD_BOX[2]  # right of the word
    assert 150 < y + h / 2 < 240 and w < 200  # the port, not the desk
    assert any("right of 'HDMI'" in c for c in result.evidence["cues"])


def test_no_the_one_on_the_right_after_hdmi_label(backend, photo, hdmi):
    intent = Intent(
        target="HDMI label",
        attributes={"text": "HDMI", "other": "yes", "position": "right"},
        op=IntentOp.CORRECT,
    )
    result = backend.segment(
        SegmentRequest(
            image=photo.rgb,
            image_ref=photo.ref,
            dialogue=[DialogueTurn(role="user", text="no, the one on the right")],
            intent=intent,
            previous_mask=hdmi[1].best.mask,
        )
    )
    x, y, w, h = result.best.mask.bbox
    assert x >= HDMI_WORD_BOX[0] + 20 and w < 250  # a region to the right, not the label again
    assert result.best.mask.iou(hdmi[1].best.mask) < 0.1
    assert any("previous mask" in c for c in result.evidence["cues"])


def test_explain_cites_ocr_words_position_and_change(backend, photo, hdmi):
    intent, result = hdmi
    chunks = explain(backend, photo.rgb, photo.ref, intent, result.best.mask.array, result=result)
    assert len(chunks) > 10
    text = "".join(chunks)
    assert "I read 'HDMI' at x 2" in text
    assert "of the image" in text and "%" in text and "dominant colour" in text
    assert "no previous mask" in text


def test_explain_only_what_does_it_say_reads_hdmi(backend, photo, hdmi):
    intent, result = hdmi
    text = "".join(
        explain(
            backend,
            photo.rgb,
            photo.ref,
            intent,
            result.best.mask.array,
            question="What does it say?",
        )
    )
    assert text.startswith("It reads 'HDMI'")


def test_explain_only_why_important_is_honest(backend, photo, hdmi):
    intent, result = hdmi
    text = "".join(
        explain(
            backend,
            photo.rgb,
            photo.ref,
            intent,
            result.best.mask.array,
            question="Why is it important?",
        )
    )
    assert "cannot reason" in text and "'HDMI'" in text


def test_explain_only_without_mask_says_so(backend, photo):
    text = "".join(explain(backend, photo.rgb, photo.ref, Intent(), None, question="what is it?"))
    assert "no mask yet" in text.lower()


def test_second_turn_on_same_image_does_not_run_ocr_again(photo):
    fresh = LiteBackend()
    seg_req = dict(image=photo.rgb, image_ref=photo.ref, dialogue=[])
    fresh.segment(SegmentRequest(**seg_req, intent=Intent(target="HDMI label")))
    assert fresh.ocr.runs == 1 and fresh.ocr.loaded
    calls = []
    engine = fresh.ocr._engine

    def counting(*args, **kwargs):
        calls.append(1)
        return engine(*args, **kwargs)

    fresh.ocr._engine = counting
    second = fresh.segment(
        SegmentRequest(
            **seg_req, intent=Intent(target="the port", attributes={"position": "right"})
        )
    )
    assert calls == [] and fresh.ocr.runs == 1
    assert second.evidence["analysis_cached"] is True
    other = squares()
    request = dict(image=other, image_ref=ref_for(other), dialogue=[])
    fresh.segment(SegmentRequest(**request, intent=Intent(target="red")))
    assert calls == [] and fresh.ocr.runs == 1  # a colour needs no OCR: it does not run
    fresh.segment(SegmentRequest(**request, intent=Intent(target="the 'EXIT' sign")))
    assert calls == [1] and fresh.ocr.runs == 2  # a different image is read on its own


def test_ocr_engine_is_created_lazily():
    fresh = LiteBackend()
    assert not fresh.ocr.loaded


# --------------------------------------------------------------------------- synthetic images


@pytest.fixture(scope="module")
def sq():
    return squares()


def test_red_one(backend, sq):
    r = seg(backend, sq, Intent(target="the red one"))
    assert iou(r.best.mask.array, region(RED)) > 0.85
    assert "colour red" in r.evidence["cues"]
    assert r.evidence["region"]["dominant_colour"] == "red"
    assert r.best.score > 0.6


def test_colour_attribute_blue(backend, sq):
    r = seg(backend, sq, Intent(target="square", attributes={"colour": "blue"}))
    assert iou(r.best.mask.array, region(BLUE)) > 0.85


def test_one_on_the_left(backend, sq):
    r = seg(backend, sq, Intent(target="the one", attributes={"position": "left"}))
    assert iou(r.best.mask.array, region(RED)) > 0.85
    assert (
        r.evidence["region"]["position"] in {"left", "centre"}
        or "left" in r.evidence["region"]["position"]
    )


def test_bigger_and_smaller(backend, sq):
    big = seg(backend, sq, Intent(target="the bigger one", attributes={"size": "bigger"}))
    assert iou(big.best.mask.array, region(BLUE)) > 0.85
    small = seg(backend, sq, Intent(target="the smaller square"))
    assert iou(small.best.mask.array, region(RED)) > 0.85


def test_other_one_differs_from_previous(backend, sq):
    r = seg(backend, sq, Intent(target="square", attributes={"other": "yes"}), prev=region(RED))
    assert iou(r.best.mask.array, region(BLUE)) > 0.85
    c = seg(backend, sq, Intent(target="square", op=IntentOp.CORRECT), prev=region(BLUE))
    assert iou(c.best.mask.array, region(RED)) > 0.85


def test_other_one_on_the_right_of_previous():
    img = np.full((H, W, 3), 235, np.uint8)
    cols = [(20, 70), (130, 180), (240, 290)]
    for x0, x1 in cols:
        img[100:150, x0:x1] = (30, 160, 40)
    b = LiteBackend(ocr=False)
    prev = np.zeros((H, W), bool)
    prev[100:150, 130:180] = True
    r = seg(
        b, img, Intent(target="square", attributes={"other": "yes", "position": "right"}), prev=prev
    )
    want = np.zeros((H, W), bool)
    want[100:150, 240:290] = True
    assert iou(r.best.mask.array, want) > 0.8


def test_exclusion(backend, sq):
    r = seg(backend, sq, Intent(target="square", exclusions=["the red one"]))
    assert iou(r.best.mask.array, region(BLUE)) > 0.85
    assert not np.logical_and(r.best.mask.array, region(RED)).any()
    assert any(c.startswith("excluding") for c in r.evidence["cues"])


def test_relation_right_of_colour_anchor():
    img = np.full((H, W, 3), 235, np.uint8)
    img[100:150, 20:70] = (220, 30, 30)  # red anchor
    img[100:150, 120:170] = (30, 60, 210)  # blue, right of red and near
    img[20:60, 20:70] = (30, 160, 40)  # green, above red
    b = LiteBackend(ocr=False)
    r = seg(
        b,
        img,
        Intent(target="square", relations=[Relation(kind="right_of", anchor="the red square")]),
    )
    assert iou(r.best.mask.array, region((slice(100, 150), slice(120, 170)))) > 0.8
    up = seg(
        b, img, Intent(target="square", relations=[Relation(kind="above", anchor="red square")])
    )
    assert iou(up.best.mask.array, region((slice(20, 60), slice(20, 70)))) > 0.8
    assert any(c.startswith("right of") for c in r.evidence["cues"])


def test_ordinal_second_from_left():
    img = np.full((H, W, 3), 235, np.uint8)
    for x0 in (20, 130, 240):
        img[100:150, x0 : x0 + 50] = (230, 200, 20)
    b = LiteBackend(ocr=False)
    r = seg(b, img, Intent(target="yellow square", attributes={"ordinal": "second"}))
    assert iou(r.best.mask.array, region((slice(100, 150), slice(130, 180)))) > 0.8


def test_positive_click_adds_the_clicked_square(backend, sq):
    r = seg(backend, sq, Intent(target="square", op=IntentOp.REFINE), prev=region(RED),
            prompts=Prompts(points=[PointPrompt(x=240, y=120, positive=True)]))  # fmt: skip
    m = r.best.mask.array
    assert m[region(BLUE)].mean() > 0.9 and m[region(RED)].mean() > 0.9
    assert m.sum() < 1.3 * (region(RED).sum() + region(BLUE).sum())
    assert any("positive click" in c for c in r.evidence["cues"])


def test_negative_click_removes_the_clicked_square(backend, sq):
    both = region(RED) | region(BLUE)
    r = seg(backend, sq, Intent(target="square", op=IntentOp.REFINE), prev=both,
            prompts=Prompts(points=[PointPrompt(x=240, y=120, positive=False)]))  # fmt: skip
    m = r.best.mask.array
    assert m[region(BLUE)].mean() < 0.1 and m[region(RED)].mean() > 0.9


def test_click_without_previous_mask_selects_the_square(backend, sq):
    r = seg(backend, sq, Intent(target="that"), prompts=Prompts(points=[PointPrompt(x=70, y=120)]))
    assert iou(r.best.mask.array, region(RED)) > 0.85


def test_box_prompt(backend, sq):
    r = seg(
        backend,
        sq,
        Intent(target="this"),
        prompts=Prompts(box=BoxPrompt(x0=185, y0=65, x1=295, y1=175)),
    )
    assert iou(r.best.mask.array, region(BLUE)) > 0.8
    assert r.evidence["cues"][0].startswith("box prompt")


def test_no_cue_falls_back_with_low_score(backend, sq):
    # "gadget" is no detector category and carries no colour, position, size or text cue.
    r = seg(backend, sq, Intent(target="the gadget"))
    assert r.masks and r.best.score < 0.3
    assert "fallback" in r.evidence and "guess" in r.evidence["fallback"]
    text = "".join(
        explain(backend, sq, ref_for(sq), Intent(target="the gadget"), r.best.mask.array, result=r)
    )
    assert "guess" in text


def test_a_category_with_no_detection_is_absent(backend, sq):
    r = seg(backend, sq, Intent(target="the cat"))
    assert r.absent and r.masks == []
    assert "no cat was detected" in r.evidence["absent"]


def test_text_cue_without_ocr_is_reported_unmatched(sq):
    b = LiteBackend(ocr=False)
    r = seg(b, sq, Intent(target="the EXIT sign", attributes={"text": "EXIT"}))
    assert "fallback" in r.evidence
    assert any("EXIT" in u for u in r.evidence["unmatched"])
    assert b.ocr.runs == 0 and not b.ocr.loaded


def test_masks_at_original_size_when_downscaled():
    img = np.full((480, 720, 3), 235, np.uint8)
    img[180:300, 80:200] = (220, 30, 30)
    b = LiteBackend(max_side=180, ocr=False)
    r = seg(b, img, Intent(target="red"))
    assert all(m.mask.array.shape == (480, 720) for m in r.masks)
    want = np.zeros((480, 720), bool)
    want[180:300, 80:200] = True
    assert iou(r.best.mask.array, want) > 0.85
    assert len(r.masks) <= 3


def test_explain_says_what_changed(backend, sq):
    red = seg(backend, sq, Intent(target="the red one"))
    blue = seg(backend, sq, Intent(target="the blue one"), prev=red.best.mask.array)
    text = "".join(explain(backend, sq, ref_for(sq), Intent(target="the blue one"), blue.best.mask.array,
                           result=blue, previous=red.best.mask.array))  # fmt: skip
    assert "moved right" in text and "new region" in text and "IoU 0.00" in text


def test_concurrent_first_turns_analyse_once(sq, monkeypatch):
    from tools.backends.lite import regions

    b = LiteBackend()
    img = sq.copy()
    img[0, 0] = (1, 2, 3)  # a new image
    errors = []
    levels = []
    segment_levels = regions.segment_levels
    monkeypatch.setattr(regions, "segment_levels", lambda rgb: levels.append(1) or segment_levels(rgb))

    def run(target):
        try:
            seg(b, img, Intent(target=target))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    targets = ["the red one", "the 'EXIT' sign"] * 2  # superpixels and OCR, each on first use
    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and b.cache.misses == 1
    assert b.ocr.runs == 1 and levels == [1]


def test_cache_evicts_by_bytes():
    b = LiteBackend(ocr=False)
    first = squares()
    seg(b, first, Intent(target="red"))
    one = b.cache.total_bytes
    assert one > 0
    b.cache.max_bytes = int(one * 1.5)
    second = squares()[::-1].copy()
    seg(b, second, Intent(target="red"))
    assert len(b.cache) == 1 and b.cache.total_bytes <= b.cache.max_bytes
    assert (ref_for(second).sha256, H, W, 640) in b.cache


def test_left_half_of_previous_mask(backend, sq):
    r = seg(backend, sq, Intent(target="the left half of it", attributes={"position": "left"}, op=IntentOp.REFINE),
            prev=region(BLUE))  # fmt: skip
    assert iou(r.best.mask.array, region((slice(80, 160), slice(200, 240)))) > 0.9


@pytest.fixture(scope="module")
def blur_backend() -> LiteBackend:
    return LiteBackend(ocr=False)


@pytest.mark.parametrize(
    ("intent", "want"),
    [
        (Intent(target="the red one"), RED),
        (Intent(target="the one on the left", attributes={"position": "left"}), RED),
        (Intent(target="the bigger one", attributes={"size": "bigger"}), BLUE),
        (Intent(target="the smaller one", attributes={"size": "smaller"}), RED),
        (Intent(target="square", exclusions=["red"]), BLUE),
    ],
)
def test_blurred_noisy_photo_like_squares(blur_backend, intent, want):
    """Blurred edges (rings of in-between colours) and sensor noise, as in real photos."""
    import cv2

    img = cv2.GaussianBlur(squares(), (7, 7), 2)
    noise = np.random.default_rng(1).normal(0, 6, img.shape)
    img = np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)
    r = seg(blur_backend, img, intent)
    assert iou(r.best.mask.array, region(want)) > 0.85
