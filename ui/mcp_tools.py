"""MCP: the app's segment, explain and session tools for other agents (``pixelrs serve --mcp``).

Gradio's built-in MCP server (``launch(mcp_server=True)``, the ``mcp`` package) turns typed,
documented API functions into MCP tools at ``/gradio_api/mcp/`` (streamable HTTP). The chat's
own endpoints (``/send``, ``/correct``, ...) keep per-browser state and stay out of the MCP tool
list; the tools here run turns through the same :class:`~graphs.runtime.Runtime` as the chat, in
sessions of their own (owner ``mcp``, or every session with ``--anonymous shared``).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import warnings
from typing import TYPE_CHECKING, Any

import gradio as gr

from agent.errors import BadInputError, PixelrsError
from agent.types import shown_masks

if TYPE_CHECKING:
    from graphs.runtime import TurnSummary
    from ui.protocols import ChatHandlers

MCP_OWNER = "mcp"
"""Owner of the sessions that MCP clients create (without ``--anonymous shared``)."""
MCP_TOOLS = ("pixelrs_segment", "pixelrs_explain", "pixelrs_new_session", "pixelrs_sessions", "pixelrs_session")
"""The API names (and MCP tool names) this module adds."""


def check_mcp(*, auth: Any = None) -> None:
    """Raise a one-line :class:`BadInputError` when MCP cannot be served (no ``mcp`` package, or login on)."""
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise BadInputError("--mcp needs the MCP package: pip install 'pixelrs[mcp]'") from None
    if auth:
        raise BadInputError("--mcp cannot be combined with --auth yet: MCP clients have no login")


def add_mcp_tools(ui: ChatHandlers) -> None:
    """Register the MCP tools as API functions of the Blocks being built (call inside ``gr.Blocks``)."""
    runtime = ui.runtime
    owner = None if ui.anonymous == "shared" else MCP_OWNER
    slots = threading.BoundedSemaphore(ui.concurrency)  # MCP turns share the app's turn limit size

    def turn(session_id: str, text: str, image: bytes | None) -> TurnSummary:
        with slots:
            try:
                sid = session_id.strip() or runtime.new_session(owner=owner)
                return runtime.run_turn_sync(sid, text, image=image, image_name="the image", owner=owner)
            except PixelrsError as exc:
                raise gr.Error(exc.one_line(), print_exception=False) from None

    def pixelrs_segment(image: str, request: str, session_id: str = "") -> str:
        """Segment what the request names in an image (or in the session's current image) and return its masks.

        Follow-up requests refer to earlier turns of the same session ("no, the other one", "only the left half").

        Args:
            image: the image as base64 (PNG or JPEG bytes; a data: URL works too); empty to use the session's current image.
            request: what to find, e.g. "the red cup on the left".
            session_id: a session id from an earlier call; empty starts a new session.

        Returns:
            JSON with session_id, act, target, reply and masks (COCO RLE with bbox, area, score, role).
        """
        data = _decode_base64(image) if image.strip() else None
        if data is None and not session_id.strip():
            raise gr.Error("give an image (base64) to start a session, or the session_id of one", print_exception=False)
        return _turn_json(turn(session_id, request, data))

    def pixelrs_explain(session_id: str, question: str = "What is it?") -> str:
        """Answer a question about the current mask of a session: what it is, what it says, where it is, why.

        Args:
            session_id: the session (from pixelrs_segment or pixelrs_new_session).
            question: the question, e.g. "what does it say?".

        Returns:
            JSON with session_id, act, target and reply (and masks, if the question changed the target).
        """
        if not session_id.strip():
            raise gr.Error("give the session_id of a session with a mask", print_exception=False)
        return _turn_json(turn(session_id, question, None))

    def pixelrs_new_session(title: str = "") -> str:
        """Create an empty session and return its id (pixelrs_segment with an image then starts it).

        Args:
            title: an optional title.
        """
        return runtime.new_session(owner=owner, title=title.strip() or None)

    def pixelrs_sessions() -> str:
        """List the sessions MCP clients created, newest first, as JSON: id, title, turns, last update."""
        return json.dumps([
            {"id": s.id, "title": s.title, "turns": s.turn_count, "updated": s.updated_at.isoformat()}
            for s in runtime.list_sessions(owner=owner)
        ])

    def pixelrs_session(session_id: str) -> str:
        """Return a session's conversation as JSON: each turn's text, act, intent, mask ids and tool calls.

        Args:
            session_id: the session id.
        """
        from graphs.export import transcript

        try:
            return json.dumps(transcript(runtime.history(session_id, owner=owner)))
        except PixelrsError as exc:
            raise gr.Error(exc.one_line(), print_exception=False) from None

    for fn in (pixelrs_segment, pixelrs_explain, pixelrs_new_session, pixelrs_sessions, pixelrs_session):
        gr.api(fn, api_name=fn.__name__, queue=False)


def launch_with_mcp(demo: gr.Blocks, launch_kwargs: dict[str, Any]) -> Any:
    """Launch ``demo`` with Gradio's MCP server, offering only :data:`MCP_TOOLS`; block unless asked not to."""
    block = not launch_kwargs.get("prevent_thread_lock", False)
    with warnings.catch_warnings():  # the chat's endpoints take gr.State; they are dropped just below
        warnings.filterwarnings("ignore", message="This MCP server includes a tool that has a gr.State input")
        result = demo.launch(**{**launch_kwargs, "prevent_thread_lock": True, "mcp_server": True})
    server = getattr(demo, "mcp_server_obj", None)
    if server is None:
        demo.close()
        raise BadInputError(f"the MCP server did not start: {getattr(demo, 'mcp_error', None) or 'unknown reason'}")
    server.tool_to_endpoint = {
        name: endpoint for name, endpoint in server.tool_to_endpoint.items() if endpoint.lstrip("/") in MCP_TOOLS
    }
    if block:
        demo.block_thread()
    return result


def _decode_base64(text: str) -> bytes:
    """Decode base64 image bytes (a ``data:image/...;base64,`` prefix is allowed); one-line error otherwise."""
    payload = text.strip()
    if payload.startswith("data:"):
        payload = payload.partition(",")[2]
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise gr.Error("image must be base64-encoded PNG or JPEG bytes", print_exception=False) from None


def _turn_json(summary: TurnSummary) -> str:
    """Return a finished turn as JSON text: reply, act, target and masks (COCO RLE), the shown ones marked."""
    shown = {id(m) for m in shown_masks(summary.masks)}
    return json.dumps({
        "session_id": summary.session_id,
        "turn": summary.turn_index,
        "act": summary.act.value,
        "target": summary.intent.target,
        "reply": summary.reply,
        "masks": [
            {
                "id": m.id,
                "label": m.label,
                "score": m.score,
                "role": m.role,
                "shown": id(m) in shown,
                "bbox": list(m.mask.bbox),
                "area": m.mask.area,
                "rle": m.mask.to_rle(),
            }
            for m in summary.masks
        ],
        "pictures": [{"sha256": p.sha256, "caption": p.caption} for p in summary.pictures],
        "latency_ms": round(summary.latency_ms, 1),
    })


__all__ = ["MCP_OWNER", "MCP_TOOLS", "add_mcp_tools", "check_mcp", "launch_with_mcp"]
