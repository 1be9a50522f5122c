"""The openvocab backend end to end at tiny random-weight sizes, saved locally (no downloads).

OWLv2 / Grounding DINO and SAM (segment-anything and transformers) are built in code, saved with
``save_pretrained`` / ``torch.save`` to a temporary folder and loaded through the backend's real
loading path. Random weights give meaningless boxes: these tests check the wiring (prompt from
the intent, masks, several/absent targets, relations over detections), the caching (vision towers
counted with forward hooks), and the one-line errors, not the quality of the masks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agent.errors import BadInputError, CheckpointError, PixelrsError  # noqa: E402
from agent.types import DialogueTurn, ImageRef, Intent, IntentOp, Mask, Relation  # noqa: E402
from tools.backends.base import SegmentRequest  # noqa: E402
from tools.backends.lite.sources import PRESENT, WEAK  # noqa: E402
from tools.backends.openvocab import OpenVocabBackend, testing  # noqa: E402
from tools.backends.openvocab.calibration import Calibration  # noqa: E402
from tools.backends.openvocab.query import detector_query  # noqa: E402
from tools.backends.promptable.testing import (  # noqa: E402
    CallCounter,
    save_sam_checkpoint,
    save_transformers_sam,
)
from tools.registry import create_backend  # noqa: E402

H, W = 120, 160


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("openvocab")
    return {
        "owl": testing.save_owlv2(root / "owl"),
        "sam": save_sam_checkpoint(root / "sam_tiny.pth"),
        "hf_sam": save_transformers_sam(root / "hf_sam"),
        "gdino": testing.save_grounding_dino(root / "gdino"),
    }


def photo(seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    img = (rng.rand(H, W, 3) * 60 + 100).astype(np.uint8)
    img[30:80, 20:60] = (200, 40, 40)
    img[40:100, 100:140] = (40, 60, 200)
    return img


def ref_for(rgb: np.ndarray) -> ImageRef:
    return ImageRef(sha256=hashlib.sha256(rgb.tobytes()).hexdigest(), width=rgb.shape[1], height=rgb.shape[0])


def seg(backend, rgb, intent, *, prev=None, text="find it"):
    return backend.segment(
        SegmentRequest(
            image=rgb,
            image_ref=ref_for(rgb),
            dialogue=[DialogueTurn(role="user", text=text)],
            intent=intent,
            previous_mask=Mask(prev) if prev is not None else None,
        )
    )


@pytest.fixture(scope="module")
def backend(models):
    b = create_backend("openvocab", model=str(models["owl"]), sam=str(models["sam"]), progress=False)
    b.load()
    return b


# --------------------------------------------------------------------------- units


def test_queries_keep_the_kind_of_thing_and_drop_cue_words():
    assert detector_query("second person from the left") == "person"
    assert detector_query("all the people") == "people"
    assert detector_query("the bigger red cup on the right") == "red cup"
    assert detector_query("cup of coffee next to the laptop") == "cup of coffee"
    assert detector_query("the one on the left") == ""
    assert detector_query("the red one") == ""
    assert detector_query(None) == ""


def test_calibration_maps_the_raw_thresholds_onto_lites_scale():
    cal = Calibration.for_family("owlv2")
    got = cal(np.array([0.0, cal.weak, cal.present, cal.sure, 1.0]))
    assert got.tolist() == pytest.approx([0.0, WEAK, PRESENT, 0.6, 1.0])
    raw = np.linspace(0, 1, 101)
    assert np.all(np.diff(cal(raw)) >= 0)
    user = Calibration.for_family("owlv2", threshold=0.4)
    assert (user.weak, user.present) == (0.2, 0.4) and user.sure > 0.4
    assert Calibration.for_family("grounding-dino").present == 0.3
    with pytest.raises(BadInputError, match="0 < weak < present < sure < 1"):
        Calibration(weak=0.3, present=0.2, sure=0.5)


def test_owl_cached_class_head_equals_the_models_own_forward(backend):
    """The per-query path (cached image side + text embedding) gives the model's forward logits."""
    det = backend.source.detector
    rgb = photo(3)
    encoded = det.encode(rgb)
    got = det.propose(encoded, "red cup")
    tokens = det.processor.tokenizer(
        ["red cup"], padding="max_length", max_length=det.max_text_len, return_tensors="pt"
    )
    pixels = det.processor.image_processor(images=rgb, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        out = det.model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"],
                        pixel_values=pixels)  # fmt: skip
    want = out.logits[0, :, 0].sigmoid().numpy()
    assert got.scores.shape == want.shape
    assert np.abs(got.scores - want).max() < 1e-5
    cx, cy, bw, bh = out.pred_boxes[0].numpy().T
    side = max(H, W)  # OWLv2 pads to a square
    assert got.boxes[:, 0] == pytest.approx(np.clip((cx - bw / 2) * side, 0, W - 1), abs=1e-3)


# --------------------------------------------------------------------------- end to end


def test_prompt_from_intent_masks_and_a_cached_second_turn(backend):
    rgb = photo(0)
    vision = CallCounter(backend.source.detector.vision_module)
    sam = CallCounter(backend.source.masker.vision_module)
    queries = backend.source.calls["queries"]

    first = seg(backend, rgb, Intent(target="the red cup", op=IntentOp.NEW), text="segment the red cup")
    assert not first.absent and first.masks
    best = first.masks[0]
    assert best.mask.array.shape == (H, W) and best.mask.array.any()
    assert best.label == "the red cup" and 0 <= best.score <= 1
    assert first.evidence["category"] == "red cup"  # the detector was asked for "red cup"
    assert first.evidence["openvocab"]["image_features_cached"] is False
    assert first.evidence["openvocab"]["masker"] == "segment-anything"
    assert (vision.n, sam.n) == (1, 1)
    assert backend.source.calls["queries"] == queries + 1

    second = seg(backend, rgb, Intent(target="dog", op=IntentOp.NEW), text="now the dog")
    assert second.masks and second.masks[0].mask.array.any()
    assert second.evidence["openvocab"]["image_features_cached"] is True
    assert (vision.n, sam.n) == (1, 1), "the second turn must not run the image encoders again"
    assert backend.source.calls["queries"] == queries + 2

    again = seg(backend, rgb, Intent(target="dog", op=IntentOp.NEW), text="the dog again")
    assert backend.source.calls["queries"] == queries + 2  # proposals cached per image and query
    assert np.array_equal(again.masks[0].mask.array, second.masks[0].mask.array)

    seg(backend, photo(1), Intent(target="dog", op=IntentOp.NEW))
    assert (vision.n, sam.n) == (2, 2)  # a new image is encoded once


def test_a_person_like_phrase_keeps_its_own_mask(backend):
    """lite cuts people out of a COCO thing's mask; here "man" or "his shirt" would lose itself."""
    rgb = photo(5)
    an = backend.analysis(rgb, ref_for(rgb))
    result = seg(backend, rgb, Intent(target="man"), text="segment the man")
    best = backend.source.lookup(an, "man").detections
    masks = [an.to_orig(backend.source.mask(an, d)) for d in best[:3]]
    assert any(np.array_equal(result.masks[0].mask.array, m) for m in masks)
    assert "person" not in backend.source.state(an).proposals  # no people were looked up to subtract


def test_several_targets_one_mask_per_instance(backend):
    rgb = photo(0)
    every = seg(backend, rgb, Intent(target="people", attributes={"count": "all"}))
    instances = [m for m in every.masks if m.role == "instance"]
    assert len(instances) >= 2
    union = every.masks[0].mask.array
    assert every.masks[0].role == "target"
    assert np.array_equal(union, np.logical_or.reduce([m.mask.array for m in instances]))
    two = seg(backend, rgb, Intent(target="cups", attributes={"count": "2"}))
    assert len([m for m in two.masks if m.role == "instance"]) == 2


def test_absent_target_with_a_threshold(backend, models):
    rgb = photo(0)
    an = backend.analysis(rgb, ref_for(rgb))
    top = float(backend.source.proposals(an, "unicorn").scores.max())
    strict = OpenVocabBackend(
        str(models["owl"]), sam=str(models["sam"]), threshold=min(0.98, top + 0.02),
        weak_threshold=min(0.97, top + 0.01), progress=False,
    )  # fmt: skip
    result = seg(strict, rgb, Intent(target="unicorn"), text="segment the unicorn")
    assert result.absent and result.masks == []
    assert "no unicorn was detected" in result.evidence["absent"]
    # the same request is present under the default thresholds (so the threshold decided it)
    assert not seg(backend, rgb, Intent(target="unicorn")).absent
    # the source knows every phrase: an empty lookup means absent; None only for no noun at all
    an_strict = strict.analysis(rgb, ref_for(rgb))
    found = strict.source.lookup(an_strict, "unicorn")
    assert found is not None and found.detections == []
    assert strict.source.lookup(an_strict, "the one on the left") is None


def test_relation_and_exclusion_resolved_over_detections(backend):
    rgb = photo(0)
    an = backend.analysis(rgb, ref_for(rgb))
    anchor = backend.source.lookup(an, "dog").detections[0]
    anchor_x = (anchor.box[0] + anchor.box[2]) / 2
    cups = backend.source.lookup(an, "cup").detections
    left = [d for d in cups if (d.box[0] + d.box[2]) / 2 < anchor_x]
    assert left, "precondition: some cup detection lies left of the dog"

    result = seg(backend, rgb, Intent(target="cup", relations=[Relation(kind="left_of", anchor="the dog")]))
    assert "left of the detected dog" in result.evidence["cues"]
    chosen = result.masks[0].mask.array
    xs = np.nonzero(chosen)[1]
    assert xs.mean() < anchor_x, "the chosen cup must be left of the detected dog"

    excluded = seg(backend, rgb, Intent(target="cup", exclusions=["the dog"]))
    assert "excluding the detected dog" in excluded.evidence["cues"]
    dogs = np.zeros(an.shape, bool)
    for det in backend.source.lookup(an, "dog").detections:  # every confident dog is excluded
        dogs |= backend.source.mask(an, det)
    assert excluded.masks, "some cup lies outside every dog"
    for out in excluded.masks:
        assert not np.logical_and(an.to_work(out.mask.array), dogs).any()


def test_conversation_through_the_turn_graph(backend, tmp_path):
    """User text -> tracked intent -> detector prompt -> masks -> answer, stored in SQL memory."""
    import io

    from PIL import Image

    from agent.memory import Memory
    from graphs.runtime import Runtime

    buf = io.BytesIO()
    Image.fromarray(photo(4)).save(buf, format="PNG")
    runtime = Runtime(memory=Memory(f"sqlite:///{tmp_path / 'mem.db'}"), backend=backend)
    sid = runtime.new_session()
    vision = CallCounter(backend.source.detector.vision_module)
    first = runtime.run_turn_sync(sid, "segment the cup", image=buf.getvalue())
    assert first.masks and first.masks[0].mask.array.any() and first.reply
    second = runtime.run_turn_sync(sid, "now the dog on the left")
    assert second.intent.target and "dog" in second.intent.target
    assert second.masks and second.masks[0].mask.array.any()
    answer = runtime.run_turn_sync(sid, "where is it?")
    assert answer.reply and not answer.masks
    assert vision.n == 1
    stored = runtime.memory.history(sid)
    assert [t.role for t in stored.turns].count("user") == 3
    assert stored.session.backend == "openvocab"


def test_semantic_part_is_looked_up_inside_the_target(backend):
    rgb = photo(0)
    cup = seg(backend, rgb, Intent(target="cup"))
    previous = cup.masks[0].mask.array
    part = seg(
        backend, rgb, Intent(target="cup", op=IntentOp.REFINE, attributes={"part": "handle"}),
        prev=previous, text="just the handle of the cup",
    )  # fmt: skip
    an = backend.analysis(rgb, ref_for(rgb))
    assert "handle" in backend.source.state(an).proposals  # the part noun alone was the query
    assert part.evidence.get("part") == "handle"
    if part.absent:
        assert "handle" in part.evidence["absent"]
    else:
        ys, xs = np.nonzero(part.masks[0].mask.array)
        y0, x0 = np.nonzero(previous)[0].min(), np.nonzero(previous)[1].min()
        y1, x1 = np.nonzero(previous)[0].max(), np.nonzero(previous)[1].max()
        pad = 0.1 * max(x1 - x0, y1 - y0) + 2
        assert xs.min() >= x0 - pad and xs.max() <= x1 + pad and ys.min() >= y0 - pad and ys.max() <= y1 + pad


def test_text_targets_still_go_to_ocr_not_the_detector(backend):
    rgb = photo(0)
    before = backend.source.calls["queries"]
    result = seg(backend, rgb, Intent(target="the label", attributes={"text": "EXIT"}))
    assert backend.source.calls["queries"] == before
    assert "category" not in result.evidence


def test_transformers_sam_and_bf16(models):
    b = OpenVocabBackend(str(models["owl"]), sam=str(models["hf_sam"]), dtype="bf16", progress=False)
    rgb = photo(2)
    b.load()
    counter = CallCounter(b.source.masker.vision_module)
    first = seg(b, rgb, Intent(target="cup"))
    second = seg(b, rgb, Intent(target="person"))
    assert first.masks and second.masks and second.masks[0].mask.array.shape == (H, W)
    assert first.evidence["openvocab"]["masker"] == "transformers-sam"
    assert counter.n == 1
    assert b.source.detector.model.dtype == torch.bfloat16


def test_grounding_dino_caches_its_backbone_and_each_query(models):
    b = OpenVocabBackend(str(models["gdino"]), sam=str(models["sam"]), progress=False)
    rgb = photo(0)
    b.load()
    assert b.source.detector.family == "grounding-dino"
    backbone = CallCounter(b.source.detector.vision_module)
    first = seg(b, rgb, Intent(target="cup"))
    assert first.evidence["openvocab"]["detector"] == "grounding-dino"
    queries = b.source.calls["queries"]
    seg(b, rgb, Intent(target="dog"))
    assert backbone.n == 1  # the Swin backbone ran once; the fused encoder ran per query
    assert b.source.calls["queries"] == queries + 1
    seg(b, rgb, Intent(target="dog"))
    assert b.source.calls["queries"] == queries + 1


# --------------------------------------------------------------------------- errors


def _one_line(exc: PixelrsError) -> str:
    line = exc.one_line()
    assert "\n" not in line and len(line) < 400
    return line


def test_wrong_checkpoints_are_one_line_errors(models, tmp_path):
    def load_error(*args, **kw) -> str:
        with pytest.raises(CheckpointError) as info:
            OpenVocabBackend(*args, progress=False, **kw).load()
        return _one_line(info.value)

    assert "does not exist" in load_error(str(tmp_path / "no-such-dir"))
    (tmp_path / "empty").mkdir()
    assert "has no config.json" in load_error(str(tmp_path / "empty"))
    assert "not in the local Hugging Face cache" in load_error("pixelrs-test/no-such-model")
    bert = tmp_path / "bert"
    from transformers import BertConfig

    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8).save_pretrained(bert)
    assert "is a bert model" in load_error(str(bert))

    partial = tmp_path / "partial_owl"
    testing.save_owlv2(partial)
    from safetensors.torch import load_file, save_file

    weights = load_file(str(partial / "model.safetensors"))
    save_file({k: v for k, v in weights.items() if "box_head" not in k}, str(partial / "model.safetensors"),
              metadata={"format": "pt"})  # fmt: skip
    assert "missing" in load_error(str(partial))

    owl = str(models["owl"])
    assert "SAM" in (msg := load_error(owl, sam=str(tmp_path / "nope.pth"))) and "does not exist" in msg
    not_sam = tmp_path / "not_sam.pth"
    torch.save({"weight": torch.zeros(2)}, not_sam)
    assert "not a segment-anything SAM checkpoint" in load_error(owl, sam=str(not_sam))
    assert "is not vit_h" in load_error(owl, sam=str(models["sam"]), sam_type="vit_h")


def test_bad_options_are_one_line_errors(models):
    with pytest.raises(BadInputError, match="option 'clip' does not apply"):
        OpenVocabBackend(str(models["owl"]), clip="/x")
    with pytest.raises(BadInputError, match="threshold"):
        OpenVocabBackend(str(models["owl"]), threshold=1.5)
    with pytest.raises(BadInputError, match="dtype"):
        OpenVocabBackend(str(models["owl"]), dtype="int8")
    with pytest.raises(CheckpointError, match="unknown device"):
        OpenVocabBackend(str(models["owl"]), device="tpu:9", progress=False).load()


def test_cli_reports_a_missing_model_in_one_line(tmp_path):
    import io

    from PIL import Image

    from ui.cli import main

    image = tmp_path / "img.png"
    Image.fromarray(photo(0)).save(image)
    out, err = io.StringIO(), io.StringIO()
    status = main(
        ["chat", "--backend", "openvocab", "--model", str(tmp_path / "missing"), "--image", str(image),
         "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"],
        stdin=io.StringIO("segment the cup\n"), stdout=out, stderr=err,
    )  # fmt: skip
    assert status == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pixelrs: openvocab:") and "does not exist" in lines[0]
    status = main(
        ["chat", "--backend", "openvocab", "--clip", "/x", "--image", str(image),
         "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"],
        stdin=io.StringIO("segment the cup\n"), stdout=out, stderr=(err := io.StringIO()),
    )  # fmt: skip
    assert status == 2 and "option 'clip' does not apply" in err.getvalue()
