"""The backend object (tools-facing protocol) shared by ``MirasBackend`` and ``LisaBackend``.

One generation serves both tools of a turn: ``segment`` generates the answer (streaming it to
``request.on_text``), decodes one mask per ``[SEG]`` and returns the text in
``SegmentResult.text``; ``explain`` then streams that text. When a turn did not segment,
``explain`` generates a text-only answer (``[SEG]`` banned) and streams it token by token.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch

from agent.errors import BackendError, PixelrsError
from agent.types import DialogueTurn, Mask, MaskOut

from ..base import ExplainRequest, SegmentRequest, SegmentResult
from .config import SegPosition, Variant
from .engine import DecodeMode, SegVLMPredictor, TurnOutput
from .generation import GenerationParams
from .loader import load_model

logger = logging.getLogger(__name__)


def dialogue_pairs(dialogue: list[DialogueTurn]) -> list[tuple[str, str]]:
    """``DialogueTurn`` list -> ``(role, text)`` pairs for the prompt builder."""
    return [(t.role, t.text) for t in dialogue if t.text is not None]


class SegVLMBackend:
    """A ``[SEG]``-to-SAM model (MIRAS or LISA) behind the backend protocol.

    Arguments:
      model_dir: checkpoint directory (config.json, weights, tokenizer).
      clip, convnext, sam: tower locations overriding the paths stored in config.json.
      dtype: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
      device: where the model runs (``"cpu"``, ``"cuda:0"``, ...).
      device_map: ``"auto"`` or a prefix -> device dict to split the LM over several GPUs.
      load_in_4bit, load_in_8bit: quantise the LM's linears with bitsandbytes (if installed).
      im_start_end: wrap the image in ``<im_start>``/``<im_end>`` (default: as the authors' runtime
        does, True, whatever config.json says; see :mod:`.runtime_values`).
      aux_image_size: ConvNeXt input side for MIRAS (default: the runtime's 768).
      max_new_tokens: generation budget per turn.
      seg_position: ``"predicting"`` or ``"authors_offset"`` (default: the variant's).
      cache_bytes: byte budget of the per-image and per-session caches.
      decode: ``"auto"`` (CUDA graphs on a single CUDA device, else eager), ``"eager"``,
        ``"graphs"`` or ``"static"``.
      generation: further :class:`GenerationParams` fields (do_sample, temperature, ...).
      lazy: load on first use (default) instead of in the constructor.
      predictor: an already-built predictor (tests); the loading arguments are then ignored.
    """

    name: ClassVar[str] = "segvlm"
    variant: ClassVar[Variant] = "miras"

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        clip: str | os.PathLike[str] | None = None,
        convnext: str | os.PathLike[str] | None = None,
        sam: str | os.PathLike[str] | None = None,
        dtype: str = "fp32",
        device: str = "cpu",
        device_map: str | dict[str, str] | None = None,
        load_in_4bit: bool = False,
        load_in_8bit: bool = False,
        im_start_end: bool | None = None,
        aux_image_size: int | None = None,
        max_new_tokens: int = 128,
        seg_position: SegPosition | None = None,
        cache_bytes: int = 4 << 30,
        decode: DecodeMode = "auto",
        generation: dict[str, Any] | None = None,
        lazy: bool = True,
        predictor: SegVLMPredictor | None = None,
        progress: bool = True,
    ) -> None:
        self._load_kwargs: dict[str, Any] = dict(
            clip=clip, convnext=convnext, sam=sam, dtype=dtype, device=device, device_map=device_map,
            load_in_4bit=load_in_4bit, load_in_8bit=load_in_8bit, progress=progress,
            im_start_end=im_start_end, aux_image_size=aux_image_size,
        )
        self.model_dir = model_dir
        self.seg_position = seg_position
        self.cache_bytes = cache_bytes
        self.decode = decode
        try:
            self.generation = GenerationParams().updated(max_new_tokens=max_new_tokens, **(generation or {}))
        except ValueError as exc:
            raise BackendError(str(exc)) from exc
        self._predictor = predictor
        self._lock = threading.RLock()
        if predictor is None and not lazy:
            self.load()

    # -- loading ------------------------------------------------------------------------------

    def load(self) -> SegVLMPredictor:
        """Load the checkpoint now (idempotent) and return the predictor."""
        with self._lock:
            if self._predictor is None:
                if self.model_dir is None:
                    raise BackendError(f"the {self.name} backend needs --model-dir DIR (a checkpoint directory)")
                loaded = load_model(self.model_dir, variant=self.variant, **self._load_kwargs)
                try:
                    self._predictor = SegVLMPredictor(
                        loaded, seg_position=self.seg_position, cache_bytes=self.cache_bytes,
                        generation=self.generation, decode=self.decode,
                    )
                except ValueError as exc:  # e.g. --decode graphs without a CUDA device
                    raise BackendError(str(exc)) from exc
            return self._predictor

    def chat_model(self, *, max_new_tokens: int = 256) -> Any:
        """Return this backend's language model as a LangChain chat model (the ``llm`` tracker's
        ``--llm backend``); loads the checkpoint if it is not loaded yet."""
        from .chat import SegVLMChatModel

        return SegVLMChatModel(predictor=self.load(), max_new_tokens=max_new_tokens)

    @property
    def predictor(self) -> SegVLMPredictor:
        """The loaded predictor (loads on first access)."""
        return self.load()

    @property
    def device(self) -> torch.device:
        """Device of the model's token embeddings."""
        return self.predictor.device

    # -- protocol -------------------------------------------------------------------------------

    def segment(self, request: SegmentRequest) -> SegmentResult:
        """Generate this turn's answer, stream it, and decode one mask per ``[SEG]``."""
        start = time.perf_counter()
        with self._lock:
            try:
                pred = self.predictor
                turn = pred.start_turn(
                    request.image, request.image_ref.sha256, dialogue_pairs(request.dialogue),
                    session_id=request.session_id,
                )
                with turn:  # a raising on_text (a stopped turn) ends the generation cleanly
                    for chunk in turn:
                        if request.on_text is not None:
                            request.on_text(chunk)
                out = turn.result
                assert out is not None
                decoded = pred.masks(request.image, request.image_ref.sha256, out.seg_hidden, request.prompts)
            except PixelrsError:
                raise
            except (RuntimeError, ValueError, torch.cuda.OutOfMemoryError) as exc:
                raise BackendError(f"{self.name} failed: {exc}") from exc
        label = request.intent.target or "[SEG]"
        masks = [
            MaskOut(
                mask=Mask(m), label=label, score=score, source="model",
                extra={"seg_index": i, "from_seg_token": out.seg_hidden is not None,
                       "hidden_position": out.embed_indices[i] if i < len(out.embed_indices) else None},
            )
            for i, (m, _prob, score) in enumerate(decoded)
        ]
        return SegmentResult(
            masks=masks, text=out.text, evidence=self._evidence(out, request),
            backend_ms=(time.perf_counter() - start) * 1000.0,
        )

    def explain(self, request: ExplainRequest) -> Iterator[str]:
        """Stream the turn's text: the segment generation's when there is one, else a new
        text-only generation token by token."""
        if request.result is not None and request.result.text:
            words = request.result.text.split(" ")
            for i, word in enumerate(words):
                yield word if i == 0 else " " + word
            return
        with self._lock:
            try:
                turn = self.predictor.start_turn(
                    request.image, request.image_ref.sha256, dialogue_pairs(request.dialogue),
                    session_id=request.session_id, ban_seg=True,
                )
                yield from turn  # closing this generator closes the generation too (yield from delegates)
            except PixelrsError:
                raise
            except (RuntimeError, ValueError, torch.cuda.OutOfMemoryError) as exc:
                raise BackendError(f"{self.name} failed: {exc}") from exc

    def forget_session(self, session_id: str) -> None:
        """Drop the session's KV cache."""
        if self._predictor is not None:
            with self._lock:
                self._predictor.forget(session_id)

    # -- helpers --------------------------------------------------------------------------------

    def _evidence(self, out: TurnOutput, request: SegmentRequest) -> dict[str, Any]:
        return {
            "backend": self.name,
            "seg_tokens": len(out.seg_positions),
            "position_rule": out.position_rule,
            "hidden_positions": out.embed_indices,
            "prompt_tokens": out.prompt_tokens,
            "reused_prompt_tokens": out.reused_tokens,
            "image_cache_hit": out.image_cache_hit,
            "user_prompts": not request.prompts.empty,
        }


def as_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """Validate an (H, W, 3) uint8 image."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise BackendError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    return image
