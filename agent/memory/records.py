"""Plain, frozen records returned by :class:`~agent.memory.Memory` (never ORM instances)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from agent.types import Act, DialogueTurn, Intent, Mask, MaskOut

PICKED_WITHIN = 3
"""How many answers back the masks of several things may have been shown for the current mask to
count as picked from them (:attr:`Recall.picked_from`): "the left one", "no, the other one", "no, the
left one after all"."""


def parse_act(value: str | None) -> Act | None:
    """Return the :class:`Act` named by ``value``, or None for empty/unknown values."""
    if not value:
        return None
    try:
        return Act(value)
    except ValueError:
        return None


def in_dialogue(role: str, status: str) -> bool:
    """Whether a stored message is part of the conversation: every answer, and answered user turns."""
    return role == "assistant" or status == "ok"


def dialogue_turn(role: str, text: str, act: str | None) -> DialogueTurn:
    """Return a stored message as the tracker and backends see it (our own rows: no re-validation)."""
    return DialogueTurn.model_construct(
        role="user" if role == "user" else "assistant", text=text, act=parse_act(act)
    )


@dataclass(frozen=True)
class SessionRecord:
    """A session's own columns."""

    id: str
    owner: str | None
    title: str | None
    backend: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SessionSummary:
    """One row of the session list: the session plus its user-turn count and first image."""

    id: str
    title: str | None
    owner: str | None
    backend: str
    created_at: datetime
    updated_at: datetime
    turn_count: int
    thumbnail_sha: str | None


@dataclass(frozen=True)
class MaskRecord:
    """A stored mask (COCO RLE) with the turn it belongs to."""

    id: int
    turn_id: int
    turn_index: int
    label: str
    rle: dict[str, Any]
    area: int
    bbox: tuple[int, int, int, int]
    score: float | None
    source: str
    role: str = "target"
    """``target``, ``instance`` or ``alternative`` (see :class:`agent.types.MaskOut`)."""

    def mask(self) -> Mask:
        """Decode the RLE back into a boolean mask."""
        return Mask.from_rle(self.rle)

    def to_mask_out(self) -> MaskOut:
        """Rebuild the :class:`MaskOut` the backend produced, with its database id."""
        return MaskOut(
            mask=self.mask(), label=self.label, score=self.score,
            source="user-edit" if self.source == "user-edit" else "model", id=self.id,
            role=_role(self.role),
        )


@dataclass(frozen=True)
class ToolCallIn:
    """A tool call to record with an assistant turn."""

    tool: str
    args: dict[str, Any]
    duration_ms: float
    status: str = "ok"
    error: str | None = None


@dataclass(frozen=True)
class ToolCallRecord:
    """A stored tool call."""

    id: int
    turn_id: int
    tool: str
    args: dict[str, Any]
    duration_ms: float
    status: str
    error: str | None


@dataclass(frozen=True)
class TurnRecord:
    """One stored message with the masks, intent and tool calls attached to it."""

    id: int
    session_id: str
    index: int
    role: str
    text: str
    act: str | None
    status: str
    error: str | None
    image_sha: str | None
    latency_ms: float | None
    created_at: datetime
    masks: list[MaskRecord] = field(default_factory=list)
    intent: Intent | None = None
    tool_calls: list[ToolCallRecord] = field(default_factory=list)


@dataclass(frozen=True)
class SessionHistory:
    """A session with all of its turns in order, plus the derived current image/intent/mask."""

    session: SessionRecord
    turns: list[TurnRecord]

    @property
    def current_image_sha(self) -> str | None:
        """The image attached to the latest user turn that has one."""
        for turn in reversed(self.turns):
            if turn.role == "user" and turn.image_sha:
                return turn.image_sha
        return None

    @property
    def current_intent(self) -> Intent | None:
        """The intent of the latest completed assistant turn that stored one."""
        for turn in reversed(self.turns):
            if turn.role == "assistant" and turn.status == "ok" and turn.intent is not None:
                return turn.intent
        return None

    @property
    def masks(self) -> list[MaskRecord]:
        """Every mask of the session, in turn order."""
        return [m for turn in self.turns for m in turn.masks]

    @property
    def current_mask(self) -> MaskRecord | None:
        """The mask the current intent points to, else the latest mask of a completed turn."""
        intent = self.current_intent
        if intent is not None and intent.mask_id is not None:
            for mask in self.masks:
                if mask.id == intent.mask_id:
                    return mask
        for turn in reversed(self.turns):
            if turn.status == "ok" and turn.masks:
                return turn.masks[-1]
        return None

    @property
    def current_instances(self) -> tuple[MaskRecord, ...]:
        """One mask per thing when the current mask is the union of several targets, else empty."""
        mask = self.current_mask
        if mask is None or mask.role != "target":
            return ()
        return tuple(m for m in self.masks if m.turn_id == mask.turn_id and m.role == "instance")

    @property
    def picked_from(self) -> tuple[MaskRecord, ...]:
        """The masks of several things shown in one of the few answers before the current mask's
        (:data:`PICKED_WITHIN`, the latest), when the current mask is one thing made on the same
        image: what it was probably picked from ("just the left one" after "both cups"), so that
        "no, the other one" can pick again among them."""
        mask = self.current_mask
        if mask is None or mask.role != "target" or self.current_instances:
            return ()
        index_of = {t.id: t.index for t in self.turns}
        low, high = mask.turn_index - 2 * PICKED_WITHIN, mask.turn_index - 2
        shown = [m for m in self.masks if m.role == "instance" and low <= index_of[m.turn_id] <= high]
        if not shown:
            return ()
        at = max(index_of[m.turn_id] for m in shown)
        if any(t.role == "user" and t.image_sha and at < t.index <= mask.turn_index for t in self.turns):
            return ()  # a photo attached since: those masks were of another one
        return tuple(m for m in shown if index_of[m.turn_id] == at)

    @property
    def current_mask_image_sha(self) -> str | None:
        """The image the current mask was made on: the last image a user turn up to its turn attached."""
        mask = self.current_mask
        if mask is None:
            return None
        shas = [
            t.image_sha
            for t in self.turns
            if t.role == "user" and t.image_sha and t.index <= mask.turn_index
        ]
        return shas[-1] if shas else None

    @property
    def next_index(self) -> int:
        """The index the next turn will get."""
        return max((t.index for t in self.turns), default=-1) + 1

    def dialogue(self) -> list[DialogueTurn]:
        """Return the conversation for the tracker/backends: completed user turns and all replies."""
        return [
            dialogue_turn(t.role, t.text, t.act)
            for t in self.turns
            if in_dialogue(t.role, t.status)
        ]


@dataclass(frozen=True)
class Recall:
    """What a new turn needs from memory, loaded at a cost that does not grow with masks/intents.

    The dialogue holds every completed message (text only); the intent and mask are just the
    current ones. Same semantics as the matching :class:`SessionHistory` properties.
    """

    session: SessionRecord
    dialogue: list[DialogueTurn]
    current_image_sha: str | None
    current_intent: Intent | None
    current_mask: MaskRecord | None
    current_mask_image_sha: str | None
    """The image the current mask was made on (the one in effect at its turn)."""
    next_index: int
    current_instances: tuple[MaskRecord, ...] = ()
    """One mask per thing when the current mask is the union of several targets, else empty."""
    picked_from: tuple[MaskRecord, ...] = ()
    """The masks of several things the current mask was probably picked from (shown within the
    :data:`PICKED_WITHIN` answers before its own, on the same photo), else empty."""


def _role(value: str) -> Literal["target", "instance", "alternative"]:
    """Narrow a stored role to the literal type (the database's check constraint allows only these)."""
    if value == "instance":
        return "instance"
    return "alternative" if value == "alternative" else "target"
