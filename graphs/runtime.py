"""The runtime: one object that wires memory, backend, tools, tracker and the turn graph.

The CLI and the Gradio app talk only to this object. It holds no per-user state: sessions live
in memory (SQL) and callers pass the session id (and owner) with every call. Its only caches are
content-addressed (decoded images by sha256), so they are safe to share between users.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.tools import BaseTool

from agent.cache import ByteLRU
from agent.errors import PixelrsError
from agent.images import LoadedImage, decode_image
from agent.intent import IntentTracker, RuleIntentTracker
from agent.memory import Memory, SessionHistory, SessionSummary
from agent.settings import Settings
from agent.text import clean_user_text
from agent.types import Act, Intent, MaskOut, Prompts
from graphs.state import TurnInput
from graphs.turn import build_turn_graph
from tools.backends.base import Backend
from tools.explain import ExplainTool
from tools.registry import create_backend, extra_tools
from tools.segment import SegmentTool

EventKind = Literal["progress", "stored", "intent", "mask", "token", "done", "error"]


@dataclass(frozen=True)
class TurnSummary:
    """What a finished turn produced (the ``done`` event's payload)."""

    session_id: str
    turn_index: int
    act: Act
    intent: Intent
    masks: list[MaskOut]
    reply: str
    latency_ms: float
    backend_ms: float


@dataclass(frozen=True)
class TurnEvent:
    """One streamed update of a turn, in the order they happen.

    ``progress``: ``stage``/``message``; ``stored``: the user message is committed;
    ``intent``: ``act``/``intent``; ``mask``: ``masks``; ``token``: ``text`` chunk;
    ``done``: ``turn``; ``error``: ``message`` (one line; the session carries on).
    """

    kind: EventKind
    stage: str = ""
    message: str = ""
    act: Act | None = None
    intent: Intent | None = None
    masks: list[MaskOut] = field(default_factory=list)
    text: str = ""
    turn: TurnSummary | None = None


class ImageCache:
    """Decoded images by sha256, LRU-bounded by pixel bytes; shared safely between threads."""

    def __init__(self, memory: Memory, max_bytes: int = 512 * 2**20) -> None:
        self._memory = memory
        self._images = ByteLRU(max_bytes)

    def put(self, image: LoadedImage) -> None:
        """Remember an image decoded elsewhere (e.g. just uploaded)."""
        if image.ref.sha256 not in self._images:
            self._images.put(image.ref.sha256, image)

    def get(self, sha256: str) -> LoadedImage:
        """Return the decoded image for a stored sha, decoding from memory on a miss."""
        image: LoadedImage = self._images.get_or_create(
            sha256, lambda: decode_image(self._memory.image_bytes(sha256))
        )
        return image


class Runtime:
    """Runs turns and manages sessions over one memory and one backend."""

    def __init__(
        self,
        *,
        memory: Memory,
        backend: Backend,
        tracker: IntentTracker | None = None,
        tools: Sequence[BaseTool] = (),
    ) -> None:
        self.memory = memory
        self.backend = backend
        self.tracker = tracker or RuleIntentTracker()
        self.images = ImageCache(memory)
        self.extra_tools = list(tools)
        self.graph = build_turn_graph(
            segment_tool=SegmentTool(backend=backend),
            explain_tool=ExplainTool(backend=backend),
            tracker=self.tracker,
            memory=memory,
            load_image=self.images.get,
            extra_tools=self.extra_tools,
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, backend: Backend | None = None) -> Runtime:
        """Build memory, backend (by registry name) and extra tools (entry points) from settings."""
        backend = backend or create_backend(settings.backend, **settings.backend_options)
        prepare = getattr(backend, "load", None) or getattr(backend, "warm", None)
        if callable(prepare):
            prepare()  # load weights / OCR now, so a bad checkpoint is reported before any chat
        memory = Memory(settings.resolved_db_url())
        return cls(memory=memory, backend=backend, tools=extra_tools(backend=backend, memory=memory))

    @property
    def backend_name(self) -> str:
        """Registry name of the backend in use."""
        return getattr(self.backend, "name", type(self.backend).__name__)

    # sessions -------------------------------------------------------------------------------
    def new_session(self, *, owner: str | None = None, title: str | None = None) -> str:
        """Create an empty session and return its id."""
        return self.memory.create_session(owner=owner, title=title, backend=self.backend_name).id

    def list_sessions(self, *, owner: str | None = None) -> list[SessionSummary]:
        """Return the owner's sessions, most recently updated first."""
        return self.memory.list_sessions(owner=owner)

    def rename_session(self, session_id: str, title: str, *, owner: str | None = None) -> None:
        """Give a session a new title."""
        self.memory.rename_session(session_id, clean_user_text(title)[:200], owner=owner)

    def delete_session(self, session_id: str, *, owner: str | None = None) -> None:
        """Delete a session with its turns and masks, and drop the backend's caches for it."""
        self.memory.delete_session(session_id, owner=owner)
        self.backend.forget_session(session_id)

    def history(self, session_id: str, *, owner: str | None = None) -> SessionHistory:
        """Everything stored about a session."""
        return self.memory.history(session_id, owner=owner)

    def image(self, sha256: str) -> LoadedImage:
        """Return a stored image, decoded (cached)."""
        return self.images.get(sha256)

    # turns ----------------------------------------------------------------------------------
    def run_turn(
        self,
        session_id: str,
        text: str | None,
        *,
        image: bytes | LoadedImage | None = None,
        image_name: str = "image",
        prompts: Prompts | None = None,
        owner: str | None = None,
    ) -> Iterator[TurnEvent]:
        """Run one user turn and stream its events; never raises for user or backend errors.

        Bad input (empty/huge text, non-image upload, unknown session) yields one ``error``
        event and stores nothing. A failure after the user's message was stored marks that
        turn failed with its error; the session stays usable.
        """
        started = time.perf_counter()
        prompts = prompts or Prompts()
        try:
            if not prompts.empty and not (text or "").strip():
                text = "(correction: box)" if prompts.box is not None else f"(correction: {len(prompts.points)} click(s))"
            cleaned = clean_user_text(text)
            loaded = image if isinstance(image, LoadedImage) or image is None else decode_image(image, name=image_name)
        except PixelrsError as exc:
            yield TurnEvent(kind="error", message=exc.one_line())
            return
        if loaded is not None:
            self.images.put(loaded)
        state = TurnInput(
            session_id=session_id, user_text=cleaned, new_image=loaded, prompts=prompts, owner=owner, started_at=started
        )
        user_turn_id: int | None = None
        final: dict[str, Any] = {}
        try:
            for mode, payload in self.graph.stream(state, stream_mode=["custom", "updates"]):
                if not isinstance(payload, dict):
                    continue
                if mode == "updates":
                    for update in payload.values():
                        if isinstance(update, dict):
                            final.update(update)
                    continue
                event = self._to_event(payload)
                if payload.get("type") == "stored":
                    user_turn_id = int(payload["user_turn_id"])
                if event is not None:
                    yield event
        except Exception as exc:  # noqa: BLE001 - any failure must leave the session usable
            message = exc.one_line() if isinstance(exc, PixelrsError) else _describe_failure(exc)
            if user_turn_id is not None:
                self.memory.fail_turn(user_turn_id, message)
            yield TurnEvent(kind="error", message=message)
            return
        except BaseException:  # interrupted (Ctrl-C, client gone): keep the message, mark the turn
            if user_turn_id is not None and not final.get("assistant_turn_id"):
                self.memory.fail_turn(user_turn_id, "interrupted before the answer was stored")
            raise
        summary = TurnSummary(
            session_id=session_id,
            turn_index=int(final.get("turn_index", 0)),
            act=final.get("act", Act.CHITCHAT),
            intent=final.get("intent", Intent()),
            masks=list(final.get("masks", [])),
            reply=str(final.get("reply", "")),
            latency_ms=(time.perf_counter() - started) * 1000,
            backend_ms=float(final.get("backend_ms", 0.0)),
        )
        yield TurnEvent(kind="done", turn=summary, act=summary.act, intent=summary.intent, masks=summary.masks)

    def run_turn_sync(self, session_id: str, text: str | None, **kwargs: Any) -> TurnSummary:
        """Run a turn to completion; raise :class:`PixelrsError` with the one-line error if it failed."""
        summary: TurnSummary | None = None
        for event in self.run_turn(session_id, text, **kwargs):
            if event.kind == "error":
                raise PixelrsError(event.message)
            if event.kind == "done":
                summary = event.turn
        assert summary is not None
        return summary

    @staticmethod
    def _to_event(payload: dict[str, Any]) -> TurnEvent | None:
        kind = payload.get("type")
        if kind == "progress":
            return TurnEvent(kind="progress", stage=payload.get("stage", ""), message=payload.get("message", ""))
        if kind == "stored":
            return TurnEvent(kind="stored")
        if kind == "intent":
            return TurnEvent(kind="intent", act=payload["act"], intent=payload["intent"], message=payload.get("reason", ""))
        if kind == "mask":
            return TurnEvent(kind="mask", masks=list(payload.get("masks", [])))
        if kind == "token":
            return TurnEvent(kind="token", text=str(payload.get("text", "")))
        return None

    def close(self) -> None:
        """Release the database connections."""
        self.memory.close()


def _describe_failure(exc: BaseException) -> str:
    """One line for an unexpected failure, naming GPU out-of-memory plainly."""
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if "out of memory" in text.lower() or name == "OutOfMemoryError":
        return "the model ran out of GPU memory on this turn; try a smaller image or another backend."
    return f"this turn failed ({name}: {text[:300]}); the session is kept, you can try again."
