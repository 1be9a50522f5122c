"""Core value types shared by every layer: image references, masks, intents, turns and acts."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask
from pydantic import BaseModel, ConfigDict, Field


class ImageRef(BaseModel):
    """A content-addressed image: the sha256 of its encoded bytes plus its pixel size."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    width: int
    height: int


@dataclass(frozen=True, eq=False)
class Mask:
    """A boolean pixel mask (H, W); converts to/from COCO RLE with pycocotools."""

    array: np.ndarray

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim != 2:
            raise ValueError(f"a mask must be 2-D (H, W), got shape {arr.shape}")
        # Always C-ordered bool: model code (OpenCV included) must see the same bytes whether
        # the mask came from a backend or from an RLE decode (pycocotools returns Fortran order).
        object.__setattr__(self, "array", np.ascontiguousarray(arr, dtype=bool))

    @property
    def height(self) -> int:
        """Rows of the mask."""
        return int(self.array.shape[0])

    @property
    def width(self) -> int:
        """Columns of the mask."""
        return int(self.array.shape[1])

    @property
    def area(self) -> int:
        """Number of foreground pixels."""
        return int(np.count_nonzero(self.array))

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """Tight box (x, y, w, h) around the foreground, COCO order; zeros when empty."""
        rows: np.ndarray = np.asarray(self.array.any(axis=1))
        if not rows.any():
            return (0, 0, 0, 0)
        cols: np.ndarray = np.asarray(self.array.any(axis=0))
        y0 = int(rows.argmax())
        y1 = len(rows) - int(rows[::-1].argmax())
        x0 = int(cols.argmax())
        x1 = len(cols) - int(cols[::-1].argmax())
        return (x0, y0, x1 - x0, y1 - y0)

    def to_rle(self) -> dict[str, Any]:
        """Encode as COCO RLE with a JSON-ready ``counts`` string."""
        return _json_rle(self._coco_rle())

    def encode(self) -> tuple[dict[str, Any], int, tuple[int, int, int, int]]:
        """Return :meth:`to_rle`, :attr:`area` and :attr:`bbox`, the last two read off the RLE.

        One pass over the pixels instead of three: what storing a mask needs on every turn.
        """
        rle = self._coco_rle()
        x, y, w, h = (int(v) for v in coco_mask.toBbox(rle))
        return _json_rle(rle), int(coco_mask.area(rle)), (x, y, w, h)

    def _coco_rle(self) -> dict[str, Any]:
        """pycocotools' RLE of the mask (``counts`` as bytes)."""
        import cv2  # a core dependency; imported here so loading the types stays light

        # pycocotools wants column-major bytes: OpenCV's SIMD transpose gives them ~5x faster
        # than numpy's strided copy, and ``.T`` of the (W, H) result is the Fortran-ordered view.
        column_major = cv2.transpose(self.array.view(np.uint8)).T
        return coco_mask.encode(column_major)  # type: ignore[no-any-return]

    @classmethod
    def from_rle(cls, rle: dict[str, Any]) -> Mask:
        """Decode a COCO RLE (``counts`` as str or bytes)."""
        counts = rle["counts"]
        encoded = {
            "size": list(rle["size"]),
            "counts": counts.encode("ascii") if isinstance(counts, str) else counts,
        }
        return cls(coco_mask.decode(encoded))

    def to_png(self) -> bytes:
        """Encode as a 1-bit PNG (foreground 255)."""
        buf = io.BytesIO()
        Image.fromarray(self.array.astype(np.uint8) * 255).convert("1").save(buf, format="PNG")
        return buf.getvalue()

    @classmethod
    def from_png(cls, data: bytes) -> Mask:
        """Decode a PNG written by :meth:`to_png` (any non-zero pixel is foreground)."""
        with Image.open(io.BytesIO(data)) as img:
            return cls(np.asarray(img.convert("L")) > 0)

    def iou(self, other: Mask) -> float:
        """Intersection over union with another mask of the same size (1.0 when both are empty)."""
        inter = np.logical_and(self.array, other.array).sum()
        union = np.logical_or(self.array, other.array).sum()
        return 1.0 if union == 0 else float(inter / union)


def _json_rle(rle: dict[str, Any]) -> dict[str, Any]:
    """pycocotools' RLE with plain ints and ``counts`` as an ASCII string."""
    return {
        "size": [int(rle["size"][0]), int(rle["size"][1])],
        "counts": rle["counts"].decode("ascii"),
    }


class Act(StrEnum):
    """What a user turn does; the turn graph routes on it."""

    NEW_TARGET = "new_target"
    REFINE = "refine"
    CORRECT = "correct"
    EXPLAIN = "explain"
    SEGMENT_REQUEST = "segment_request"
    CHITCHAT = "chitchat"
    RESET = "reset"
    USER_EDIT = "user_edit"

    @property
    def segments(self) -> bool:
        """Whether turns with this act produce a new mask through the segment tool."""
        return self in {Act.NEW_TARGET, Act.REFINE, Act.CORRECT, Act.SEGMENT_REQUEST, Act.USER_EDIT}


class IntentOp(StrEnum):
    """How a turn changed the tracked intent."""

    NEW = "new"
    REFINE = "refine"
    CORRECT = "correct"
    KEEP = "keep"
    RESET = "reset"


class Relation(BaseModel):
    """A spatial relation of the target to an anchor, e.g. ``next_to`` "the HDMI label"."""

    model_config = ConfigDict(frozen=True)

    kind: Literal[
        "left_of", "right_of", "above", "below", "next_to", "inside", "on", "behind", "in_front_of"
    ]
    anchor: str


class Evidence(BaseModel):
    """Words that caused (part of) an intent revision, and what they did.

    ``source`` says where the words are: ``user`` (the turn's own message), ``answer`` (the
    assistant answer just before it, which may name the target better) or ``history`` (an
    earlier revision the turn went back to; ``turn`` is then that revision's turn).
    """

    model_config = ConfigDict(frozen=True)

    turn: int
    words: str
    role: str
    """``act``, ``target``, ``colour``, ``size``, ``position``, ``ordinal``, ``count``, ``part``,
    ``text``, ``other``, ``relation``, ``exclusion``, ``kept`` (the turn changed nothing), ..."""
    source: Literal["user", "answer", "history"] = "user"


class IntentRevision(BaseModel):
    """One entry of an intent's history: the intent as it stood after a turn, and why."""

    turn: int
    op: IntentOp
    target: str | None
    attributes: dict[str, str] = Field(default_factory=dict)
    relations: list[Relation] = Field(default_factory=list)
    exclusions: list[str] = Field(default_factory=list)
    reason: str = ""
    """The tracker's short why (which tracker, and a fallback if one happened)."""
    evidence: list[Evidence] = Field(default_factory=list)
    """Which words of which turn caused this revision."""


class Intent(BaseModel):
    """What the user currently means: structured, revisable, tied to the current mask.

    ``attributes`` keys in use: ``colour``, ``text`` (words printed on the target), ``size``
    (the size word as said: ``bigger``/``smallest``/``large``/``tallest``...), ``position`` (``left``/``right``/``top``/
    ``bottom``/``center``), ``ordinal`` (``first``, ``second``, ...), ``other`` (``"yes"`` when the
    user asked for another instance than the current mask), ``count`` (how many instances are
    meant: ``"all"`` for "all the people" / "every word", a number such as ``"2"`` for "both cups"
    or "the two people"; absent means one), ``part`` (a part of the current target: a geometric
    part ``left half``/``right half``/``top half``/``bottom half``/``top``/``bottom``/``left``/
    ``right``/``center``, or a noun naming a semantic part, e.g. ``tie`` in "just his tie" or
    ``handle`` in "the handle of the cup"), ``asked`` (``exists`` when the user asked whether the
    thing is there at all: "is there a dog?").
    """

    target: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    relations: list[Relation] = Field(default_factory=list)
    exclusions: list[str] = Field(default_factory=list)
    op: IntentOp = IntentOp.NEW
    history: list[IntentRevision] = Field(default_factory=list)
    mask_id: int | None = None
    """Database id of the current mask (the last segmented or user-edited one), if any."""

    def revised(
        self,
        *,
        turn: int,
        op: IntentOp,
        reason: str = "",
        evidence: list[Evidence] | None = None,
        **changes: Any,
    ) -> Intent:
        """Return a copy with ``changes`` applied and a history entry appended for ``turn``.

        ``reason`` and ``evidence`` (which words caused the change) are kept on the entry.
        """
        # Fresh containers, shared immutable items: a deep copy would grow with the history.
        fresh: dict[str, Any] = {
            "attributes": dict(self.attributes),
            "relations": list(self.relations),
            "exclusions": list(self.exclusions),
            "history": list(self.history),
        }
        fresh.update({k: _fresh_container(v) for k, v in changes.items()})
        updated = self.model_copy(update={**fresh, "op": op})
        updated.history.append(
            IntentRevision(
                turn=turn,
                op=op,
                target=updated.target,
                attributes=dict(updated.attributes),
                relations=list(updated.relations),
                exclusions=list(updated.exclusions),
                reason=reason,
                evidence=list(evidence or ()),
            )
        )
        return updated

    def describe(self) -> str:
        """Short human phrase for the intent, e.g. ``"black port right of the HDMI label (not: logo)"``."""
        parts = [self.target or "(nothing yet)"]
        for key in ("colour", "size", "position", "ordinal"):
            if key in self.attributes:
                parts.insert(0, self.attributes[key])
        if "text" in self.attributes:
            parts.append(f"reading '{self.attributes['text']}'")
        parts.extend(f"{r.kind.replace('_', ' ')} {r.anchor}" for r in self.relations)
        if self.exclusions:
            parts.append(f"(not: {', '.join(self.exclusions)})")
        return " ".join(parts)


def _fresh_container(value: Any) -> Any:
    """Return a shallow copy of a list or dict (so intents never share containers), else the value."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


Role = Literal["user", "assistant"]


class DialogueTurn(BaseModel):
    """One message of the conversation as the tracker and the backends see it."""

    role: Role
    text: str
    act: Act | None = None


class PointPrompt(BaseModel):
    """A click on the image in pixel coordinates; ``positive`` adds, negative removes."""

    x: float
    y: float
    positive: bool = True


class BoxPrompt(BaseModel):
    """A box drawn on the image, pixel coordinates, corners (x0, y0) top-left, (x1, y1) bottom-right."""

    x0: float
    y0: float
    x1: float
    y1: float


class Prompts(BaseModel):
    """Visual prompts a user gave for this turn (click/box corrections)."""

    points: list[PointPrompt] = Field(default_factory=list)
    box: BoxPrompt | None = None

    @property
    def empty(self) -> bool:
        """True when no point and no box was given."""
        return not self.points and self.box is None


@dataclass
class MaskOut:
    """A mask produced in a turn, with its label, model score and where it came from."""

    mask: Mask
    label: str
    score: float | None = None
    source: Literal["model", "user-edit"] = "model"
    role: Literal["target", "instance", "alternative"] = "target"
    """``target``: the mask the answer is about (the current mask afterwards); ``instance``: one
    of several targets ("all the people": one per person, the ``target`` being their union);
    ``alternative``: a runner-up the user may pick instead."""
    id: int | None = None
    """Database id once stored."""
    extra: dict[str, Any] = field(default_factory=dict)


class _HasRole(Protocol):
    @property
    def role(self) -> str: ...


_Roled = TypeVar("_Roled", bound=_HasRole)


def shown_masks(masks: Sequence[_Roled]) -> list[_Roled]:
    """Pick the masks of one answer that are shown: each instance when there are several
    targets, else the target. Alternatives (runners-up) are listed, never drawn."""
    instances = [m for m in masks if m.role == "instance"]
    if instances:
        return instances
    return [m for m in masks if m.role == "target"][:1] or list(masks[:1])
