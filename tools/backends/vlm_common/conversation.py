"""The llava_v1 conversation template (MIRAS_REFERENCE C.8) and image-aware tokenization."""

from __future__ import annotations

from collections.abc import Sequence

from transformers import PreTrainedTokenizerBase

from .config import IMAGE_PLACEHOLDER

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


def tokenize_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str) -> list[int]:
    """Tokenize with BOS, replacing each ``<image>`` with ``IMAGE_PLACEHOLDER`` (-200)."""
    ids: list[int] = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    for i, chunk in enumerate(prompt.split(IMAGE_TOKEN)):
        if i:
            ids.append(IMAGE_PLACEHOLDER)
        if chunk:
            ids.extend(tokenizer(chunk, add_special_tokens=False)["input_ids"])
    return ids
