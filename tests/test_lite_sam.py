"""lite with ``--sam``: SAM's box-prompted masks for the detected objects, on real photos.

Tiny random-weight SAMs (a segment-anything ``.pth`` and a transformers directory) are saved to a
temporary folder and loaded through lite's real loading path; nothing is downloaded. Random
weights make meaningless masks: these tests check where the masks come from (SAM's cached mask
of the chosen box, cut by lite's rules), that the image encoder runs once per image (counted with
a forward hook), the one-line errors, and that lite without ``--sam`` never imports torch.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("segment_anything")

from agent.errors import BackendError, BadInputError, CheckpointError, PixelrsError  # noqa: E402
from agent.types import DialogueTurn, ImageRef, Intent  # noqa: E402
from tools.backends.base import SegmentRequest  # noqa: E402
from tools.backends.lite import LiteBackend  # noqa: E402
from tools.backends.lite.analysis import analyse  # noqa: E402
from tools.backends.lite.classified import SOURCE, ClassifiedObjects  # noqa: E402
from tools.backends.lite.cues import from_intent  # noqa: E402
from tools.backends.lite.detector import Detection  # noqa: E402
from tools.backends.lite.objects import SUPPORTS  # noqa: E402
from tools.backends.lite.sources import SAM_MEMO, CocoObjects  # noqa: E402
from tools.backends.promptable.boxes import BoxMasks, SamMasks, grown_box  # noqa: E402
from tools.backends.promptable.sam import SamImage  # noqa: E402
from tools.backends.promptable.testing import (  # noqa: E402
    CallCounter,
    save_sam_checkpoint,
    save_transformers_sam,
)
from tools.registry import create_backend  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "data" / "photos"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lite_sam")
    return {"pth": save_sam_checkpoint(root / "sam_tiny.pth"), "hf": save_transformers_sam(root / "hf_sam")}


@pytest.fixture(scope="module")
def lite_sam(checkpoints):
    backend = create_backend("lite", sam=str(checkpoints["pth"]), progress=False)
    backend.warm()
    return backend


def photo(name: str) -> tuple[np.ndarray, ImageRef]:
    rgb = np.asarray(Image.open(PHOTOS / name).convert("RGB"))
    return rgb, ImageRef(sha256=hashlib.sha256(rgb.tobytes()).hexdigest(), width=rgb.shape[1], height=rgb.shape[0])


def request(name: str, intent: Intent) -> SegmentRequest:
    rgb, ref = photo(name)
    return SegmentRequest(
        image=rgb, image_ref=ref, intent=intent,
        dialogue=[DialogueTurn(role="user", text=intent.target or "")],
    )  # fmt: skip


def analysis(backend: LiteBackend, name: str):
    return backend.analysis(*photo(name))


def sam_state(backend: LiteBackend, name: str) -> SamMasks:
    return analysis(backend, name).memo(SAM_MEMO, SamMasks)


def find(backend: LiteBackend, name: str, intent: Intent):
    """The finder's answer at the working size (the masks segment() then upsamples)."""
    req = request(name, intent)
    return backend.finder.find(
        analysis(backend, name), from_intent(intent, req.dialogue), intent.target, None
    )


# --------------------------------------------------------------------------- masks from SAM


def test_a_turn_returns_sams_mask_and_a_second_turn_does_not_re_encode(lite_sam):
    encoder = CallCounter(lite_sam.load_sam().vision_module)
    decodes = lite_sam.load_sam().calls["mask_decodes"]

    first = lite_sam.segment(request("coffee.png", Intent(target="the cup")))
    assert first.masks and not first.absent and first.evidence["category"] == "cup"
    assert first.evidence["sam"]["masker"] == "segment-anything"
    assert first.evidence["sam"]["image_embedding_cached"] is False and "embed_ms" in first.evidence["sam"]
    an, state = analysis(lite_sam, "coffee.png"), sam_state(lite_sam, "coffee.png")
    cups = {d.box for d in an.objects.of("cup", 0.3)}
    assert list(state.masks) and set(state.masks) <= cups  # only the returned box was decoded
    box = next(iter(state.masks))
    sam_mask = state.masks[box]
    assert sam_mask.any()
    assert np.array_equal(first.masks[0].mask.array, an.to_orig(sam_mask))  # SAM's, as is
    cup = next(d for d in an.objects.of("cup", 0.3) if d.box == box)
    assert not np.array_equal(sam_mask, an.objects.mask(an, cup, lite_sam.masker))  # not U²-Net-p's
    assert encoder.n == 1
    assert lite_sam.load_sam().calls["mask_decodes"] == decodes + 1

    second = lite_sam.segment(request("coffee.png", Intent(target="the mug")))
    assert np.array_equal(second.masks[0].mask.array, first.masks[0].mask.array)
    assert second.evidence["sam"]["image_embedding_cached"] is True
    assert "embed_ms" not in second.evidence["sam"]
    assert encoder.n == 1, "the second turn on the same image must not run SAM's image encoder"
    assert lite_sam.load_sam().calls["mask_decodes"] == decodes + 1  # the box's mask is cached too

    lite_sam.segment(request("zidane.jpg", Intent(target="the man on the left")))
    assert encoder.n == 2  # a new image is embedded once


def test_the_embedding_is_counted_with_the_images_analysis(lite_sam):
    lite_sam.segment(request("coffee.png", Intent(target="the cup")))
    an, state = analysis(lite_sam, "coffee.png"), sam_state(lite_sam, "coffee.png")
    assert state.image is not None
    embedding = state.image.embedding.element_size() * state.image.embedding.nelement()
    assert state.nbytes() >= embedding + sum(m.nbytes for m in state.masks.values())
    assert an.nbytes() >= state.nbytes()


def test_several_targets_one_sam_mask_per_instance(lite_sam):
    intent = Intent(target="people", attributes={"count": "all"})
    result = lite_sam.segment(request("bus.jpg", intent))
    instances = [m for m in result.masks if m.role == "instance"]
    assert len(instances) >= 2 and result.evidence["sam"]["masker"] == "segment-anything"
    assert np.array_equal(result.masks[0].mask.array, np.logical_or.reduce([m.mask.array for m in instances]))
    found = find(lite_sam, "bus.jpg", intent)
    state = sam_state(lite_sam, "bus.jpg")
    for target in found.targets:  # each instance is one person's SAM mask (overlaps given to one)
        assert any(not (target.mask & ~m).any() for m in state.masks.values())


def test_people_in_front_are_cut_out_of_a_things_sam_mask(lite_sam):
    found = find(lite_sam, "bus.jpg", Intent(target="the bus"))
    an, state = analysis(lite_sam, "bus.jpg"), sam_state(lite_sam, "bus.jpg")
    bus = next(d for d in an.objects.of("bus", 0.3))
    people = [state.masks[p.box] for p in an.objects.of("person", 0.6) if p.box in state.masks]
    assert people, "precondition: confident people in front of the bus were masked by SAM"
    in_front = np.logical_or.reduce(people)
    assert np.array_equal(found.targets[0].mask, state.masks[bus.box] & ~in_front)


def test_an_absent_thing_decodes_nothing(lite_sam):
    decodes = lite_sam.load_sam().calls["mask_decodes"]
    result = lite_sam.segment(request("coffee.png", Intent(target="the dog")))
    assert result.absent and result.masks == []
    assert lite_sam.load_sam().calls["mask_decodes"] == decodes


def test_imagenet_candidates_regions_keep_their_masks_boxes_go_to_sam(lite_sam):
    source = lite_sam.finder.objects
    assert isinstance(source, ClassifiedObjects)
    an = analysis(lite_sam, "camera.png")  # the tripod beside the cameraman is a region
    items = source.candidates(an).items
    regions = [c for c in items if c.mask is not None]
    boxes = [c for c in items if c.detection is not None and c.detection.category not in SUPPORTS]
    assert regions and boxes
    region = regions[0]
    got = source.mask(an, Detection("tripod", 0.5, region.box, SOURCE))
    assert got.any() and not (got & ~an.salient(source.masker)).any()  # salient pixels, not SAM's
    assert region.box not in sam_state(lite_sam, "camera.png").masks
    box = boxes[0]
    assert box.detection is not None
    mask = source.mask(an, Detection("tripod", 0.5, box.box, SOURCE))
    assert np.array_equal(mask, sam_state(lite_sam, "camera.png").masks[box.detection.box])


class StubMasker:
    """A box masker whose masks are given by a function of the box (to check lite's rules)."""

    family = "stub"

    def __init__(self, make) -> None:
        self.make = make
        self.vision_module = torch.nn.Identity()

    def embed(self, rgb: np.ndarray) -> SamImage:
        h, w = rgb.shape[:2]
        return SamImage(torch.zeros(1), (h, w), (h, w))

    def masks(self, image: SamImage, boxes: np.ndarray) -> np.ndarray:
        return np.stack([self.make(image.original_size, tuple(int(v) for v in b)) for b in boxes])


def test_a_support_loses_the_salient_things_on_it_unless_they_are_most_of_it(lite_sam):
    """A table's SAM mask minus the salient objects (the cup on it), as lite's box minus salient;
    when the salient model took most of it for an object, SAM's mask is kept."""

    def fresh():  # an analysis of its own: the stubs' masks must not reach the shared cache
        return analyse(photo("coffee.png")[0], max_side=lite_sam.max_side, reader=lite_sam.ocr,
                       detector=lite_sam.detector)  # fmt: skip

    def source(make) -> CocoObjects:
        return CocoObjects(
            lite_sam.detector, lite_sam.masker, lite_sam.coco.vocabulary, BoxMasks(StubMasker(make))
        )

    def top_half(shape, box):
        out = np.zeros(shape, bool)
        out[box[1] : (box[1] + box[3]) // 2, box[0] : box[2] + 1] = True
        return out

    an = fresh()
    table = an.objects.of("dining table", 0.3)[0]
    salient = an.salient(lite_sam.masker)
    assert (top_half(an.shape, table.box) & salient).any(), "precondition: the cup on it stands out"
    got = source(top_half).mask(an, table)
    assert got.any() and np.array_equal(got, top_half(an.shape, table.box) & ~salient)

    an = fresh()
    salient = an.salient(lite_sam.masker)
    kept = source(lambda shape, box: salient.copy()).mask(an, table)
    assert kept.any() and np.array_equal(kept, salient & grown_box(table.box, an.shape))


def test_a_transformers_sam_directory_works_the_same(checkpoints):
    backend = LiteBackend(sam=str(checkpoints["hf"]), progress=False)
    encoder = CallCounter(backend.load_sam().vision_module)
    first = backend.segment(request("coffee.png", Intent(target="the cup")))
    second = backend.segment(request("coffee.png", Intent(target="the table")))
    assert first.masks and second.masks and first.masks[0].mask.array.shape == (400, 600)
    assert first.evidence["sam"]["masker"] == "transformers-sam"
    assert encoder.n == 1


# --------------------------------------------------------------------------- options and errors


def test_the_cli_flag_reaches_lite(checkpoints):
    from ui.cli import build_parser
    from ui.cli_options import add_backend_options, settings_from_args

    args = build_parser().parse_args(
        ["chat", "--backend", "lite", "--sam", str(checkpoints["pth"]), "--dtype", "bf16", "--image", "x.jpg"]
    )
    settings = settings_from_args(args)
    backend = create_backend(settings.backend, **settings.backend_options)
    assert isinstance(backend, LiteBackend) and backend.sam_options is not None
    assert (backend.sam_options.location, backend.sam_options.dtype) == (str(checkpoints["pth"]), "bf16")
    parser = argparse.ArgumentParser()
    add_backend_options(parser)
    helps = {a.option_strings[0]: a.help or "" for a in parser._actions}
    assert all("lite" in helps[flag] for flag in ("--sam", "--device", "--dtype", "--allow-download"))


def _one_line(exc: PixelrsError) -> str:
    line = exc.one_line()
    assert "\n" not in line and len(line) < 400 and "openvocab" not in line
    return line


def test_a_bad_sam_is_one_line_naming_lite(checkpoints, tmp_path):
    def load_error(**kw) -> str:
        with pytest.raises(CheckpointError) as info:
            LiteBackend(progress=False, **kw).warm()
        return _one_line(info.value)

    assert load_error(sam=str(tmp_path / "nope.pth")) == f"lite: SAM {str(tmp_path / 'nope.pth')!r} does not exist"
    not_sam = tmp_path / "not_sam.pth"
    torch.save({"weight": torch.zeros(2)}, not_sam)
    assert load_error(sam=str(not_sam)).startswith(f"lite: {str(not_sam)!r} is not a segment-anything SAM")
    assert "is not vit_h" in load_error(sam=str(checkpoints["pth"]), sam_type="vit_h")
    (tmp_path / "empty").mkdir()
    assert "no .pth or .safetensors file" in load_error(sam=str(tmp_path / "empty"))
    assert "not in the local Hugging Face cache" in load_error(sam="pixelrs-test/no-such-sam")
    assert "unknown device" in load_error(sam=str(checkpoints["pth"]), device="tpu:9")


def test_bad_options_are_one_line_errors(checkpoints):
    for kw, words in [
        (dict(clip="/x"), "option 'clip' does not apply"),
        (dict(sam=str(checkpoints["pth"]), dtype="int8"), "unknown dtype"),
        (dict(sam=str(checkpoints["pth"]), sam_type="vit_x"), "unknown SAM type"),
        (dict(sam_type="vit_b"), "needs a SAM checkpoint"),
        (dict(sam=" "), "--sam is empty"),
        (dict(sam=str(checkpoints["pth"]), objects=False), "needs the detector"),
    ]:
        with pytest.raises(BadInputError) as info:
            LiteBackend(**kw)
        assert _one_line(info.value).startswith("lite: ") and words in info.value.one_line()


def test_the_cli_reports_a_bad_sam_in_one_line(tmp_path):
    from ui.cli import main

    err = io.StringIO()
    status = main(
        ["chat", "--backend", "lite", "--sam", str(tmp_path / "missing.pth"), "--image",
         str(PHOTOS / "coffee.png"), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"],
        stdin=io.StringIO("segment the cup\n"), stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    lines = [line for line in err.getvalue().splitlines() if line.startswith("pixelrs:")]
    assert status == 2 and lines == [f"pixelrs: lite: SAM {str(tmp_path / 'missing.pth')!r} does not exist"]


def test_sam_without_torch_names_the_extra(checkpoints, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(BackendError) as info:
        LiteBackend(sam=str(checkpoints["pth"]), progress=False).load_sam()
    line = _one_line(info.value)
    assert line.startswith("lite: --sam needs torch") and "pip install 'pixelrs[miras]'" in line


NO_TORCH = r"""
import hashlib, importlib.abc, sys
import numpy as np
from PIL import Image

HEAVY = ("torch", "transformers", "segment_anything", "timm")
tried = []


class Absent(importlib.abc.MetaPathFinder):
    # The default install: none of the [miras] packages. Records who tried to import them.
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] not in HEAVY:
            return None
        frame = sys._getframe(1)
        while frame is not None and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen")):
            frame = frame.f_back
        tried.append((name, frame.f_globals.get("__name__", "?") if frame is not None else "?"))
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, Absent())
from agent.types import DialogueTurn, ImageRef, Intent
from tools.backends.base import SegmentRequest
from tools.backends.lite import LiteBackend

rgb = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
ref = ImageRef(sha256=hashlib.sha256(rgb.tobytes()).hexdigest(), width=rgb.shape[1], height=rgb.shape[0])
lite = LiteBackend(progress=False)
lite.warm()
for target in ("the cup", "the table", "the saucer"):
    result = lite.segment(SegmentRequest(image=rgb, image_ref=ref, intent=Intent(target=target),
                                         dialogue=[DialogueTurn(role="user", text=target)]))
    assert result.masks, target
loaded = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY and sys.modules[m] is not None)
assert not loaded, loaded
assert "tools.backends.promptable.sam" not in sys.modules
# spaCy's thinc probes for torch (and copes without it); nothing of pixelrs may ask for it.
askers = sorted({who for _, who in tried if who.split(".")[0] not in ("thinc", "spacy")})
assert not askers, (askers, tried)
print("ok", len(tried))
"""


def test_lite_without_sam_never_imports_torch():
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(PHOTOS / "coffee.png")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("ok")
