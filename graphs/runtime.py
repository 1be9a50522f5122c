"""The runtime: one object that wires memory, backend, tools, tracker and the turn graph.

The CLI and the Gradio app talk only to this object. It holds no per-user state: sessions live
in memory (SQL) and callers pass the session id (and owner) with every call. Its only caches are
content-addressed (decoded images by sha256, decoded masks by RLE; :mod:`graphs.caches`; the rule
trackers' parses by text), so they are safe to share between users. Which intent tracker a turn
uses is chosen per call by name (``rules``, ``llm``), so each browser or command picks its own.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.tools import BaseTool

from agent.corrections import check_prompts
from agent.errors import BadInputError, PixelrsError, TurnStopped
from agent.images import DEFAULT_LIMITS, ImageLimits, LoadedImage, decode_image
from agent.intent import IntentTracker, RuleIntentTracker, build_trackers
from agent.memory import Memory, SessionHistory, SessionSummary
from agent.settings import Settings
from agent.text import clean_user_text
from agent.types import Act, Intent, MaskOut, Prompts
from graphs.caches import ImageCache, MaskCache
from graphs.planner import Planner, RulePlanner, build_planner
from graphs.state import PictureRef, TurnInput
from graphs.turn import TurnContext, build_turn_graph
from tools.backends.base import Backend
from tools.explain import ExplainTool
from tools.registry import create_backend, extra_tools
from tools.segment import SegmentTool

log = logging.getLogger(__name__)

EventKind = Literal["progress", "stored", "intent", "mask", "token", "picture", "done", "error"]


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
    pictures: list[PictureRef] = field(default_factory=list)
    """Pictures an extra tool returned (stored by sha256; read them with ``Runtime.image``)."""


@dataclass(frozen=True)
class TurnEvent:
    """One streamed update of a turn, in the order they happen.

    ``progress``: ``stage``/``message``; ``stored``: the user message is committed;
    ``intent``: ``act``/``intent``; ``mask``: ``masks``; ``token``: ``text`` chunk;
    ``picture``: ``pictures`` an extra tool returned; ``done``: ``turn``; ``error``: ``message``
    (one line; the session carries on).
    """

    kind: EventKind
    stage: str = ""
    message: str = ""
    act: Act | None = None
    intent: Intent | None = None
    masks: list[MaskOut] = field(default_factory=list)
    text: str = ""
    turn: TurnSummary | None = None
    pictures: list[PictureRef] = field(default_factory=list)


class Runtime:
    """Runs turns and manages sessions over one memory and one backend."""

    def __init__(
        self,
        *,
        memory: Memory,
        backend: Backend,
        tracker: IntentTracker | None = None,
        tools: Sequence[BaseTool] = (),
        trackers: dict[str, IntentTracker] | None = None,
        planner: Planner | None = None,
        image_limits: ImageLimits = DEFAULT_LIMITS,
    ) -> None:
        """``tracker`` is the default tracker; ``trackers`` every tracker a turn may pick by name
        (``run_turn(..., tracker="llm")``), the default among them under its ``name``. ``tools``
        are the extra tools (plug-ins); ``planner`` chooses which node answers each turn
        (default: the rules)."""
        self.memory = memory
        self.backend = backend
        self.tracker = tracker or next(iter((trackers or {}).values()), None) or RuleIntentTracker()
        self.tracker_name = str(getattr(self.tracker, "name", "rules"))
        self.trackers: dict[str, IntentTracker] = {self.tracker_name: self.tracker, **(trackers or {})}
        self.image_limits = image_limits
        """What one uploaded image may cost (refusal limits and the working pixel budget)."""
        self.images = ImageCache(memory)
        self.masks = MaskCache()
        self.extra_tools = list(tools)
        self.planner: Planner = planner or RulePlanner()
        self.segment_tool = SegmentTool(backend=backend)
        self.explain_tool = ExplainTool(backend=backend)
        self.graph = self._compile(self.tracker)
        self._graphs = {self.tracker_name: self.graph}
        self._graphs_lock = threading.Lock()

    def _compile(self, tracker: IntentTracker) -> Any:
        """Return the turn graph over this runtime's parts with ``tracker``."""
        return build_turn_graph(
            segment_tool=self.segment_tool,
            explain_tool=self.explain_tool,
            tracker=tracker,
            memory=self.memory,
            load_image=self.images.get,
            masks=self.masks,
            extra_tools=self.extra_tools,
            planner=self.planner,
        )

    def graph_for(self, tracker: str | None) -> Any:
        """Return the turn graph that tracks with the named tracker (None: the default); one-line error if unknown."""
        name = tracker or self.tracker_name
        with self._graphs_lock:
            if name not in self._graphs:
                if name not in self.trackers:
                    raise PixelrsError(f"unknown tracker {name!r}; this server offers {', '.join(self.trackers)}")
                self._graphs[name] = self._compile(self.trackers[name])
            return self._graphs[name]

    @classmethod
    def from_settings(cls, settings: Settings, *, backend: Backend | None = None) -> Runtime:
        """Build memory, backend (by registry name), trackers and extra tools (entry points) from settings.

        The database opens first, so a bad ``--db`` is reported before any model loads.
        """
        memory = Memory(
            settings.resolved_db_url(),
            turn_wait_s=settings.turn_wait_s,
            turn_lease_s=settings.turn_lease_s,
        )
        try:
            backend = backend or create_backend(settings.backend, **settings.backend_options)
            prepare = getattr(backend, "load", None) or getattr(backend, "warm", None)
            if callable(prepare):
                prepare()  # load weights / OCR now, so a bad checkpoint is reported before any chat
            trackers = build_trackers(
                settings.tracker, llm=settings.llm, timeout_s=settings.llm_timeout_s, backend=backend
            )
            for tracker in trackers.values():
                warm_tracker = getattr(tracker, "warm", None)
                if callable(warm_tracker):
                    warm_tracker()  # the parser and word lists: not inside the first turn's lock
            planner = build_planner(
                settings.planner, llm=settings.llm, timeout_s=settings.llm_timeout_s, backend=backend
            )
            tools = extra_tools(backend=backend, memory=memory, names=settings.tools)
        except BaseException:
            memory.close()
            raise
        return cls(
            memory=memory,
            backend=backend,
            tools=tools,
            trackers=trackers,
            planner=planner,
            image_limits=settings.image_limits(),
        )

    @property
    def backend_name(self) -> str:
        """Registry name of the backend in use."""
        return getattr(self.backend, "name", type(self.backend).__name__)

    # sessions -------------------------------------------------------------------------------
    def new_session(
        self, *, owner: str | None = None, title: str | None = None, session_id: str | None = None
    ) -> str:
        """Create an empty session and return its id (``session_id``: a UUID to use instead of a new one)."""
        return self.memory.create_session(
            owner=owner, title=title, backend=self.backend_name, session_id=session_id
        ).id

    def list_sessions(self, *, owner: str | None = None) -> list[SessionSummary]:
        """Return the owner's sessions, most recently updated first."""
        return self.memory.list_sessions(owner=owner)

    def rename_session(self, session_id: str, title: str, *, owner: str | None = None) -> None:
        """Give a session a new title."""
        self.memory.rename_session(session_id, clean_user_text(title)[:200], owner=owner)

    def delete_session(self, session_id: str, *, owner: str | None = None) -> None:
        """Delete a session with its turns, masks and unshared images; drop the caches for it."""
        for sha in self.memory.delete_session(session_id, owner=owner):
            self.images.forget(sha)
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
        tracker: str | None = None,
    ) -> Iterator[TurnEvent]:
        """Run one user turn and stream its events; never raises for user or backend errors.

        Bad input (empty/huge text, non-image upload, unknown session) yields one ``error``
        event and stores nothing. A failure after the user's message was stored marks that
        turn failed with its error; the session stays usable. Events come through LangGraph's
        custom stream, so a consumer sees each one while the turn is still running.
        """
        return self._turn(
            session_id, text, image=image, image_name=image_name, prompts=prompts, owner=owner,
            tracker=tracker,
        )

    def run_turn_sync(
        self,
        session_id: str,
        text: str | None,
        *,
        on_event: Callable[[TurnEvent], None] | None = None,
        image: bytes | LoadedImage | None = None,
        image_name: str = "image",
        prompts: Prompts | None = None,
        owner: str | None = None,
        stop: threading.Event | None = None,
        tracker: str | None = None,
    ) -> TurnSummary:
        """Run a turn to completion on this thread; raise :class:`PixelrsError` with the one-line error if it failed.

        ``on_event`` (optional) is called inline with every event as it happens, ending with
        ``done`` or ``error``. This is the cheap path (no thread hand-offs): the CLI, replay,
        evaluation and benchmarks use it. Setting ``stop`` (from another thread) ends the turn at
        its next event, before the answer is stored: the user's message stays, marked stopped,
        and the ``error`` event has ``stage="stopped"``.
        """
        summary: TurnSummary | None = None
        sink = on_event or _ignore
        for event in self._turn(
            session_id,
            text,
            image=image,
            image_name=image_name,
            prompts=prompts,
            owner=owner,
            on_event=sink,
            stop=stop,
            tracker=tracker,
        ):
            sink(event)
            if event.kind == "error":
                raise TurnStopped(event.message) if event.stage == "stopped" else PixelrsError(event.message)
            summary = event.turn
        assert summary is not None
        return summary

    def _turn(
        self,
        session_id: str,
        text: str | None,
        *,
        image: bytes | LoadedImage | None,
        image_name: str,
        prompts: Prompts | None,
        owner: str | None,
        on_event: Callable[[TurnEvent], None] | None = None,
        stop: threading.Event | None = None,
        tracker: str | None = None,
    ) -> Iterator[TurnEvent]:
        """Run one turn; yield every event, or with ``on_event`` send events to it inline and yield only the end.

        ``tracker`` names the intent tracker for this turn (one of :attr:`trackers`)."""
        started = time.perf_counter()
        prompts = prompts or Prompts()
        try:
            graph = self.graph_for(tracker)
            if not prompts.empty and not (text or "").strip():
                text = (
                    "(correction: box)"
                    if prompts.box is not None
                    else f"(correction: {len(prompts.points)} click(s))"
                )
            cleaned = clean_user_text(text)
            loaded = (
                image
                if isinstance(image, LoadedImage) or image is None
                else decode_image(image, name=image_name, limits=self.image_limits)
            )
            if not prompts.empty:
                self._check_correction(session_id, prompts, loaded, owner)
        except PixelrsError as exc:
            yield TurnEvent(kind="error", message=exc.one_line())
            return
        if loaded is not None:
            self.images.put(loaded)
        state = TurnInput(
            session_id=session_id,
            user_text=cleaned,
            new_image=loaded,
            prompts=prompts,
            owner=owner,
            started_at=started,
        )
        stored: list[int] = []  # the user turn's id, once committed
        final: dict[str, Any] = {}

        def forward(payload: dict[str, Any]) -> TurnEvent | None:
            if payload.get("type") == "stored":
                stored.append(int(payload["user_turn_id"]))
            return self._to_event(payload)

        def send_inline(payload: dict[str, Any]) -> None:
            event = forward(payload)  # first, so that a stop at "stored" knows which turn to mark
            if stop is not None and stop.is_set():
                raise TurnStopped()
            if event is not None and on_event is not None:
                on_event(event)

        try:
            if on_event is not None:
                context = TurnContext(emit=send_inline)
                for update in graph.stream(state, stream_mode="updates", context=context):
                    _merge_update(final, update)
                    if stop is not None and stop.is_set() and not final.get("assistant_turn_id"):
                        raise TurnStopped()
            else:
                for mode, payload in graph.stream(state, stream_mode=["custom", "updates"]):
                    if mode == "updates":
                        _merge_update(final, payload)
                    elif isinstance(payload, dict) and (event := forward(payload)) is not None:
                        yield event
        except Exception as exc:  # noqa: BLE001 - any failure must leave the session usable
            message = exc.one_line() if isinstance(exc, PixelrsError) else _describe_failure(exc)
            if stored:
                self._settle(stored[0], message)
            yield TurnEvent(kind="error", message=message, stage="stopped" if isinstance(exc, TurnStopped) else "")
            return
        except BaseException:  # interrupted (Ctrl-C, SIGTERM, client gone): keep the message
            if stored and not final.get("assistant_turn_id"):
                self._settle(stored[0], None)
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
            pictures=list(final.get("pictures", [])),
        )
        yield TurnEvent(
            kind="done", turn=summary, act=summary.act, intent=summary.intent, masks=summary.masks
        )

    def _check_correction(
        self, session_id: str, prompts: Prompts, image: LoadedImage | None, owner: str | None
    ) -> None:
        """Refuse clicks and boxes that are not finite points on the turn's image (before storing)."""
        if image is None:
            sha = self.memory.recall(session_id, owner=owner).current_image_sha
            if sha is None:
                raise BadInputError("upload an image and ask for something before correcting a mask.")
            image = self.images.get(sha)
        check_prompts(prompts, image.ref.width, image.ref.height)

    def _settle(self, user_turn_id: int, error: str | None) -> None:
        """Mark a turn failed with ``error`` (None: interrupted); never raises (the session may be gone)."""
        try:
            if error is None:
                self.memory.interrupt_turn(user_turn_id)
            else:
                self.memory.fail_turn(user_turn_id, error)
        except Exception:  # noqa: BLE001 - deleted session, database gone: the log has it
            log.warning("could not settle turn %s", user_turn_id, exc_info=True)

    def recover(self, session_id: str | None = None) -> int:
        """Mark turns left pending by dead processes interrupted (all sessions, or one)."""
        return self.memory.recover(session_id)

    @staticmethod
    def _to_event(payload: dict[str, Any]) -> TurnEvent | None:
        kind = payload.get("type")
        if kind == "progress":
            return TurnEvent(
                kind="progress", stage=payload.get("stage", ""), message=payload.get("message", "")
            )
        if kind == "stored":
            return TurnEvent(kind="stored")
        if kind == "intent":
            return TurnEvent(
                kind="intent",
                act=payload["act"],
                intent=payload["intent"],
                message=payload.get("reason", ""),
            )
        if kind == "mask":
            return TurnEvent(kind="mask", masks=list(payload.get("masks", [])))
        if kind == "token":
            return TurnEvent(kind="token", text=str(payload.get("text", "")))
        if kind == "picture":
            return TurnEvent(kind="picture", pictures=list(payload.get("pictures", [])))
        return None

    def close(self) -> None:
        """Release the database connections."""
        self.memory.close()


def _ignore(_event: TurnEvent) -> None:
    """Drop an event (the sink when nobody listens)."""


def _merge_update(final: dict[str, Any], update: Any) -> None:
    """Fold one ``updates``-mode chunk (``{node: changes}``) into the turn's final values."""
    if isinstance(update, dict):
        for changes in update.values():
            if isinstance(changes, dict):
                final.update(changes)


def _describe_failure(exc: BaseException) -> str:
    """One plain line for an unexpected failure; the details (type, text, traceback) go to the log.

    The line carries a short reference that is also in the log record, so an operator finds the
    traceback of what a user reports. GPU out-of-memory is named plainly.
    """
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if "out of memory" in text.lower() or name == "OutOfMemoryError":
        log.warning("turn failed: out of memory: %s", text[:500])
        return (
            "the model ran out of GPU memory on this turn; try a smaller image or another backend."
        )
    reference = uuid.uuid4().hex[:8]
    log.error("turn failed (reference %s)", reference, exc_info=exc)
    return (
        f"this turn failed because of an internal error (reference {reference}); "
        "the session is kept, you can try again."
    )
