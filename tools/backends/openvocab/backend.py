"""The ``openvocab`` backend: lite's machinery with an open-vocabulary detector and SAM as its object source.

Everything but the object source is lite's (:class:`~tools.backends.lite.LiteBackend`): the
per-image analysis (OCR for text targets, colours, superpixels), the cues read from the intent,
the ranking of detections (position, order, size, colour, relations, "the other one"), several
and absent targets, parts, the click/box corrections and the grounded answers. The source
(:class:`~tools.backends.openvocab.source.OpenVocabObjects`) answers any noun phrase with OWLv2
(default) or Grounding DINO and masks the boxes with SAM; relations and exclusions are resolved
over its detections (:mod:`tools.backends.openvocab.ranking`).

Models load at start-up (the runtime calls :meth:`OpenVocabBackend.load`) from local
directories, checkpoint files or model ids already in the local Hugging Face cache; nothing is
downloaded unless ``allow_download`` is set. torch and transformers come with ``pixelrs[miras]``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.errors import BackendError, BadInputError
from tools.backends.base import SegmentRequest, SegmentResult
from tools.backends.lite import parts
from tools.backends.lite.backend import LiteBackend
from tools.backends.openvocab.calibration import Calibration
from tools.backends.openvocab.ranking import OpenVocabFinder

if TYPE_CHECKING:
    from tools.backends.openvocab.source import OpenVocabObjects

DEFAULT_MODEL = "google/owlv2-base-patch16-ensemble"


class OpenVocabOptions(BaseModel):
    """The backend's options (CLI: ``--model``, ``--sam``, ``--device``, ``--dtype``, ``--threshold``, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(DEFAULT_MODEL, description="Detector: a local directory or a model id.")
    sam: str | None = Field(
        None, description="SAM: a segment-anything .pth file, or a transformers SAM directory / id."
    )
    sam_type: Literal["vit_b", "vit_l", "vit_h"] | None = Field(
        None, description="Expected SAM size (checked against the file); read from it when absent."
    )
    device: str = "cpu"
    dtype: Literal["fp32", "bf16", "fp16"] = "fp32"
    threshold: float | None = Field(
        None, gt=0, lt=1, description="Raw detector score at which a thing counts as present."
    )
    weak_threshold: float | None = Field(
        None, gt=0, lt=1, description="Raw score above which a detection is kept as an unsure guess."
    )
    allow_download: bool = Field(False, description="Let transformers fetch model ids not cached.")
    template: str = Field("{}", description="Text query template for OWL, e.g. 'a photo of a {}'.")
    max_side: int = Field(640, ge=32)
    cache_bytes: int = Field(256 * 2**20, ge=0, description="Per-image analysis cache (lite).")
    feature_cache_bytes: int = Field(1 << 30, ge=0, description="Per-image model features cache.")
    ocr: bool = True
    progress: bool = True


class OpenVocabBackend(LiteBackend):
    """Open-vocabulary detection (OWLv2 / Grounding DINO) + SAM masks, with lite's cues and answers."""

    name = "openvocab"

    def __init__(self, model: str | None = None, *, model_dir: str | None = None, **options: Any) -> None:
        """Keyword options as :class:`OpenVocabOptions`; ``model_dir`` (``--model-dir``) is another
        name for ``model``. Options of other backends are refused with a one-line message."""
        if model is not None and model_dir is not None and str(model) != str(model_dir):
            raise BadInputError("openvocab: give --model or --model-dir, not both")
        location = model if model is not None else model_dir
        if location is not None:
            options["model"] = str(location)
        try:
            self.options = OpenVocabOptions(**options)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "options"
            if first.get("type") == "extra_forbidden":
                raise BadInputError(
                    f"openvocab: option '{where}' does not apply to this backend"
                ) from None
            raise BadInputError(f"openvocab: bad option '{where}': {first.get('msg')}") from None
        o = self.options
        super().__init__(max_side=o.max_side, cache_bytes=o.cache_bytes, ocr=o.ocr, objects=False)
        self.finder = OpenVocabFinder(None)  # until load(): the models load at start-up
        self.source: OpenVocabObjects | None = None
        self._load_lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------------
    def load(self) -> OpenVocabObjects:
        """Load the detector and SAM (idempotent) with a progress bar, and warm OCR; one-line errors."""
        with self._load_lock:
            if self.source is None:
                self.source = self._load()
                self.finder = OpenVocabFinder(self.source)  # no saliency guess: any noun is findable
                self.parts = parts.PartFinder(self.source)
            return self.source

    def _load(self) -> OpenVocabObjects:
        from tools.backends.promptable.loading import check_sam_location, model_source

        o = self.options
        model_source(o.model, what="detector", flag="--model", backend=self.name)
        if o.sam is not None:
            check_sam_location(o.sam, backend=self.name)
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
            from tqdm.auto import tqdm

            from tools.backends.openvocab.models import load_detector
            from tools.backends.openvocab.source import OpenVocabObjects
            from tools.backends.promptable.boxes import BoxMasks
            from tools.backends.promptable.loading import torch_device, torch_dtype
            from tools.backends.promptable.sam import load_sam
        except ImportError as exc:
            raise BackendError(
                f"the openvocab backend needs torch and transformers ({exc.name} is missing): "
                "pip install 'pixelrs[miras]'"
            ) from exc
        device = torch_device(o.device, backend=self.name)
        dtype = torch_dtype(o.dtype, backend=self.name)
        steps = 2 + (o.sam is not None)
        with tqdm(total=steps, desc="Loading openvocab models", unit="model", disable=not o.progress) as bar:
            start = time.perf_counter()
            bar.set_postfix_str(o.model)
            detector = load_detector(
                o.model, device=device, dtype=dtype, allow_download=o.allow_download, template=o.template
            )
            self.load_ms["detector_ms"] = (time.perf_counter() - start) * 1000
            bar.update(1)
            masker = None
            if o.sam is not None:
                start = time.perf_counter()
                bar.set_postfix_str(o.sam)
                masker = BoxMasks(load_sam(
                    o.sam, sam_type=o.sam_type, device=device, dtype=dtype,
                    allow_download=o.allow_download, backend=self.name,
                ))  # fmt: skip
                self.load_ms["sam_ms"] = (time.perf_counter() - start) * 1000
                bar.update(1)
            bar.set_postfix_str("OCR, U²-Net-p")
            self.ocr.warm()
            self.masker.warm()
            bar.update(1)
        calibration = Calibration.for_family(
            detector.family, threshold=o.threshold, weak=o.weak_threshold
        )
        return OpenVocabObjects(
            detector, masker, calibration, cache_bytes=o.feature_cache_bytes, salient=self.masker
        )

    def warm(self) -> None:
        """Load the models, as :meth:`load` does (the runtime calls one of them at start-up)."""
        self.load()

    # -- segmentation ----------------------------------------------------------------------------
    def segment(self, request: SegmentRequest) -> SegmentResult:
        """lite's segmentation over open-vocabulary detections, plus what the models reused."""
        source = self.load()
        start = time.perf_counter()
        result = super().segment(request)
        an = self.analysis(request.image, request.image_ref)
        state = source.state(an) if source.cached(an) else None
        cached = state is not None and state.created < start
        info: dict[str, Any] = {
            "detector": source.detector.family,
            "masker": source.masker.family if source.masker is not None else "u2netp",
            "image_features_cached": cached if state is not None else None,
            "calibration": {
                "weak": source.calibration.weak,
                "present": source.calibration.present,
                "sure": source.calibration.sure,
            },
        }
        if state is not None and not cached:
            info["encode_ms"] = round(state.encode_ms, 1)
            if state.sam.image is not None:
                info["sam_embed_ms"] = round(state.sam.embed_ms, 1)
        result.evidence["openvocab"] = info
        return result
