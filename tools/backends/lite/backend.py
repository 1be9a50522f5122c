"""The ``lite`` backend: CPU-only segmentation of detected objects, printed text and cue-ranked regions.

No downloaded weights: objects come from SSD-MobileNet-v2 (COCO-80) and their masks from U²-Net-p,
text from RapidOCR, regions from Felzenszwalb superpixels, refinement from OpenCV GrabCut; every
model ships inside a pip package. Per-image work is cached by content hash. How the target is
found is in :mod:`tools.backends.lite.finder`; parts of a target in :mod:`tools.backends.lite.parts`.
With a SAM checkpoint (``sam``, the CLI's ``--sam``) the detected boxes are masked by SAM instead
(:mod:`tools.backends.lite.sam`; needs ``pixelrs[miras]``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from agent import nlp
from agent.cache import ByteLRU, nbytes_of
from agent.coordination import listed_things, offered_things
from agent.errors import BadInputError
from agent.parts import geometric_part
from agent.types import ImageRef, Intent, IntentOp, Mask, MaskOut
from tools.backends.base import ExplainRequest, SegmentRequest, SegmentResult
from tools.backends.lite import explain as explaining
from tools.backends.lite import parts
from tools.backends.lite.analysis import ImageAnalysis, analyse
from tools.backends.lite.calibration import confidence
from tools.backends.lite.categories import Vocabulary
from tools.backends.lite.classified import ClassifiedObjects
from tools.backends.lite.classifier import ImageNetClassifier
from tools.backends.lite.cues import Cues, from_intent, parse_phrase
from tools.backends.lite.detector import CocoDetector
from tools.backends.lite.explain import describe_mask
from tools.backends.lite.finder import Finder, Found, Scored, pick_one
from tools.backends.lite.geometry import iou
from tools.backends.lite.ocr import OcrReader
from tools.backends.lite.refine import apply_box, apply_points
from tools.backends.lite.salient import SalientMasker
from tools.backends.lite.sam import SamOptions, load_box_masks
from tools.backends.lite.sources import SAM_MEMO, CocoObjects
from tools.backends.promptable.boxes import SamMasks

if TYPE_CHECKING:
    from tools.backends.promptable.boxes import BoxMasks


class LiteBackend:
    """CPU default backend: recognises COCO objects and people, reads text, names colours and positions."""

    name = "lite"

    def __init__(
        self,
        max_side: int = 640,
        cache_bytes: int = 256 * 2**20,
        ocr: bool = True,
        objects: bool = True,
        *,
        sam: str | None = None,
        sam_type: str | None = None,
        device: str = "cpu",
        dtype: str = "fp32",
        allow_download: bool = False,
        progress: bool = True,
        **other: Any,
    ) -> None:
        """``sam``: a SAM checkpoint (segment-anything ``.pth``, or a transformers SAM directory or
        model id) whose box-prompted masks replace U²-Net-p's; ``sam_type`` checks its size,
        ``device``/``dtype`` run it, ``allow_download`` lets transformers fetch a model id that is
        not cached. SAM loads in :meth:`warm` (with a progress bar unless ``progress=False``) or on
        the first turn. Options of other backends are refused with a one-line message."""
        if other:
            raise BadInputError(f"lite: option '{next(iter(other))}' does not apply to this backend")
        self.sam_options = SamOptions.parse(
            sam, sam_type=sam_type, device=device, dtype=dtype,
            allow_download=allow_download, objects=objects,
        )  # fmt: skip
        self.progress = bool(progress)
        self.load_ms: dict[str, float] = {}
        self._sam_lock = threading.Lock()
        if int(max_side) < 32:
            raise BadInputError(f"lite: max_side must be at least 32, got {max_side}")
        if int(cache_bytes) < 0:
            raise BadInputError(f"lite: cache_bytes must be >= 0, got {cache_bytes}")
        self.max_side = int(max_side)
        self.cache = ByteLRU(int(cache_bytes), sizeof=_analysis_bytes)
        self.ocr = OcrReader(enabled=bool(ocr))
        self.detector = CocoDetector() if objects else None
        self.masker = SalientMasker()
        self.classifier = ImageNetClassifier()
        self.coco = (
            CocoObjects(self.detector, self.masker, Vocabulary()) if self.detector is not None else None
        )
        source = (
            ClassifiedObjects(self.coco, self.classifier, self.masker) if self.coco is not None else None
        )
        self.finder = Finder(source, saliency=self.masker if source is not None else None)
        self.parts = parts.PartFinder(source)
        self.parses = nlp.ParseCache(256)
        """Parses of target phrases (the things a request lists), owned by this backend."""

    # -- per-image analysis ------------------------------------------------
    def analysis(self, image: np.ndarray, ref: ImageRef) -> ImageAnalysis:
        """Return the cached per-image analysis (OCR, superpixels, colours, detections), computed on first use."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] < 3:
            raise BadInputError(f"lite: expected an (H, W, 3) RGB image, got shape {image.shape}")
        rgb = (
            image[:, :, :3]
            if image.dtype == np.uint8
            else np.clip(image[:, :, :3], 0, 255).astype(np.uint8)
        )
        key = self._key(ref, rgb)
        return self.cache.get_or_create(
            key,
            lambda: analyse(rgb, max_side=self.max_side, reader=self.ocr, detector=self.detector),
        )

    # -- segmentation ----------------------------------------------------------
    def segment(self, request: SegmentRequest) -> SegmentResult:
        """Find the tracked target (or apply click/box prompts, or take a part of the current mask)."""
        sam = self.load_sam()
        start = time.perf_counter()
        cached = self._cached(request.image_ref, request.image)
        an = self.analysis(request.image, request.image_ref)
        prev = prev_orig = None
        pm = request.previous_mask
        if pm is not None and pm.array.shape == (an.orig_h, an.orig_w) and pm.array.any():
            prev_orig = pm.array
            prev = an.to_work(prev_orig)
        cues = from_intent(request.intent, request.dialogue)
        label = request.intent.target or request.intent.describe()
        if not request.prompts.empty:
            found = self._from_prompts(an, request, prev)
        else:
            found = self._one_shown(an, cues, request) or self._find(an, cues, request.intent, prev)
        result = self._result(an, found, found.evidence.get("chosen") or label, cues, prev_orig)
        self.cache.remeasure(self._key(request.image_ref, request.image))  # lazy parts may have run
        result.evidence["analysis_cached"] = cached
        if sam is not None:
            result.evidence["sam"] = _sam_evidence(sam, an, start)
        elapsed = (time.perf_counter() - start) * 1000
        result.evidence["timings_ms"] = {
            **({} if cached else an.timings_ms),
            "total_ms": round(elapsed, 1),
        }
        result.backend_ms = elapsed
        return result

    def _find(
        self, an: ImageAnalysis, cues: Cues, intent: Intent, prev: np.ndarray | None
    ) -> Found:
        """Locate the target, then cut the part the user asked for (of it, or of the current mask)."""
        target = intent.target
        wants_part = cues.part is not None or cues.part_noun is not None
        listed = [] if wants_part or cues.count is not None else listed_things(self.parses, target)
        picks = cues.op in (IntentOp.REFINE, IntentOp.CORRECT) and (
            cues.other or bool({"position", "ordinal", "size", "colour"} & set(intent.attributes))
        )  # one of the things listed before: "now just the one on the right", "only the black one"
        offered = [] if wants_part or cues.count is not None else offered_things(self.parses, target)
        if len(offered) > 1:  # "which is bigger, the cup or the bowl?": each found, one kept
            found = self._each_listed(an, cues, offered, prev)
            found.several = False
            # the size word alone chooses: a side or colour said is each offered thing's own
            only_size = replace(cues, target=replace(cues.target, positions=[], colours=[], ordinal=None))
            found = pick_one(found, only_size, prev) if len(found.targets) > 1 else found
            if found.targets:
                found.evidence["chosen"] = found.targets[0].label  # the answer names it
            return found
        named_by_colour = any(c in thing.split() for thing in listed for c in cues.target.colours)
        if len(listed) > 1 and not (picks and self._one_kind(listed) and not named_by_colour):
            # one of several things of one kind ("the one on the right" after "the man with the
            # hat and the man with the cap") is chosen among every instance of that kind, below,
            # unless the list itself said its colour ("only the black one")
            found = self._each_listed(an, cues, listed, prev)
            return pick_one(found, cues, prev) if picks and len(found.targets) > 1 else found
        renamed = len(intent.history) > 1 and intent.history[-2].target != target
        if wants_part and prev is not None and cues.op in (IntentOp.REFINE, IntentOp.KEEP) and not renamed:
            found = Found(targets=[Scored(prev, 0.9, "previous", target or "")])
            found.evidence = {"cues": ["the current mask"], "ocr": []}
        else:
            # "both of the cat's eyes": the count is the part's, so the cat is found on its own
            whole = replace(cues, count=None) if cues.part_noun is not None else cues
            found = self.finder.find(an, whole, target, prev)
        if not wants_part or not found.targets or found.several:
            return found
        base = found.targets[0]
        if cues.part is not None:
            return _half_later(found, cues.part)
        assert cues.part_noun is not None
        part = self.parts.find(an, base.mask, cues.part_noun, base.label or (target or ""))
        if part.mask is None:
            return Found(absent=part.note, evidence={**found.evidence, "part": cues.part_noun})
        found.targets = [Scored(part.mask, part.score, "part", cues.part_noun)]
        found.alternatives = []
        found.evidence["cues"] = [*found.evidence.get("cues", []), part.note]
        found.evidence["part"] = cues.part_noun
        return found

    def _one_shown(self, an: ImageAnalysis, cues: Cues, request: SegmentRequest) -> Found | None:
        """Choose one of the masks shown for several things by position, order or size ("now
        keep just the one on the left" after "both giraffes"): the very mask the user saw, not a
        new search that may draw it differently. None when the turn does not pick among them."""
        shown = [m for m in request.previous_instances if m.mask.array.shape == (an.orig_h, an.orig_w)]
        t = cues.target
        if (
            len(shown) < 2
            or cues.op not in (IntentOp.REFINE, IntentOp.CORRECT)
            or not (t.positions or t.ordinal is not None or t.size is not None or cues.other)
            or cues.part_noun is not None
            or cues.count is not None
            or not self._same_kind(request.intent, shown[0].label)
            or len(listed_things(self.parses, request.intent.target)) > 1
        ):  # a list ("the man with the hat and the man with the cap") is picked from below
            return None
        found = Found(
            targets=[
                Scored(an.to_work(m.mask.array), m.score or 0.5, "shown", m.label, full=m.mask.array)
                for m in shown
            ],
            evidence={"cues": ["the masks shown before"], "ocr": []},
        )
        previous = request.previous_mask
        shown_now = an.to_work(previous.array) if previous is not None and previous.array.shape == (an.orig_h, an.orig_w) else None
        found = pick_one(found, cues, shown_now)  # "no, the other one": the one least like the current mask
        found.alternatives = []
        return _half_later(found, cues.part) if cues.part is not None else found

    def _same_kind(self, intent: Intent, shown_label: str) -> bool:
        """Whether the target still names what the shown masks are ("the one", "giraffe" for
        "giraffes 1"): the same words, or the same detector category."""
        target = intent.target or ""
        name, _, number = shown_label.rpartition(" ")
        earlier = name if name and number.isdigit() else shown_label
        if not target or target.lower() in ("one", "ones") or target.lower() == earlier.lower():
            return True
        return self._one_kind([target, earlier])

    def _each_listed(
        self, an: ImageAnalysis, cues: Cues, listed: list[str], prev: np.ndarray | None
    ) -> Found:
        """Find each thing a request lists ("the lemon and the lime") on its own: one mask per
        thing found, named as the user said it; those not found are said so in the evidence."""
        found = Found(several=True, evidence={"cues": [], "ocr": [], "listed": listed})
        missing = []
        for thing in listed:
            one = replace(cues, target=parse_phrase(thing), relations=[], other=False, count=None)
            hit = self.finder.find(an, one, thing, prev)
            taken = [t.mask for t in found.targets]
            # the man with the hat and "the man": not the one already found for an earlier thing
            fresh = [s for s in [*hit.targets, *hit.alternatives] if all(iou(s.mask, m) < 0.5 for m in taken)]
            if fresh:
                best = fresh[0]
                found.targets.append(Scored(best.mask, best.score, best.kind, thing))
                found.evidence["cues"] += [c for c in hit.evidence.get("cues", []) if c not in found.evidence["cues"]]
            else:
                missing.append(thing)
        if missing:
            found.evidence["unmatched"] = [f"no {thing} was found" for thing in missing]
        if not found.targets:
            found.absent = f"none of {', '.join(listed)} was found"
        return found

    def _one_kind(self, listed: list[str]) -> bool:
        """Whether every listed thing names the same detector category (all people, say)."""
        if self.coco is None:
            return False
        kinds = {getattr(self.coco.vocabulary.match(thing), "category", None) for thing in listed}
        return len(kinds) == 1 and None not in kinds

    def _result(
        self,
        an: ImageAnalysis,
        found: Found,
        label: str,
        cues: Cues,
        previous: np.ndarray | None = None,
    ) -> SegmentResult:
        """Turn what was found into masks at the original size, with roles and evidence."""
        evidence: dict[str, Any] = {"backend": self.name, **found.evidence}
        evidence.setdefault("cues", [])
        evidence.setdefault("ocr", [])
        if found.category is not None:
            evidence["category"] = found.category
        if found.absent is not None or not found.targets:
            if found.absent is not None:
                evidence["absent"] = found.absent
            return SegmentResult(masks=[], evidence=evidence, absent=found.absent is not None)
        outs: list[MaskOut] = []
        if found.several:
            instances = [an.to_orig(s.mask) for s in found.targets]
            top = min(confidence(s.score, s.kind) for s in found.targets)
            union = np.logical_or.reduce(instances)
            outs.append(MaskOut(Mask(union), label=label, score=top))
            for i, (s, mask) in enumerate(zip(found.targets, instances, strict=True), start=1):
                outs.append(
                    MaskOut(
                        Mask(mask), label=f"{s.label or label} {i}",
                        score=confidence(s.score, s.kind),
                        role="instance",
                    )  # fmt: skip
                )
        else:
            best = found.targets[0]
            if best.full is not None:  # a mask shown before, as it was shown
                mask = best.full
            elif best.kind == "previous" and previous is not None:
                mask = previous  # the current mask itself, not its round trip through the working size
            else:
                mask = an.to_orig(best.mask)
            if cues.part is not None and found.evidence.get("part"):
                mask = geometric_part(mask, cues.part)
            outs.append(MaskOut(Mask(mask), label=label, score=confidence(best.score, best.kind)))
            for alt in found.alternatives:
                outs.append(
                    MaskOut(
                        Mask(an.to_orig(alt.mask)),
                        label=label,
                        score=confidence(alt.score, alt.kind),
                        role="alternative",
                    )
                )
        region = describe_mask(an, outs[0].mask.array)
        region["kind"] = found.targets[0].kind
        evidence["region"] = region
        return SegmentResult(masks=outs, text="", evidence=evidence)

    def _key(self, ref: ImageRef, image: np.ndarray) -> tuple[str, int, int, int]:
        shape = np.asarray(image).shape
        return (ref.sha256, shape[0], shape[1], self.max_side)

    def _cached(self, ref: ImageRef, image: np.ndarray) -> bool:
        return self._key(ref, image) in self.cache

    def _from_prompts(
        self, an: ImageAnalysis, request: SegmentRequest, prev: np.ndarray | None
    ) -> Found:
        s = an.scale
        points = [(p.x * s, p.y * s, p.positive) for p in request.prompts.points]
        box = request.prompts.box
        if box is not None:
            mask = apply_box(an, (box.x0 * s, box.y0 * s, box.x1 * s, box.y1 * s), points)
            notes = [f"box prompt x {box.x0:.0f}-{box.x1:.0f}, y {box.y0:.0f}-{box.y1:.0f}"]
            notes += [
                f"{'positive' if p else 'negative'} click at ({x / s:.0f}, {y / s:.0f})"
                for x, y, p in points
            ]
        else:
            mask, notes = apply_points(an, prev, points)
            if prev is not None:
                notes.insert(0, "edited the previous mask")
        return Found(targets=[Scored(mask, 0.9, "prompt")], evidence={"cues": notes, "ocr": []})

    # -- explanation -----------------------------------------------------------
    def explain(self, request: ExplainRequest) -> Iterator[str]:
        """Stream a grounded explanation word by word: text read, position, size, colour, change since last turn."""
        an = self.analysis(request.image, request.image_ref)
        mask = request.mask.array if request.mask is not None else None
        if mask is not None and mask.shape != (an.orig_h, an.orig_w):
            mask = None
        if request.result is not None and mask is not None:
            text = explaining.segment_explanation(an, request, mask)
        else:
            text = explaining.question_explanation(an, request, mask)
        self.cache.remeasure(self._key(request.image_ref, request.image))  # OCR may have run
        yield from explaining.stream(text)

    def forget_session(self, session_id: str) -> None:
        """Lite keeps no per-session state (only per-image caches), so there is nothing to drop."""

    def warm(self) -> None:
        """Load every model ahead of the first image (else each loads on first use): SAM when
        asked for (first, with a progress bar: a bad checkpoint is reported at once), the OCR
        engine, the detector, the mask model and the English parser."""
        if self.sam_options is None:
            self._warm_packaged()
            return
        from tqdm.auto import tqdm

        with tqdm(total=2, desc="Loading lite models", unit="model", disable=not self.progress) as bar:
            bar.set_postfix_str(self.sam_options.location)
            self.load_sam()
            bar.update(1)
            bar.set_postfix_str("OCR, detector, U²-Net-p, classifier, parser")
            self._warm_packaged()
            bar.update(1)

    def _warm_packaged(self) -> None:
        self.ocr.warm()
        if self.detector is not None:
            self.detector.warm()
            self.masker.warm()
            self.classifier.warm()
            nlp.pipeline()

    def load_sam(self) -> BoxMasks | None:
        """Load SAM once when the ``sam`` option gave one (None otherwise); one-line errors."""
        if self.sam_options is None or self.coco is None:
            return None
        with self._sam_lock:
            if self.coco.sam is None:
                start = time.perf_counter()
                self.coco.sam = load_box_masks(self.sam_options)
                self.load_ms["sam_ms"] = (time.perf_counter() - start) * 1000
            return self.coco.sam


def _sam_evidence(sam: BoxMasks, an: ImageAnalysis, start: float) -> dict[str, Any]:
    """Say what SAM did for a turn: its family, whether the image's embedding was reused, its cost."""
    state = an.memo(SAM_MEMO, SamMasks)
    made = state.embedded_at
    info: dict[str, Any] = {
        "masker": sam.family,
        "image_embedding_cached": None if made is None else made < start,
    }
    if made is not None and made >= start:
        info["embed_ms"] = round(state.embed_ms, 1)
    return info


def _analysis_bytes(value: object) -> int:
    """Size of a cached analysis, as it reports it (walking its objects would cost ~0.2 s)."""
    return value.nbytes() if isinstance(value, ImageAnalysis) else nbytes_of(value)


def _half_later(found: Found, part: str) -> Found:
    """Mark a geometric part of the found thing to be cut at the original size, in ``_result``
    (exact halves), and say so in the cues."""
    name = "centre" if part == "center" else f"{part} half"
    found.evidence["cues"] = [*found.evidence.get("cues", []), f"its {name}"]
    found.evidence["part"] = name
    found.alternatives = []
    return found
