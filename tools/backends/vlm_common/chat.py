"""The MIRAS/LISA language model as a LangChain chat model, so it can track intents.

When the MIRAS or LISA backend is loaded, its language model can serve as the ``llm`` intent
tracker (``--tracker llm --llm backend``): :class:`SegVLMChatModel` renders the messages as one
user turn of the model's own (llava_v1) template without an image and decodes greedily with a
fresh KV cache, ``[SEG]`` and special tokens banned. It cannot call tools, so the tracker asks
for the intent as JSON in the prompt and validates the reply (falling back to the offline rules
when the reply is not valid JSON, e.g. from a model with random weights).
"""

from __future__ import annotations

from typing import Any

import torch
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict

from .kv import KVCache


@torch.no_grad()
def generate_text(predictor: Any, prompt: str, *, max_new_tokens: int = 256) -> str:
    """Greedy text-only answer of the predictor's language model to one user ``prompt``."""
    model, tok = predictor.model, predictor.tokenizer
    ids = predictor.prompt_ids([("user", prompt)], with_image=False)
    cache = KVCache()
    hidden = model.forward_embeds(model.embed(ids, None), cache, 0)[0]
    logits = model.logits(hidden[-1:])[0]
    eos = int(tok.eos_token_id)
    banned = sorted((set(tok.all_special_ids) - {eos}) | {int(predictor.seg_token_idx)})
    out: list[int] = []
    position = len(ids)
    for _ in range(max_new_tokens):
        logits[banned] = -float("inf")
        token = int(logits.argmax())
        if token == eos:
            break
        out.append(token)
        hidden = model.forward_embeds(model.embed([token], None), cache, position)[0]
        position += 1
        logits = model.logits(hidden[-1:])[0]
    return str(tok.decode(out, skip_special_tokens=True, clean_up_tokenization_spaces=False)).strip()


class SegVLMChatModel(BaseChatModel):
    """A loaded MIRAS/LISA predictor's language model behind LangChain's chat-model interface."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    predictor: Any
    """The backend's :class:`~tools.backends.vlm_common.engine.SegVLMPredictor`."""
    max_new_tokens: int = 256

    @property
    def _llm_type(self) -> str:
        return "pixelrs-segvlm"

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        prompt = "\n\n".join(str(m.content) for m in messages)
        text = generate_text(self.predictor, prompt, max_new_tokens=self.max_new_tokens)
        for marker in stop or ():
            text = text.split(marker, 1)[0]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


__all__ = ["SegVLMChatModel", "generate_text"]
