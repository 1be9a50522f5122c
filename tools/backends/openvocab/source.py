"""The open-vocabulary :class:`~tools.backends.lite.sources.ObjectSource`: any noun phrase, masks from SAM.

Per image (keyed by the working copy's content hash, bounded by bytes) the source keeps:

* the detector's image features (:meth:`OpenVocabDetector.encode`, run once per image);
* per query, the detector's proposals and the calibrated, de-duplicated detections;
* SAM's image embedding (run once per image, on the first mask) and every mask made so far.

A later turn on the same image therefore costs the text query (OWL: the text tower, cached per
phrase, and one matrix product) and the mask decoder for the boxes the finder returns (it ranks
detections on stand-in ellipses and masks only what it answers with).
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.cache import ByteLRU
from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.detector import Detection
from tools.backends.lite.geometry import box_inside, box_iou
from tools.backends.lite.salient import SalientMasker
from tools.backends.lite.sources import PRESENT, WEAK, Lookup
from tools.backends.openvocab.calibration import Calibration
from tools.backends.openvocab.detector import OpenVocabDetector, Proposals, tensor_bytes
from tools.backends.openvocab.query import detector_query
from tools.backends.promptable.boxes import BoxMasks, SamMasks, writable

NMS_IOU = 0.5
CONTAINED = 0.8
"""A box with this share of its area inside a better box of the same query is a duplicate
(OWL proposes a person's torso next to the person)."""
MAX_DETECTIONS = 20
"""Detections kept per query after suppression (the finder ranks at most 12)."""
QUERIES_PER_IMAGE = 64
"""Queries whose proposals are kept per image."""


@dataclass(eq=False)
class ImageState:
    """Everything the source computed for one image."""

    features: Any
    encode_ms: float
    created: float = field(default_factory=time.perf_counter)
    """When the features were computed (``time.perf_counter``)."""
    proposals: dict[str, Proposals] = field(default_factory=dict)
    detections: dict[str, tuple[list[Detection], float]] = field(default_factory=dict)
    sam: SamMasks = field(default_factory=SamMasks)
    """SAM's image embedding (made on the first mask) and the masks decoded so far."""
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)


class OpenVocabObjects:
    """Finds instances of any noun phrase with an open-vocabulary detector; masks them with SAM.

    Without a SAM (``masker=None``) a box is masked by lite's packaged U²-Net-p (GrabCut when that
    mask is implausible), as the COCO source does.
    """

    def __init__(
        self,
        detector: OpenVocabDetector,
        masker: BoxMasks | None,
        calibration: Calibration,
        *,
        cache_bytes: int = 1 << 30,
        salient: SalientMasker | None = None,
    ) -> None:
        self.detector = detector
        self.masker = masker
        self.calibration = calibration
        self.salient = salient or SalientMasker()
        self.calls: Counter[str] = Counter()
        """How often the detector ran: image_encodes, queries (SAM's runs: ``masker.calls``)."""
        self._images = ByteLRU(int(cache_bytes), sizeof=_state_bytes)
        self._keys: weakref.WeakKeyDictionary[ImageAnalysis, str] = weakref.WeakKeyDictionary()
        self._model_lock = threading.RLock()

    # -- per-image state -----------------------------------------------------------------------
    def key(self, an: ImageAnalysis) -> str:
        """Content key of an analysis' working image (hashed once per analysis object)."""
        key = self._keys.get(an)
        if key is None:
            digest = hashlib.blake2b(an.rgb.tobytes(), digest_size=16)
            digest.update(repr(an.rgb.shape).encode())
            key = digest.hexdigest()
            self._keys[an] = key
        return key

    def cached(self, an: ImageAnalysis) -> bool:
        """Whether this image's detector features are already computed."""
        return self.key(an) in self._images

    def state(self, an: ImageAnalysis) -> ImageState:
        """Return the image's state, encoding the image with the detector on first use."""
        return self._images.get_or_create(self.key(an), lambda: self._encode(an))  # type: ignore[no-any-return]

    def _encode(self, an: ImageAnalysis) -> ImageState:
        start = time.perf_counter()
        with self._model_lock:
            features = self.detector.encode(writable(an.rgb))
        self.calls["image_encodes"] += 1
        return ImageState(features, (time.perf_counter() - start) * 1000)

    # -- ObjectSource ----------------------------------------------------------------------------
    def lookup(
        self, an: ImageAnalysis, phrase: str, *, every: bool = False, head_only: bool = False
    ) -> Lookup | None:
        """Detect what ``phrase`` names; None only when no kind of thing is left in it ("the one
        on the left"). ``every`` changes nothing (the detector always sees every instance);
        ``head_only`` asks for the head noun alone ("handle of the cup" -> handle)."""
        query = detector_query(phrase, head_only=head_only)
        if not query:
            return None
        dets, best = self.detections(an, query)
        present = [d for d in dets if d.score >= PRESENT]
        chosen = present or [d for d in dets if d.score >= WEAK]
        _remember(an, present)
        return Lookup(query, chosen, weak=bool(chosen) and not present, best=best)

    def detections(
        self, an: ImageAnalysis, query: str, state: ImageState | None = None
    ) -> tuple[list[Detection], float]:
        """Calibrated detections of ``query`` at or above WEAK, best first, duplicates removed,
        and the best calibrated score of any box (cached per image and query)."""
        state = state or self.state(an)
        with state.lock:
            cached = state.detections.get(query)
        if cached is not None:
            return cached
        proposals = self.proposals(an, query, state)
        scores = self.calibration(proposals.scores)
        best = float(scores.max()) if scores.size else 0.0
        order = [i for i in np.argsort(-scores, kind="stable") if scores[i] >= WEAK]
        kept: list[Detection] = []
        for i in order:
            x0, y0, x1, y1 = (int(round(float(v))) for v in proposals.boxes[i])
            box = (x0, y0, x1, y1)
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue
            if any(
                box_iou(box, k.box) >= NMS_IOU or box_inside(box, k.box) >= CONTAINED for k in kept
            ):
                continue
            kept.append(Detection(query, round(float(scores[i]), 4), box))
            if len(kept) == MAX_DETECTIONS:
                break
        with state.lock:
            state.detections[query] = (kept, best)
        return kept, best

    def proposals(self, an: ImageAnalysis, query: str, state: ImageState | None = None) -> Proposals:
        """Return the detector's raw proposals for ``query`` on this image (cached per image and query)."""
        state = state or self.state(an)
        with state.lock:
            found = state.proposals.get(query)
            if found is not None:
                return found
            with self._model_lock:
                found = self.detector.propose(state.features, query)
            self.calls["queries"] += 1
            state.proposals[query] = found
            while len(state.proposals) > QUERIES_PER_IMAGE:
                state.proposals.pop(next(iter(state.proposals)))
                state.detections.clear()
        return found

    def mask(self, an: ImageAnalysis, det: Detection) -> np.ndarray:
        """SAM's mask for the detection's box, cut to the box grown by
        :data:`~tools.backends.promptable.boxes.BOX_MARGIN` (cached)."""
        if self.masker is None:
            return an.objects.mask(an, det, self.salient)
        state = self.state(an)
        made = len(state.sam.masks)
        found = self.masker.mask(an.rgb, state.sam, det.box)
        if len(state.sam.masks) != made:
            self._images.put(self.key(an), state)  # re-account the bytes held
        if not found.any():  # SAM found nothing in the box: the packaged box masker instead
            found = an.objects.mask(an, det, self.salient)
        return found


def _remember(an: ImageAnalysis, dets: list[Detection]) -> None:
    """Add confident detections to the analysis' object index, so answers can name what a mask is
    ("It looks like a red cup"); the index is otherwise empty in this backend."""
    known = {(d.category, d.box) for d in an.objects.detections}
    new = [d for d in dets if (d.category, d.box) not in known]
    if new:
        an.objects.detections = sorted([*an.objects.detections, *new], key=lambda d: -d.score)


def _state_bytes(state: ImageState) -> int:
    """Bytes an image's state holds (tensors, arrays, masks) plus a small overhead."""
    return 4096 + tensor_bytes(state.features) + state.sam.nbytes() + sum(
        tensor_bytes(p) for p in state.proposals.values()
    )
