"""Generation settings, honoured (the authors' ``generate`` drops them; G.2 item 2)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from transformers.generation.logits_process import (
    LogitsProcessor,
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings for one turn (greedy by default, as the authors intended, C.8).

    Arguments:
      max_new_tokens: upper bound on generated tokens (128 in the authors' chat script).
      min_new_tokens: end-of-sequence is suppressed before this many tokens.
      do_sample: sample instead of greedy argmax.
      temperature, top_k, top_p: sampling warpers (used only when ``do_sample``).
      repetition_penalty: CTRL-style penalty (1.0 = off).
      num_beams: only 1 is supported (beam search is rejected with a clear error).
      seed: seeds a private generator for sampling.
      logits_processor: extra ``LogitsProcessor`` objects, called with (ids, scores) where ids are
        the prompt's text ids (image placeholder removed) plus the tokens generated so far.
      stop_token_ids: extra ids that end generation (the tokenizer's EOS always does).
    """

    max_new_tokens: int = 128
    min_new_tokens: int = 0
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    num_beams: int = 1
    seed: int | None = None
    logits_processor: tuple[Any, ...] = ()
    stop_token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.num_beams != 1:
            raise ValueError("beam search is not supported by this backend; use num_beams=1")
        if self.do_sample and self.temperature <= 0:
            raise ValueError("temperature must be > 0 when sampling")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")

    def updated(self, **changes: Any) -> GenerationParams:
        """Return a copy with ``changes`` (unknown names raise ``ValueError``)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown generation argument(s): {', '.join(unknown)}")
        if "logits_processor" in changes and changes["logits_processor"] is not None:
            changes["logits_processor"] = tuple(changes["logits_processor"])
        if "stop_token_ids" in changes and changes["stop_token_ids"] is not None:
            changes["stop_token_ids"] = tuple(changes["stop_token_ids"])
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


class _MinNewTokens(LogitsProcessor):
    def __init__(self, prompt_len: int, min_new: int, eos_ids: list[int]) -> None:
        self.prompt_len, self.min_new, self.eos_ids = prompt_len, min_new, eos_ids

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[1] - self.prompt_len < self.min_new:
            scores[:, self.eos_ids] = -float("inf")
        return scores


class _BanTokens(LogitsProcessor):
    def __init__(self, ids: list[int]) -> None:
        self.ids = ids

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores[:, self.ids] = -float("inf")
        return scores


class TokenSampler:
    """Turns next-token logits into a token id following :class:`GenerationParams`."""

    def __init__(self, params: GenerationParams, *, prompt_len: int, eos_ids: list[int],
                 ban_ids: list[int] | None = None) -> None:
        self.params = params
        procs = LogitsProcessorList()
        if params.repetition_penalty != 1.0:
            procs.append(RepetitionPenaltyLogitsProcessor(params.repetition_penalty))
        if params.min_new_tokens > 0:
            procs.append(_MinNewTokens(prompt_len, params.min_new_tokens, eos_ids))
        if ban_ids:
            procs.append(_BanTokens(ban_ids))
        procs.extend(params.logits_processor)
        if params.do_sample:
            if params.temperature != 1.0:
                procs.append(TemperatureLogitsWarper(params.temperature))
            if params.top_k > 0:
                procs.append(TopKLogitsWarper(params.top_k))
            if params.top_p < 1.0:
                procs.append(TopPLogitsWarper(params.top_p))
        self.processors = procs
        self.generator: torch.Generator | None = None
        if params.do_sample and params.seed is not None:
            self.generator = torch.Generator().manual_seed(params.seed)

    def __call__(self, ids: list[int], logits: torch.Tensor) -> int:
        """Pick the next token given all text ids so far and (vocab,) fp32 logits."""
        scores = logits.detach().float().cpu().view(1, -1).clone()
        input_ids = torch.tensor([ids], dtype=torch.long)
        scores = self.processors(input_ids, scores)  # type: ignore[arg-type]
        if self.params.do_sample:
            probs = scores.softmax(-1)
            return int(torch.multinomial(probs, 1, generator=self.generator).item())
        return int(scores.argmax(-1).item())
