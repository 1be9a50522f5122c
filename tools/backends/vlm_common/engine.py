"""The predictor: multi-turn generation with per-image and per-session caches, and SAM masks.

Per image (keyed by the image's sha256) the CLIP/ConvNeXt image tokens are computed once, and
SAM's image embedding once, the first time a ``[SEG]`` (or a user click/box) needs it. Per
session the KV cache of everything processed so far is kept with the token ids it covers; a new
turn reuses the longest common prefix of those ids and the new prompt (same image required past
the ``<image>`` placeholder) and prefills only the rest, so an edited history or a changed image
is handled by recomputing from the first difference. Both caches share one byte-bounded LRU.

``[SEG]`` position rules (``seg_position``), for a ``[SEG]`` at expanded position ``p``:

* ``"predicting"`` (LISA's rule): the final hidden state at ``p - 1``, whose next-token logits
  produced ``[SEG]``.
* ``"authors_offset"``: the state the authors' *training* code fed to SAM. It builds the mask
  ``input_ids[:, 1:] == [SEG]`` over the unexpanded ids and prepends ``A - 1 = 255`` zeros (LISA's
  hack, which assumes ``A = 256`` image tokens), then indexes the expanded hidden states with it.
  With one image of ``N`` tokens before ``[SEG]`` that selects ``p - 1 - (N - A)``: 320 positions
  earlier for MIRAS (N = 576), the same as "predicting" for LISA (N = 256). Without an image
  before ``[SEG]`` the shift is ``-(A - 1)``, i.e. a position in the future, which causal
  teacher forcing cannot reproduce; such a ``[SEG]`` (and any index outside ``[0, p - 1]``)
  falls back to "predicting" with a warning.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from segment_anything.utils.transforms import ResizeLongestSide

from agent.cache import ByteLRU
from agent.types import Prompts

from .config import IMAGE_PLACEHOLDER, SegPosition
from .conversation import build_prompt, tokenize_prompt
from .generation import GenerationParams, TokenSampler
from .kv import HiddenBuffer, KVCache
from .loader import LoadedModel
from .preprocess import preprocess_clip, preprocess_mgm, preprocess_sam
from .static_decode import StaticDecoder

logger = logging.getLogger(__name__)

DecodeMode = Literal["auto", "eager", "static", "graphs"]
"""How tokens are decoded: ``"eager"`` one dynamic forward per token; ``"graphs"`` fixed-shape steps
replayed as CUDA graphs (:mod:`.static_decode`); ``"static"`` the same fixed-shape steps run eagerly
(for checking the graphs); ``"auto"`` = graphs when the language model sits unquantized on one CUDA
device, else eager."""


def seg_embedding_index(
    position: int,
    rule: SegPosition,
    *,
    image_start: int | None,
    n_image: int,
    assumed_image_tokens: int = 256,
) -> int:
    """Return the expanded position whose final hidden state becomes the ``[SEG]`` embedding.

    Arguments:
      position: expanded position of the ``[SEG]`` token.
      rule: ``"predicting"`` -> ``position - 1``; ``"authors_offset"`` -> ``position - 1 -
        (n_image - assumed_image_tokens)`` when an image starts before ``position`` (MIRAS-7B:
        320 earlier), falling back to ``position - 1`` when that is outside ``[0, position - 1]``
        or no image precedes the ``[SEG]``.
      image_start: expanded position of the first image token (``None`` without an image).
      n_image: image tokens inserted for the placeholder.
      assumed_image_tokens: what the authors' hack assumed (LISA's 256).
    """
    predicting = position - 1
    if rule == "predicting" or image_start is None or image_start >= position:
        return predicting
    index = predicting - (n_image - assumed_image_tokens)
    return index if 0 <= index <= predicting else predicting


def _nbytes(t: torch.Tensor | None) -> int:
    return 0 if t is None else t.numel() * t.element_size()


@dataclass
class ImageEntry:
    """Cached per-image features."""

    tokens: torch.Tensor
    """(N, hidden) image embeddings for the LM."""
    sam_embedding: torch.Tensor | None = None
    """(1, 256, 64, 64) SAM image embedding (computed on first use)."""
    sam_input_size: tuple[int, int] | None = None
    original_size: tuple[int, int] = (0, 0)

    def nbytes(self) -> int:
        """Bytes held."""
        return _nbytes(self.tokens) + _nbytes(self.sam_embedding)


@dataclass
class SessionState:
    """The KV cache of a session and the unexpanded ids it covers."""

    ids: list[int] = field(default_factory=list)
    image_sha: str | None = None
    image_pos: int | None = None
    n_image: int = 0
    kv: KVCache = field(default_factory=KVCache)
    hidden: HiddenBuffer = field(default_factory=HiddenBuffer)

    def expanded(self, k: int) -> int:
        """Return the expanded length of the first ``k`` unexpanded ids."""
        if self.image_pos is None or k <= self.image_pos:
            return k
        return k + self.n_image - 1

    def nbytes(self) -> int:
        """Bytes held."""
        return self.kv.nbytes() + self.hidden.nbytes() + 8 * len(self.ids)


@dataclass
class TurnOutput:
    """What one generation produced."""

    text: str
    token_ids: list[int]
    """Generated ids (including a final EOS when one was produced)."""
    seg_positions: list[int]
    """Expanded positions at which ``[SEG]`` tokens sit."""
    embed_indices: list[int]
    """Expanded positions whose hidden states were used for each ``[SEG]``."""
    seg_hidden: torch.Tensor | None
    """(n_seg, hidden) final hidden states at ``embed_indices``."""
    position_rule: SegPosition
    prompt_tokens: int
    """Expanded prompt length."""
    reused_tokens: int
    """Expanded prompt positions taken from the session's KV cache."""
    image_cache_hit: bool
    image_sha: str


class Turn:
    """An iterable over text chunks of one generation; ``result`` is set once it is exhausted."""

    def __init__(self, gen: Iterator[str]) -> None:
        self._gen = gen
        self.result: TurnOutput | None = None

    def __iter__(self) -> Iterator[str]:
        return self._gen

    def run(self) -> TurnOutput:
        """Consume the stream and return the result."""
        for _ in self._gen:
            pass
        assert self.result is not None
        return self.result

    def close(self) -> None:
        """End an unfinished generation now: the session's KV cache is kept up to the tokens
        generated so far and the decoder is released (``with turn:`` does this on any exit)."""
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Turn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SegVLMPredictor:
    """Multi-turn MIRAS/LISA inference over numpy images with caches (cf. SAM's ``SamPredictor``).

    Arguments:
      loaded: the model, tokenizer and ``[SEG]`` id from :func:`load_model`.
      seg_position: ``"predicting"`` or ``"authors_offset"``; default: the config's (MIRAS:
        authors_offset, what its checkpoints were trained with; LISA: predicting).
      cache_bytes: byte budget shared by the image and session caches.
      generation: default :class:`GenerationParams`.
      decode: ``"auto"``, ``"eager"``, ``"static"`` or ``"graphs"`` (see :data:`DecodeMode`).
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        seg_position: SegPosition | None = None,
        cache_bytes: int = 4 << 30,
        generation: GenerationParams | None = None,
        decode: DecodeMode = "auto",
    ) -> None:
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.config = loaded.config
        self.seg_token_idx = loaded.seg_token_idx
        self.seg_position: SegPosition = seg_position or self.config.seg_position
        if self.seg_position not in ("predicting", "authors_offset"):
            raise ValueError(f"unknown [SEG] position rule {self.seg_position!r}")
        self.cache = ByteLRU(cache_bytes)
        self.generation = generation or GenerationParams()
        self.stats = {"image_encodes": 0, "sam_encodes": 0, "mask_decodes": 0, "prefill_tokens": 0}
        self.decoder = self._static_decoder(decode)
        self._decoder_lock = threading.Lock()

    def _static_decoder(self, mode: DecodeMode) -> StaticDecoder | None:
        if mode not in ("auto", "eager", "static", "graphs"):
            raise ValueError(f"unknown decode mode {mode!r}; use auto, eager, static or graphs")
        if mode == "eager":
            return None
        if mode == "auto":
            if self.model.device.type != "cuda" or not StaticDecoder.supports(self.model):
                return None
            mode = "graphs"
        return StaticDecoder(self.model, use_graphs=mode == "graphs")

    @property
    def device(self) -> torch.device:
        """Device of the token embeddings."""
        return self.model.device

    # -- images -----------------------------------------------------------------------------

    def image_entry(self, image: np.ndarray, sha: str, *, use_cache: bool = True) -> tuple[ImageEntry, bool]:
        """Return the per-image features (computing them on a miss) and whether it was a hit."""
        key = ("image", sha)
        entry = self.cache.get(key) if use_cache else None
        if entry is not None:
            return entry, True
        cfg = self.config
        if cfg.preprocess == "mgm":
            assert cfg.aux is not None
            clip_px, aux_px = preprocess_mgm(image, aux_size=cfg.aux.image_size, clip_size=cfg.clip_image_size)
            tokens = self.model.encode_image(clip_px, aux_px)[0]
        else:
            tokens = self.model.encode_image(preprocess_clip(image, clip_size=cfg.clip_image_size))[0]
        self.stats["image_encodes"] += 1
        entry = ImageEntry(tokens=tokens, original_size=(int(image.shape[0]), int(image.shape[1])))
        if use_cache:
            self.cache.put(key, entry, entry.nbytes())
        return entry, False

    def _sam_embedding(self, image: np.ndarray, sha: str, entry: ImageEntry, use_cache: bool) -> ImageEntry:
        if entry.sam_embedding is not None:  # a cached entry, or one the caller computed for this turn
            return entry
        px, input_size = preprocess_sam(image, size=self.config.sam.image_size)
        entry.sam_embedding = self.model.sam_image_embedding(px)
        entry.sam_input_size = input_size
        self.stats["sam_encodes"] += 1
        if use_cache and ("image", sha) in self.cache:
            self.cache.put(("image", sha), entry, entry.nbytes())
        return entry

    def encode_for_turn(self, image: np.ndarray, sha: str) -> ImageEntry:
        """Encode ``image`` once for one turn, uncached: CLIP (+ ConvNeXt) and SAM, as the authors'
        runtime does on every turn. Pass the result as ``image_entry`` to :meth:`start_turn` and
        :meth:`masks` so that neither encodes again (the recompute baseline of the benchmarks)."""
        entry, _ = self.image_entry(image, sha, use_cache=False)
        return self._sam_embedding(image, sha, entry, use_cache=False)

    # -- sessions ---------------------------------------------------------------------------

    def forget(self, session_id: str) -> None:
        """Drop the session's KV cache."""
        self.cache.pop(("session", session_id))

    def session_tokens(self, session_id: str) -> list[int] | None:
        """Return the unexpanded ids covered by a session's KV cache (None when not cached)."""
        state = self.cache.get(("session", session_id))
        return None if state is None else list(state.ids)

    # -- generation -------------------------------------------------------------------------

    def prompt_ids(self, dialogue: Sequence[tuple[str, str]], *, with_image: bool = True) -> list[int]:
        """Token ids of the llava_v1 prompt for ``dialogue`` (with the ``-200`` placeholder)."""
        prompt = build_prompt(dialogue, use_im_start_end=self.config.use_im_start_end, image=with_image)
        return tokenize_prompt(self.tokenizer, prompt, rule=self.config.tokenizer_rule)

    def start_turn(
        self,
        image: np.ndarray,
        image_sha: str,
        dialogue: Sequence[tuple[str, str]],
        *,
        session_id: str = "",
        params: GenerationParams | None = None,
        use_cache: bool = True,
        ban_seg: bool = False,
        seg_position: SegPosition | None = None,
        image_entry: ImageEntry | None = None,
    ) -> Turn:
        """Prepare one turn; iterate the returned :class:`Turn` for text chunks.

        Arguments:
          image: (H, W, 3) uint8 RGB.
          image_sha: the image's content hash (cache key).
          dialogue: ``(role, text)`` messages ending with the user's current message.
          session_id: key of the session's KV cache ("" = no cross-turn reuse).
          params: decoding settings (default: the predictor's).
          use_cache: ``False`` recomputes everything (the authors' behaviour; for benchmarks).
          ban_seg: forbid ``[SEG]`` (text-only answers).
          seg_position: override the ``[SEG]`` position rule for this turn.
          image_entry: image features already computed for this turn (:meth:`encode_for_turn`);
            used instead of the per-image cache.
        """
        turn = Turn(iter(()))
        turn._gen = self._generate(turn, image, image_sha, list(dialogue), session_id, params or self.generation,
                                   use_cache, ban_seg, seg_position or self.seg_position, image_entry)
        return turn

    @torch.no_grad()
    def _generate(
        self,
        turn: Turn,
        image: np.ndarray,
        image_sha: str,
        dialogue: list[tuple[str, str]],
        session_id: str,
        params: GenerationParams,
        use_cache: bool,
        ban_seg: bool,
        rule: SegPosition,
        given: ImageEntry | None,
    ) -> Iterator[str]:
        model, tok = self.model, self.tokenizer
        ids = self.prompt_ids(dialogue)
        placeholders = [i for i, t in enumerate(ids) if t == IMAGE_PLACEHOLDER]
        if len(placeholders) > 1:
            raise ValueError("only one <image> per conversation is supported")
        entry, hit = (given, False) if given is not None else self.image_entry(image, image_sha, use_cache=use_cache)
        n_image = int(entry.tokens.shape[0])

        key = ("session", session_id)
        state: SessionState | None = self.cache.pop(key) if (use_cache and session_id) else None
        keep = 0
        if state is not None:
            limit = min(len(state.ids), len(ids) - 1)
            while keep < limit and state.ids[keep] == ids[keep]:
                keep += 1
            if state.image_pos is not None and keep > state.image_pos and state.image_sha != image_sha:
                keep = state.image_pos
            if keep == 0:
                state = None
        if state is None:
            state = SessionState()
            keep = 0
        reused = state.expanded(keep)
        state.kv.crop(reused)
        state.hidden.crop(reused)
        state.ids = state.ids[:keep]
        state.image_pos = placeholders[0] if placeholders else None
        state.image_sha = image_sha if placeholders else None
        state.n_image = n_image

        # Prefill only what the cache does not cover.
        new_ids = ids[keep:]
        has_image = IMAGE_PLACEHOLDER in new_ids
        embeds = model.embed(new_ids, entry.tokens if has_image else None)
        hidden = model.forward_embeds(embeds, state.kv, reused)[0]
        state.hidden.append(hidden)
        state.ids.extend(new_ids)
        prompt_len = state.expanded(len(ids))
        self.stats["prefill_tokens"] += int(hidden.shape[0])
        logits = model.logits(hidden[-1:])[0]

        eos_ids = sorted({int(tok.eos_token_id), *params.stop_token_ids})  # type: ignore[arg-type]
        text_ids = [t for t in ids if t != IMAGE_PLACEHOLDER]
        banned = sorted(set(tok.all_special_ids) - set(eos_ids) | ({self.seg_token_idx} if ban_seg else set()))
        sampler = TokenSampler(params, prompt_len=len(text_ids), eos_ids=eos_ids, ban_ids=banned)
        generated: list[int] = []
        seg_positions: list[int] = []
        emitted = ""
        decoder = None
        if self.decoder is not None and self.decoder.fits(prompt_len, params.max_new_tokens):
            if self._decoder_lock.acquire(blocking=False):  # a concurrent turn decodes eagerly
                decoder = self.decoder
                decoder.load(state.kv)
        try:
            for step in range(params.max_new_tokens):
                token = sampler(text_ids + generated, logits)
                generated.append(token)
                if token in eos_ids:
                    break
                position = state.expanded(len(state.ids))
                if token == self.seg_token_idx:
                    seg_positions.append(position)
                text = self._decode(generated)
                if len(text) > len(emitted) and not text.endswith("\ufffd"):
                    yield text[len(emitted):]
                    emitted = text
                if step == params.max_new_tokens - 1:
                    break
                if decoder is not None:
                    h, logits = decoder.step(token, position)
                else:
                    h = model.forward_embeds(model.embed([token], None), state.kv, position)[0]
                    logits = model.logits(h[-1:])[0]
                state.hidden.append(h)
                state.ids.append(token)
        finally:
            if decoder is not None:
                decoder.store(state.kv)
                self._decoder_lock.release()
            if use_cache and session_id:
                self.cache.put(key, state, state.nbytes())
        text = self._decode([t for t in generated if t not in eos_ids])
        if len(text) > len(emitted):
            yield text[len(emitted):]

        indices = [self._embed_index(p, state, rule) for p in seg_positions]
        seg_hidden = torch.stack([state.hidden.get(i) for i in indices]) if indices else None
        turn.result = TurnOutput(
            text=text.strip(), token_ids=generated, seg_positions=seg_positions, embed_indices=indices,
            seg_hidden=seg_hidden, position_rule=rule, prompt_tokens=prompt_len, reused_tokens=reused,
            image_cache_hit=hit, image_sha=image_sha,
        )

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False))

    def _embed_index(self, position: int, state: SessionState, rule: SegPosition) -> int:
        image_start = state.expanded(state.image_pos) if state.image_pos is not None else None
        index = seg_embedding_index(position, rule, image_start=image_start, n_image=state.n_image,
                                    assumed_image_tokens=self.config.authors_assumed_image_tokens)
        if rule == "authors_offset" and index == position - 1 and state.n_image != self.config.authors_assumed_image_tokens:
            logger.warning("authors_offset rule: [SEG] at %d has no valid offset position; using the predicting state",
                           position)
        return index

    # -- masks ----------------------------------------------------------------------------------

    @torch.no_grad()
    def masks(
        self,
        image: np.ndarray,
        image_sha: str,
        seg_hidden: torch.Tensor | None,
        prompts: Prompts | None = None,
        *,
        use_cache: bool = True,
        image_entry: ImageEntry | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Decode masks for (n, hidden) ``[SEG]`` states plus user points/box.

        With no ``[SEG]`` state but a point/box, one prompt-only SAM mask is returned.
        ``image_entry`` (from :meth:`encode_for_turn`) supplies the SAM embedding instead of the cache.

        Returns:
          per mask: (boolean (H, W) mask, fp32 (H, W) probabilities, IoU score).
        """
        has_prompts = prompts is not None and not prompts.empty
        if (seg_hidden is None or seg_hidden.shape[0] == 0) and not has_prompts:
            return []
        entry = image_entry if image_entry is not None else self.image_entry(image, image_sha, use_cache=use_cache)[0]
        entry = self._sam_embedding(image, image_sha, entry, use_cache)
        assert entry.sam_embedding is not None and entry.sam_input_size is not None
        original = (int(image.shape[0]), int(image.shape[1]))
        transform = ResizeLongestSide(self.config.sam.image_size)
        coords = labels = box = None
        if has_prompts:
            assert prompts is not None
            if prompts.points:
                pts = np.array([[p.x, p.y] for p in prompts.points], dtype=np.float32)
                coords = torch.from_numpy(transform.apply_coords(pts, original))[None]
                labels = torch.tensor([[1 if p.positive else 0 for p in prompts.points]])
            if prompts.box is not None:
                b = prompts.box
                arr = np.array([[b.x0, b.y0, b.x1, b.y1]], dtype=np.float32)
                box = torch.from_numpy(transform.apply_boxes(arr, original))
        seg_embeds = self.model.seg_embeddings(seg_hidden) if seg_hidden is not None else None
        probs, scores = self.model.decode_masks(
            entry.sam_embedding, seg_embeds, input_size=entry.sam_input_size, original_size=original,
            point_coords=coords, point_labels=labels, box=box,
        )
        self.stats["mask_decodes"] += 1
        out = []
        for p, s in zip(probs.cpu().numpy(), scores.cpu().tolist(), strict=True):
            out.append((p > 0.5, p.astype(np.float32), float(s)))
        return out

    def describe(self) -> dict[str, Any]:
        """Short facts for logs and evidence."""
        return {"variant": self.config.variant, "position_rule": self.seg_position,
                "image_tokens": self.config.num_image_tokens, "cache_bytes": self.cache.total_bytes,
                "decode": "eager" if self.decoder is None else "graphs" if self.decoder.use_graphs else "static"}
