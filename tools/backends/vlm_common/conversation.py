"""The llava_v1 conversation template (MIRAS_REFERENCE C.8) and image-aware tokenization."""

from __future__ import annotations

import re
from collections.abc import Sequence

from transformers import PreTrainedTokenizerBase

from .config import IMAGE_PLACEHOLDER, TokenizerRule

SYSTEM = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)
IMAGE_TOKEN = "<image>"
ROLES = {"user": "USER", "assistant": "ASSISTANT"}


def build_prompt(dialogue: Sequence[tuple[str, str]], *, use_im_start_end: bool = True, image: bool = True) -> str:
    """Render the full dialogue with the llava_v1 template, ending with an open ``ASSISTANT:``.

    ``dialogue`` is ``(role, text)`` with roles ``"user"``/``"assistant"``; consecutive messages of
    one role are joined with a newline and leading assistant messages are dropped (the image
    belongs to the first user message, as in training). Finished assistant turns end with
    ``</s>``; user turns with a space (``SeparatorStyle.TWO``).
    """
    merged: list[list[str]] = []
    for role, text in dialogue:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if not merged and role == "assistant":
            continue
        if merged and merged[-1][0] == role:
            merged[-1][1] = merged[-1][1] + "\n" + text
        else:
            merged.append([role, text])
    if not merged or merged[-1][0] != "user":
        raise ValueError("the dialogue must end with a user message")
    if image:
        marker = f"<im_start>{IMAGE_TOKEN}<im_end>" if use_im_start_end else IMAGE_TOKEN
        merged[0][1] = f"{marker}\n{merged[0][1]}"
    out = SYSTEM + " "
    for role, text in merged:
        out += f"{ROLES[role]}: {text}" + (" " if role == "user" else "</s>")
    return out + "ASSISTANT:"


def tokenize_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str, *, rule: TokenizerRule = "current") -> list[int]:
    """Tokenize with BOS, replacing each ``<image>`` with ``IMAGE_PLACEHOLDER`` (-200)."""
    ids: list[int] = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    encode = _encode if rule == "current" else _encode_legacy_slow
    for i, chunk in enumerate(prompt.split(IMAGE_TOKEN)):
        if i:
            ids.append(IMAGE_PLACEHOLDER)
        if chunk:
            ids.extend(encode(tokenizer, chunk))
    return ids


def _encode(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _encode_legacy_slow(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Tokenize ``text`` as transformers <= 4.33's slow LLaMA tokenizer does (see ``TokenizerRule``)."""
    core = {t for t in (tokenizer.bos_token, tokenizer.eos_token, tokenizer.unk_token) if isinstance(t, str)}
    added = sorted((t for t in tokenizer.get_added_vocab() if t), key=len, reverse=True)
    if not added:
        return _encode(tokenizer, text)
    parts = re.split("(" + "|".join(re.escape(t) for t in added) + ")", text)
    for i, part in enumerate(parts):
        if i % 2 and part not in core:  # an added token eats the whitespace on both sides
            parts[i - 1] = parts[i - 1].rstrip()
            if i + 1 < len(parts):
                parts[i + 1] = parts[i + 1].lstrip()
    ids: list[int] = []
    for i, part in enumerate(parts):
        if i % 2:
            token_id = tokenizer.convert_tokens_to_ids(part)
            assert isinstance(token_id, int)
            ids.append(token_id)
        elif part:
            ids.extend(_encode(tokenizer, part))
    return ids
