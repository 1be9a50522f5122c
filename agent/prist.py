"""PRIST dialogues: the data model, a loader with one-line errors, and the tracker's inputs.

A PRIST file (``PRIST/test.json`` of the paper's repository, ``prist_dev.json`` here) is a JSON
list of ``{"img_id", "dialogue": [{"from": "human"|"gpt", "value"}...], "focus"}``. The last
human turn is a fixed "segment the conversation above" request and the last gpt turn holds
``[SEG]``; ``focus`` names the one object the final mask covers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.errors import BadInputError
from agent.types import DialogueTurn

SEG_TOKEN = "[SEG]"


class PristMessage(BaseModel):
    """One message of a PRIST dialogue."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    speaker: Literal["human", "gpt"] = Field(alias="from")
    value: str


class PristDialogue(BaseModel):
    """One PRIST item: an image id, the dialogue, and the focus (target) phrase."""

    model_config = ConfigDict(frozen=True)

    img_id: str = Field(min_length=1)
    dialogue: list[PristMessage] = Field(min_length=1)
    focus: str

    @field_validator("dialogue")
    @classmethod
    def _has_user_turn(cls, value: list[PristMessage]) -> list[PristMessage]:
        if not any(m.speaker == "human" for m in value):
            raise ValueError("the dialogue has no human turn")
        return value

    def turns(self) -> list[DialogueTurn]:
        """Return the dialogue as :class:`agent.types.DialogueTurn` objects (all messages)."""
        return [
            DialogueTurn(role="user" if m.speaker == "human" else "assistant", text=m.value)
            for m in self.dialogue
        ]


@dataclass(frozen=True)
class TrackerTurn:
    """One user turn fed to a tracker, and the recorded answer that followed it (if used)."""

    user: str
    answer: str | None


def tracker_turns(item: PristDialogue) -> list[TrackerTurn]:
    """User turns in order, each with the recorded answer after it.

    The answer to the final segmentation request (the one holding ``[SEG]``) is left out
    (``None``): it is the model's output, not an input. A user turn with no answer after it
    also gets ``None``.
    """
    out: list[TrackerTurn] = []
    msgs = item.dialogue
    for i, msg in enumerate(msgs):
        if msg.speaker != "human":
            continue
        nxt = msgs[i + 1] if i + 1 < len(msgs) else None
        answer = nxt.value if nxt is not None and nxt.speaker == "gpt" else None
        if answer is not None and SEG_TOKEN in answer:
            answer = None
        out.append(TrackerTurn(user=msg.value, answer=answer))
    return out


def load_prist(path: str | Path) -> list[PristDialogue]:
    """Read a PRIST JSON file; raise :class:`BadInputError` with a one-line reason if unusable."""
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"PRIST file not found: {p}")
    if not p.is_file():
        raise BadInputError(f"PRIST path is not a file: {p}")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{p} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read {p}: {exc}") from None
    if not isinstance(raw, list):
        raise BadInputError(f"{p}: expected a JSON list of dialogues, got {type(raw).__name__}")
    items: list[PristDialogue] = []
    for i, obj in enumerate(raw):
        try:
            items.append(PristDialogue.model_validate(obj))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "item"
            raise BadInputError(f"{p}: dialogue {i}: {where}: {err['msg']}") from None
    return items


__all__ = [
    "PristDialogue",
    "PristMessage",
    "SEG_TOKEN",
    "TrackerTurn",
    "load_prist",
    "tracker_turns",
]
