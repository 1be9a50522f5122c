"""The ``zoom`` tool, written as a plain function with LangChain's ``@tool`` decorator.

It reads the session through ``InjectedState`` fields (the image, the current mask, the intent),
which pixelrs fills in and no model ever sees, and returns the close-up as a picture.
"""

# No ``from __future__ import annotations``: LangChain reads the argument types at run time.
from typing import Annotated

from langchain_core.tools import tool
from langgraph.prebuilt import InjectedState

from agent.images import LoadedImage
from agent.types import Intent, Mask
from pixelrs_zoom.view import close_up
from tools.contract import Picture, ToolResult, ToolSpec, describe_tool

SPEC = ToolSpec(
    triggers=(r"\bzoom", r"\bclose[- ]?up\b", r"\b(enlarge|magnify)\b", r"\bcloser look\b", r"\blook closer\b"),
    reads=frozenset({"image", "mask", "intent"}),
    requires=frozenset({"image", "mask"}),
    returns_pictures=True,
    timeout_s=10.0,
)
"""When the rule planner picks ``zoom``: a request to look closer at the current mask."""


@tool(response_format="content_and_artifact")
def zoom(
    request: str,
    image: Annotated[LoadedImage | None, InjectedState("image")],
    mask: Annotated[Mask | None, InjectedState("mask")],
    intent: Annotated[Intent, InjectedState("intent")],
    scale: float | None = None,
) -> tuple[str, ToolResult]:
    """Show a cropped, enlarged view of the currently segmented target, outlined, in the chat.

    Use it when the user wants to zoom in, see a close-up or look closer at it.

    Args:
        request: the user's words, e.g. 'zoom in on it'.
        scale: how much to enlarge (1 to 8); leave it out to fit the view to 512 pixels.
    """
    if image is None or mask is None:
        return "nothing to zoom", ToolResult(text="Nothing is segmented yet, so there is nothing to zoom into.")
    view = close_up(image.rgb, mask.array, scale=scale)
    x, y, w, h = view.box
    name = intent.target or "the current mask"
    caption = f"Close-up of the {name} ({view.scale:g}x)"
    text = f"Here is a close-up of the {name}: the region x {x}-{x + w - 1}, y {y}-{y + h - 1}, enlarged {view.scale:g}x."
    data = {"box": [x, y, w, h], "scale": view.scale, "size": list(view.size)}
    return caption, ToolResult(text=text, pictures=[Picture(data=view.data, caption=caption)], data=data)


describe_tool(zoom, SPEC)

__all__ = ["SPEC", "zoom"]
