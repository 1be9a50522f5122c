"""The turn graph for LangGraph's server, ``langgraph dev`` and Studio (``langgraph.json``).

``make_graph(config)`` is the graph factory ``langgraph.json`` names: it builds everything from
configuration alone, the run's ``configurable`` values (an assistant's config or a run's
context, which the server mirrors there) read as a typed :class:`ServerContext` (backend,
database URL, tools, tracker, planner, LLM), with ``PIXELRS_*`` settings as defaults.

A LangGraph thread is a pixelrs session: the session id is the thread id, so
``pixelrs sessions show THREAD_ID`` shows what Studio ran. The server graph's state holds only
JSON (the message, the reply, the act, the intent, mask ids and boxes): one node, ``turn``, runs
the pixelrs turn graph through the :class:`~graphs.runtime.Runtime` on its own, outside the
thread's checkpoints, so images and masks stay in SQL (by reference) and the turn is stored,
failed or stopped exactly as in the app and the CLI. The turn's events (progress, intent,
masks, tokens, pictures) arrive on LangGraph's ``custom`` stream.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, ConfigDict, Field

from agent.errors import BadInputError, PixelrsError, UnknownSessionError
from agent.settings import Settings
from agent.types import MaskOut, shown_masks
from graphs.runtime import Runtime, TurnEvent, TurnSummary


class ServerContext(BaseModel):
    """What the server graph is built from (LangGraph's typed context; unset: ``PIXELRS_*`` settings)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    backend: str | None = Field(default=None, description="Backend registry name: lite, miras, lisa, openvocab, ...")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL of the memory (default: ~/.pixelrs/pixelrs.db).")
    tools: tuple[str, ...] | None = Field(default=None, description="pixelrs.tools entry points to load (default: all).")
    tracker: Literal["rules", "llm"] | None = Field(default=None, description="Intent tracker.")
    planner: Literal["rules", "llm"] | None = Field(default=None, description="Who picks the tool that answers.")
    llm: str | None = Field(default=None, description="PROVIDER:MODEL for the llm tracker and planner.")
    owner: str | None = Field(default=None, description="Owner of the sessions this graph creates and opens.")

    @classmethod
    def from_config(cls, config: RunnableConfig | None) -> ServerContext:
        """Read the context from a run's ``configurable`` values (other keys are ignored)."""
        configurable = (config or {}).get("configurable") or {}
        return cls.model_validate({k: v for k, v in configurable.items() if k in cls.model_fields})

    def settings(self) -> Settings:
        """Return the :class:`Settings` this context names, ``PIXELRS_*`` variables filling the rest."""
        values = self.model_dump(exclude={"owner"}, exclude_none=True)
        if "tools" in values:
            values["tools"] = list(values["tools"])
        if "llm" in values and "tracker" not in values:
            values["tracker"] = "llm"  # as on the command line: --llm alone picks the llm tracker
        return Settings(**values)


class ServerInput(BaseModel):
    """One user message, as Studio's input form and the server's API take it."""

    message: str = Field(description="What the user says, e.g. 'find the red cup'.")
    image: str | None = Field(
        default=None,
        description="An image to attach: base64 (or a data: URL), or a file path under the server's working folder.",
    )


@dataclass(kw_only=True)
class ServerState:
    """The thread's state: JSON only (masks by database id and box; their pixels stay in SQL)."""

    message: str = ""
    image: str | None = None
    session_id: str = ""
    turn: int = -1
    act: str = ""
    reply: str = ""
    intent: dict[str, Any] = field(default_factory=dict)
    masks: list[dict[str, Any]] = field(default_factory=list)
    pictures: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    """The turn's one-line error, when it failed (the session goes on)."""


def make_graph(config: RunnableConfig) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Return the server graph for the run's configuration (the factory ``langgraph.json`` names).

    Cheap: the server calls it for every run and schema read, on its event loop; the runtime
    (database, backend, tools) is built on the first turn, in the node's worker thread.
    """
    return graph_for(ServerContext.from_config(config))


@functools.lru_cache(maxsize=8)
def graph_for(context: ServerContext) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Return the server graph of one configuration (compiled once per configuration)."""
    return build_server_graph(functools.partial(runtime_for, context), owner=context.owner)


_runtimes_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def _cached_runtime(context: ServerContext) -> Runtime:
    return Runtime.from_settings(context.settings())


def runtime_for(context: ServerContext) -> Runtime:
    """Return the runtime one configuration names, built once per process (loading a backend is slow)."""
    with _runtimes_lock:
        return _cached_runtime(context)


def build_server_graph(
    runtime: Runtime | Callable[[], Runtime], *, owner: str | None = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the server graph around ``runtime`` (or a function returning it): ``START -> turn -> END``."""

    def turn(state: ServerState, config: RunnableConfig) -> dict[str, Any]:
        """Run one pixelrs turn in the session of this thread; stream its events; return JSON."""
        writer = get_stream_writer()
        thread = (config.get("configurable") or {}).get("thread_id")
        try:
            parts = runtime if isinstance(runtime, Runtime) else runtime()
            session_id = _session_for(parts, str(thread) if thread else None, owner)
            image = _image_bytes(state.image) if state.image else None
            # A context of its own: the turn graph is not a subgraph of this run (no checkpoints
            # of images and masks in the thread); its events are forwarded to the custom stream.
            summary = contextvars.Context().run(
                parts.run_turn_sync, session_id, state.message, image=image, owner=owner,
                on_event=lambda event: _forward(writer, event),
            )
        except PixelrsError as exc:
            return {"error": exc.one_line(), "reply": "", "image": None}
        return {**_summary_values(summary), "error": None, "image": None}

    builder = StateGraph(ServerState, context_schema=ServerContext, input_schema=ServerInput)
    builder.add_node("turn", turn)
    builder.add_edge(START, "turn")
    builder.add_edge("turn", END)
    return builder.compile(name="pixelrs")


def _session_for(runtime: Runtime, thread_id: str | None, owner: str | None) -> str:
    """Return the session of a LangGraph thread (same id), creating it on the thread's first run."""
    if thread_id is None:
        return runtime.new_session(owner=owner)
    try:
        return runtime.memory.get_session(thread_id, owner=owner).id
    except UnknownSessionError:
        try:
            return runtime.new_session(owner=owner, session_id=thread_id)
        except UnknownSessionError:
            raise BadInputError(f"thread id {thread_id[:80]!r} is not a UUID; pixelrs sessions need one") from None


def _image_bytes(value: str) -> bytes:
    """Decode base64 (or a data: URL), or read a file under the working folder; one-line errors."""
    text = value.strip()
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    root = Path.cwd().resolve()
    path = (root / text).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise BadInputError("image must be base64 bytes, a data: URL, or a file under the server's working folder")
    return path.read_bytes()


def _mask_values(out: MaskOut, shown: set[int]) -> dict[str, Any]:
    return {
        "id": out.id, "label": out.label, "role": out.role, "score": out.score,
        "shown": id(out) in shown, "bbox": list(out.mask.bbox), "area": out.mask.area,
    }


def _summary_values(summary: TurnSummary) -> dict[str, Any]:
    shown = {id(m) for m in shown_masks(summary.masks)}
    return {
        "session_id": summary.session_id,
        "turn": summary.turn_index,
        "act": summary.act.value,
        "reply": summary.reply,
        "intent": summary.intent.model_dump(mode="json", exclude={"history"}),
        "masks": [_mask_values(m, shown) for m in summary.masks],
        "pictures": [{"sha256": p.sha256, "caption": p.caption, "tool": p.tool} for p in summary.pictures],
    }


def _forward(writer: Any, event: TurnEvent) -> None:
    """Send a turn event to the custom stream as JSON."""
    payload: dict[str, Any] = {"type": event.kind}
    if event.kind == "progress":
        payload.update(stage=event.stage, message=event.message)
    elif event.kind == "intent" and event.intent is not None:
        payload.update(act=event.act.value if event.act else None, target=event.intent.target, reason=event.message)
    elif event.kind == "mask":
        shown = {id(m) for m in shown_masks(event.masks)}
        payload["masks"] = [_mask_values(m, shown) for m in event.masks]
    elif event.kind == "token":
        payload["text"] = event.text
    elif event.kind == "picture":
        payload["pictures"] = [{"sha256": p.sha256, "caption": p.caption} for p in event.pictures]
    elif event.kind == "error":
        payload["message"] = event.message
    elif event.kind != "stored":
        return  # "done": the node's return value carries the summary
    writer(payload)


__all__ = [
    "ServerContext", "ServerInput", "ServerState", "build_server_graph", "graph_for", "make_graph", "runtime_for",
]
