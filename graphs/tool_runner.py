"""Calling an extra tool for a turn: inject what it reads, bound its time, check what it returns.

The turn graph's ``use_tool`` node goes through :func:`run_extra_tool`, so a plug-in that raises,
hangs or answers with something unusable costs one clear line in the chat and a failed tool-call
record, never the session.
"""

from __future__ import annotations

import contextvars
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar, get_args

from langchain_core.tools import BaseTool, InjectedToolArg, InjectedToolCallId
from langchain_core.tools.base import get_all_basemodel_annotations
from langgraph.prebuilt import InjectedState

from agent.images import LoadedImage, decode_image
from agent.memory import ToolCallIn
from agent.types import MaskOut
from tools.contract import Picture, ToolContext, ToolResult, ToolSpec

T = TypeVar("T")

MAX_TEXT = 4000
"""Longest answer text kept from a tool (longer ones are cut with an ellipsis)."""

_CONTEXT_FIELDS = frozenset(f.name for f in fields(ToolContext))


class ToolOutputError(ValueError):
    """A tool returned something the contract does not allow."""


def call_with_timeout(fn: Callable[[], T], timeout_s: float | None, *, name: str) -> T:
    """Run ``fn`` on a worker thread and wait at most ``timeout_s``; raise ``TimeoutError`` past it.

    The worker runs in a copy of the caller's context (LangChain callbacks and tracing follow it).
    A worker that never returns is left running as a daemon thread; its late answer is dropped.
    """
    if timeout_s is None:
        return fn()
    box: dict[str, Any] = {}
    context = contextvars.copy_context()

    def work() -> None:
        try:
            box["value"] = context.run(fn)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"pixelrs-{name}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def injected_args(tool: BaseTool, context: ToolContext) -> dict[str, Any]:
    """Return the values of ``tool``'s injected arguments, read from ``context``.

    ``Annotated[ToolContext, InjectedToolArg]`` or a bare ``InjectedState`` gets the whole
    context; ``InjectedState("image")`` (or an injected argument named like a context field)
    gets that field. LangChain fills ``InjectedToolCallId`` itself.
    """
    values: dict[str, Any] = {}
    for name, annotation in get_all_basemodel_annotations(tool.get_input_schema()).items():
        for marker in get_args(annotation)[1:]:
            if marker is InjectedToolCallId or isinstance(marker, InjectedToolCallId):
                break
            if isinstance(marker, InjectedState):
                values[name] = context if marker.field is None else _field(context, marker.field, tool.name)
                break
            if marker is InjectedState or marker is InjectedToolArg or isinstance(marker, InjectedToolArg):
                values[name] = getattr(context, name) if name in _CONTEXT_FIELDS else context
                break
    return values


def _field(context: ToolContext, name: str, tool: str) -> Any:
    if name not in _CONTEXT_FIELDS:
        raise ToolOutputError(
            f"it asks for the injected field {name!r}; pixelrs offers {', '.join(sorted(_CONTEXT_FIELDS))}"
        )
    return getattr(context, name)


def text_args(tool: BaseTool, text: str) -> dict[str, Any] | None:
    """Model-visible arguments for a rule-planned call: every required text argument gets ``text``.

    Returns None when the tool has a required argument that is not text (only a model can fill it).
    """
    schema = tool.tool_call_schema
    if isinstance(schema, dict):  # a tool defined by a JSON schema
        props = schema.get("properties", {})
        required = schema.get("required", [])
        kinds = {name: props.get(name, {}).get("type") for name in required}
    else:
        model_fields: dict[str, Any] = getattr(schema, "model_fields", {})
        kinds = {
            name: "string" if info.annotation is str else "other"
            for name, info in model_fields.items()
            if info.is_required()
        }
    if any(kind != "string" for kind in kinds.values()):
        return None
    return dict.fromkeys(kinds, text)


@dataclass(frozen=True)
class ShownPicture:
    """A tool's picture, decoded (and so known to be an image), with its caption."""

    image: LoadedImage
    caption: str


@dataclass
class ToolOutcome:
    """What one extra-tool call gave the turn."""

    text: str
    masks: list[MaskOut] = field(default_factory=list)
    pictures: list[ShownPicture] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    call: ToolCallIn | None = None
    """The call's record (status ``ok`` or ``failed`` with its error)."""

    @property
    def failed(self) -> bool:
        """Whether the tool failed (the text is then the one-line message)."""
        return self.call is not None and self.call.status != "ok"


def run_extra_tool(
    tool: BaseTool, args: dict[str, Any], context: ToolContext, spec: ToolSpec
) -> ToolOutcome:
    """Call ``tool`` with the model-visible ``args`` plus its injected ones; never raises.

    The call runs on a worker thread for at most ``spec.timeout_s``. Its answer must be text or a
    :class:`ToolResult` whose masks are the image's size (and allowed by the spec).
    """
    start = time.perf_counter()
    logged: dict[str, object] = {k: v for k, v in args.items() if isinstance(v, str | int | float | bool)}
    try:
        full = {**args, **injected_args(tool, context)}
        # A content_and_artifact tool is called as a tool call (its ToolMessage carries the
        # artifact); a plain tool with its arguments, so that what it returned is seen unconverted.
        call: dict[str, Any] = (
            {"type": "tool_call", "id": uuid.uuid4().hex, "name": tool.name, "args": full}
            if tool.response_format == "content_and_artifact"
            else full
        )
        message = call_with_timeout(lambda: tool.invoke(call), spec.timeout_s, name=tool.name)
        result, pictures = _checked(message, tool, context, spec)
    except TimeoutError:
        why = f"it did not answer within {spec.timeout_s:g} s"
        return _failure(tool.name, logged, start, f"timeout: {why}", why)
    except ToolOutputError as exc:
        why = f"it returned something unusable ({exc})"
        return _failure(tool.name, logged, start, f"invalid output: {exc}", why)
    except Exception as exc:  # noqa: BLE001 - a plug-in's failure must not end the session
        detail = " ".join(str(exc).split())[:200]
        why = f"it failed ({type(exc).__name__}{': ' + detail if detail else ''})"
        return _failure(tool.name, logged, start, f"{type(exc).__name__}: {detail}", why)
    if result.data:
        logged["result"] = result.data
    record = ToolCallIn(tool=tool.name, args=logged, duration_ms=_ms(start))
    return ToolOutcome(text=result.text, masks=result.masks, pictures=pictures, data=result.data, call=record)


def _failure(name: str, logged: dict[str, object], start: float, error: str, why: str) -> ToolOutcome:
    message = f"The {name} tool could not answer: {why}. The session goes on; ask again or try something else."
    record = ToolCallIn(tool=name, args=logged, duration_ms=_ms(start), status="failed", error=error)
    return ToolOutcome(text=message, call=record)


def _checked(
    message: Any, tool: BaseTool, context: ToolContext, spec: ToolSpec
) -> tuple[ToolResult, list[ShownPicture]]:
    """Turn the tool's ``ToolMessage`` into a checked :class:`ToolResult` and its decoded pictures."""
    if tool.response_format == "content_and_artifact":
        artifact = getattr(message, "artifact", None)
        result = artifact if artifact is not None else getattr(message, "content", None)
    else:
        result = message
    if isinstance(result, str):
        result = ToolResult(text=result)
    if not isinstance(result, ToolResult):
        raise ToolOutputError(f"{type(result).__name__} instead of text or a ToolResult")
    if not isinstance(result.text, str):
        raise ToolOutputError(f"its text is {type(result.text).__name__}, not str")
    text = result.text.strip()
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    masks = _checked_masks(result.masks, context, spec)
    pictures = _checked_pictures(result.pictures, spec)
    if not text and not masks and not pictures:
        raise ToolOutputError("an empty answer")
    if not isinstance(result.data, dict):
        raise ToolOutputError(f"its data is {type(result.data).__name__}, not a dict")
    return ToolResult(text=text, masks=masks, data=result.data), pictures


def _checked_masks(masks: Any, context: ToolContext, spec: ToolSpec) -> list[MaskOut]:
    if not masks:
        return []
    if not spec.returns_masks:
        raise ToolOutputError("masks, but its spec says returns_masks=False")
    if not isinstance(masks, list) or not all(isinstance(m, MaskOut) for m in masks):
        raise ToolOutputError("masks that are not a list of MaskOut")
    if context.image is None:
        raise ToolOutputError("masks, but the session has no image")
    size = (context.image.ref.height, context.image.ref.width)
    for out in masks:
        if out.mask.array.shape != size:
            h, w = out.mask.array.shape
            raise ToolOutputError(f"a {w}x{h} mask for a {size[1]}x{size[0]} image")
        if out.role not in ("target", "instance", "alternative"):
            raise ToolOutputError(f"a mask with the unknown role {out.role!r}")
    return list(masks)


def _checked_pictures(pictures: Any, spec: ToolSpec) -> list[ShownPicture]:
    if not pictures:
        return []
    if not spec.returns_pictures:
        raise ToolOutputError("pictures, but its spec says returns_pictures=False")
    if not isinstance(pictures, list) or not all(isinstance(p, Picture) for p in pictures):
        raise ToolOutputError("pictures that are not a list of Picture")
    out = []
    for picture in pictures:
        try:
            image = decode_image(picture.data, name="its picture")
        except Exception as exc:  # noqa: BLE001 - any decoding failure is the tool's
            raise ToolOutputError(f"a picture that is not an image ({exc})") from None
        out.append(ShownPicture(image=image, caption=" ".join(str(picture.caption).split())[:200]))
    return out


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


__all__ = ["ShownPicture", "ToolOutcome", "ToolOutputError", "call_with_timeout", "injected_args", "run_extra_tool", "text_args"]
