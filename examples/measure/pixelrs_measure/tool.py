"""The ``measure`` tool: size, place, colour and number of parts of the current mask."""

# No ``from __future__ import annotations``: LangChain reads the argument types at run time.
import re
from typing import Annotated, Any, Literal

from langchain_core.tools import BaseTool, InjectedToolArg
from pydantic import BaseModel, ConfigDict, Field

from agent.answer import compose
from agent.types import Mask, MaskOut
from pixelrs_measure.measures import Measurement, measure, part_labels
from tools.contract import ToolContext, ToolResult, ToolSpec

SPEC = ToolSpec(
    triggers=(
        r"\bhow (big|large|small|wide|tall|high)\b",
        r"\bhow many\b",
        r"\b(size|area|dimensions?|measure(ments?)?)\b",
        r"\bcount (them|it|the parts)\b",
    ),
    reads=frozenset({"image", "mask", "intent"}),
    requires=frozenset({"image", "mask"}),
    returns_masks=True,
    timeout_s=10.0,
)
"""When the rule planner picks ``measure``: a size or count question about the current mask."""

_COUNT = re.compile(r"\b(how many|count|number of)\b", re.IGNORECASE)


class MeasureInput(BaseModel):
    """Arguments of ``measure``; ``context`` is injected by pixelrs and hidden from models."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    question: str = Field(description="The user's question about the current mask, e.g. 'how big is it?'.")
    context: Annotated[ToolContext, InjectedToolArg] = Field(
        description="The session's image, intent and current mask (injected)."
    )


class MeasureTool(BaseTool):
    """Measure the current mask; a counting question also draws each part as its own mask."""

    name: str = "measure"
    description: str = (
        "Measure the currently segmented target: its area in pixels and as a share of the image, "
        "bounding box, centre, dominant colour and how many separate parts it has. Use it for "
        "'how big is it?', 'how many are there?', 'what is its size?'."
    )
    args_schema: type[BaseModel] = MeasureInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    metadata: dict[str, Any] | None = {"pixelrs": SPEC.model_dump(mode="json")}

    def _run(self, question: str, context: ToolContext, **_: Any) -> tuple[str, ToolResult]:
        if context.image is None or context.mask is None:  # the planner checks; a direct call may not
            return "nothing to measure", ToolResult(text="Nothing is segmented yet, so there is nothing to measure.")
        rgb = context.image.rgb
        m = measure(context.mask.array, rgb)
        name = context.intent.target or "the current mask"
        if _COUNT.search(question):
            text, masks = _count_answer(m, context.mask, name)
        else:
            text, masks = _size_answer(m), []
        return f"{m.area_px} px, {m.parts} part(s)", ToolResult(text=text, masks=masks, data=m.as_dict())


def _details(m: Measurement) -> list[str]:
    x, y, w, h = m.bbox
    cx, cy = m.centroid
    return [
        f"Area: {m.area_px:,} px ({m.area_percent:g}% of the image).",
        f"Box: x {x}-{x + w - 1}, y {y}-{y + h - 1} ({w} x {h} px); centre at ({cx:.0f}, {cy:.0f}).",
        f"Dominant colour: {m.colour} (RGB {m.colour_rgb[0]}, {m.colour_rgb[1]}, {m.colour_rgb[2]}).",
        f"Connected parts: {m.parts}.",
    ]


def _size_answer(m: Measurement) -> str:
    _, _, w, h = m.bbox
    lead = f"It covers {m.area_percent:g}% of the image ({m.area_px:,} px) in a {w} x {h} px box, and it is mostly {m.colour}."
    return compose(lead, _details(m))


def _count_answer(m: Measurement, mask: Mask, name: str) -> tuple[str, list[MaskOut]]:
    """Say how many separate parts the mask has and draw each one (the union stays the target)."""
    labels, parts = part_labels(mask.array)
    noun = "part" if m.parts == 1 else "parts"
    lead = f"I count {m.parts} separate {noun} in the {name}."
    if m.parts == 1:
        lead += " It is one connected region."
    masks = [MaskOut(mask=mask, label=f"{name} ({m.parts} {noun})", role="target")]
    if len(parts) > 1:
        masks += [
            MaskOut(mask=Mask(labels == label), label=f"{name} part {rank}", role="instance")
            for rank, label in enumerate(parts, start=1)
        ]
    return compose(lead, _details(m)), masks


__all__ = ["SPEC", "MeasureInput", "MeasureTool"]
