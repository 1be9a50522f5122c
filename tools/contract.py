"""The contract of an extra tool (a plug-in): what it reads, what it returns, when it answers.

A plug-in is a LangChain ``BaseTool`` registered under the ``pixelrs.tools`` entry point group,
plus a :class:`ToolSpec` descriptor in ``tool.metadata["pixelrs"]`` (see :func:`describe_tool`).

* **Reading the session.** A tool never asks the model for the image, the intent or the mask:
  it declares an injected argument and the turn graph fills it in. Either the whole
  :class:`ToolContext` (``context: Annotated[ToolContext, InjectedToolArg]``, or the same with
  ``InjectedState``), or one of its fields (``image: Annotated[LoadedImage | None,
  InjectedState("image")]``). Injected arguments are left out of the schema a language model
  sees (LangChain's ``tool_call_schema``).
* **Answering.** A tool returns a string, or, with ``response_format="content_and_artifact"``,
  ``(short text, ToolResult)``: the answer text, masks (:class:`~agent.types.MaskOut`, the
  image's size) that are stored with the turn and shown like a segmentation's, pictures
  (encoded PNG/JPEG) shown in the chat, and JSON-ready ``data`` stored with the tool call.
* **Being chosen.** The rule planner gives a turn to the first tool whose trigger regex matches
  the user's message, whose ``acts`` include the turn's act and whose ``requires`` are there;
  the LLM planner sees every tool's name, description and model-visible arguments.

A tool that raises, runs past ``timeout_s`` or returns something else than the above gives the
turn a one-line message and is stored as a failed tool call; the session goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.images import LoadedImage
from agent.types import Act, DialogueTurn, Intent, Mask, MaskOut

SPEC_KEY = "pixelrs"
"""Key of the :class:`ToolSpec` in ``tool.metadata``."""

Readable = Literal["image", "intent", "mask", "dialogue"]
Requirement = Literal["image", "mask"]

DEFAULT_ACTS: tuple[Act, ...] = (Act.EXPLAIN, Act.CHITCHAT)
"""Acts a tool serves unless its spec says otherwise: questions about the current target."""


@dataclass(frozen=True)
class ToolContext:
    """What a tool may read about the turn it answers (injected, never chosen by a model)."""

    session_id: str
    turn_index: int
    """Index of the user's message in the session."""
    user_text: str
    """The user's message of this turn."""
    act: Act
    """What the intent tracker made of the message."""
    intent: Intent
    """The tracked intent before this turn's tool call (target, attributes, relations...)."""
    image: LoadedImage | None = None
    """The session's current image (``image.rgb``: (H, W, 3) uint8), if one was uploaded."""
    mask: Mask | None = None
    """The current mask (what "it" refers to), if anything was segmented yet."""
    dialogue: tuple[DialogueTurn, ...] = ()
    """The conversation before this message."""


@dataclass(frozen=True)
class Picture:
    """A picture a tool returns into the chat: encoded PNG or JPEG bytes and a caption."""

    data: bytes
    caption: str = ""


@dataclass
class ToolResult:
    """What a tool answers with (the artifact of a ``content_and_artifact`` tool)."""

    text: str
    """The answer shown in the chat and stored as the assistant's message."""
    masks: list[MaskOut] = field(default_factory=list)
    """Masks of the current image, best first; the first becomes the current mask."""
    pictures: list[Picture] = field(default_factory=list)
    """Pictures shown in the chat (stored in the images table by content hash)."""
    data: dict[str, Any] = field(default_factory=dict)
    """JSON-ready values (numbers, strings, lists) stored with the tool call."""


class ToolSpec(BaseModel):
    """Descriptor of an extra tool: when the rule planner picks it, what it reads and returns."""

    model_config = ConfigDict(frozen=True)

    triggers: tuple[str, ...] = ()
    """Regexes (case-insensitive) over the user's message that make the rule planner pick the tool."""
    acts: tuple[Act, ...] = DEFAULT_ACTS
    """Acts the tool serves; a trigger only counts on such a turn (empty: any act)."""
    reads: frozenset[Readable] = frozenset()
    """What the tool reads from the :class:`ToolContext` (documentation and planner hints)."""
    requires: frozenset[Requirement] = frozenset()
    """What must exist for the tool to be chosen (an image, a current mask)."""
    returns_masks: bool = False
    """Whether the tool may return masks (masks from a tool that says no are refused)."""
    returns_pictures: bool = False
    """Whether the tool may return pictures."""
    timeout_s: float = Field(default=10.0, gt=0)
    """Longest wait for the tool; past it the turn says so and the session goes on."""

    @field_validator("triggers")
    @classmethod
    def _compiles(cls, triggers: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in triggers:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"trigger {pattern!r} is not a valid regex: {exc}") from None
        return triggers

    def matches(self, text: str) -> bool:
        """Whether a trigger matches ``text``."""
        return any(re.search(p, text, re.IGNORECASE) for p in self.triggers)

    def serves(self, act: Act) -> bool:
        """Whether the tool answers turns of this act."""
        return not self.acts or act in self.acts

    def missing(self, *, has_image: bool, has_mask: bool) -> str | None:
        """Return what the tool needs and the session lacks (``"an image"``, ``"a mask"``), or None."""
        if "image" in self.requires and not has_image:
            return "an image"
        if "mask" in self.requires and not has_mask:
            return "a mask"
        return None


def describe_tool(tool: BaseTool, spec: ToolSpec | None = None, **fields: Any) -> BaseTool:
    """Attach a :class:`ToolSpec` (given, or built from ``fields``) to ``tool``; return the tool."""
    spec = spec or ToolSpec(**fields)
    tool.metadata = {**(tool.metadata or {}), SPEC_KEY: spec.model_dump(mode="json")}
    return tool


def spec_of(tool: BaseTool) -> ToolSpec:
    """Return a tool's :class:`ToolSpec`.

    A tool with only the older ``metadata["triggers"]`` list gets those triggers for any act and
    no requirements (how such tools were routed before the descriptor existed).
    """
    meta = tool.metadata or {}
    raw = meta.get(SPEC_KEY)
    if isinstance(raw, ToolSpec):
        return raw
    if isinstance(raw, dict):
        return ToolSpec.model_validate(raw)
    return ToolSpec(triggers=tuple(meta.get("triggers", ())), acts=())


__all__ = [
    "DEFAULT_ACTS",
    "SPEC_KEY",
    "Picture",
    "ToolContext",
    "ToolResult",
    "ToolSpec",
    "describe_tool",
    "spec_of",
]
