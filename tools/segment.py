"""The ``segment`` tool: finds the tracked target in the image and returns its masks as artifact."""

# No ``from __future__ import annotations`` here: LangChain re-reads the args schema's type hints
# on every call, and string annotations would be re-evaluated (compiled) each time.
from typing import Annotated, Any, Literal

from langchain_core.tools import BaseTool, InjectedToolArg
from pydantic import BaseModel, ConfigDict, Field

from tools.backends.base import Backend, SegmentRequest, SegmentResult


class SegmentInput(BaseModel):
    """Arguments of ``segment``; ``request`` is injected by the graph and hidden from LLMs."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    target: str = Field(description="Phrase naming what to segment, e.g. 'the HDMI label'.")
    request: Annotated[SegmentRequest, InjectedToolArg] = Field(
        description="Image, dialogue, intent and prompts of this turn (injected)."
    )


class SegmentTool(BaseTool):
    """Segment the tracked target with the session's backend (content: a summary; artifact: result)."""

    name: str = "segment"
    description: str = (
        "Segment the object the user currently means in the session image and return pixel masks."
    )
    args_schema: type[BaseModel] = SegmentInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    backend: Any = Field(exclude=True)
    """The :class:`~tools.backends.base.Backend` that does the work."""

    def _run(self, target: str, request: SegmentRequest, **_: Any) -> tuple[str, SegmentResult]:
        backend: Backend = self.backend
        result = backend.segment(request)
        if not result.masks:
            return f"no region found for '{target}'", result
        best = result.masks[0]
        x, y, w, h = best.mask.bbox
        score = "" if best.score is None else f", score {best.score:.2f}"
        summary = f"{len(result.masks)} mask(s) for '{target}'; best at x={x} y={y} w={w} h={h}, area {best.mask.area}px{score}"
        return summary, result
