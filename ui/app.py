"""The Gradio chat app: :class:`ChatUI` builds the Blocks around one :class:`~graphs.runtime.Runtime`.

Layout: sessions (left), chat (middle), current image + mask, correction tools, tracked intent,
latency and exports (right). Every handler is a method that takes the per-browser
:class:`~ui.state.UIState` (``gr.State``) and returns/yields plain values, so tests call them
directly; :meth:`ChatUI.create_app` only wires them to components. The app keeps no per-user data
outside ``gr.State`` and SQL: the runtime is shared and stateless, the file store content-addressed.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import secrets
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import gradio as gr

from agent.errors import PixelrsError, UnknownSessionError
from agent.images import sha256_hex
from agent.types import BoxPrompt, Mask, MaskOut, PointPrompt, Prompts, shown_masks
from graphs.runtime import Runtime, TurnEvent, TurnSummary
from ui.chat import (
    ShownMask,
    TurnView,
    describe_prompts,
    latency_rows,
    mask_image_sha,
    notice_message,
    stored_turn_messages,
    user_message,
)
from ui.exports import exports_html
from ui.files import FileStore
from ui.layout import CSS, PAGE_JS, build_blocks
from ui.links import Links
from ui.pictures import Pictures
from ui.render import (
    LatencyRow,
    intent_html,
    marks_summary,
    mask_color,
    session_caption,
    status_html,
    to_image_coords,
)
from ui.retry import UNANSWERED, retry_request, retryable_index
from ui.routes import build_routes, picture_guard
from ui.state import UIState
from ui.stream import END, drain, start_turn
from ui.tool_pictures import event_pictures, picture_tags, stored_pictures

if TYPE_CHECKING:
    from agent.memory import SessionHistory

log = logging.getLogger(__name__)

AnonymousMode = Literal["browser", "shared"]


class PanelUpdate(NamedTuple):
    """Outputs every session-level handler returns, in the order :meth:`ChatUI.create_app` wires them."""

    chat: Any
    side_image: Any
    intent: Any
    status: Any
    session_id: Any
    title: Any
    marks: Any
    delete_button: Any
    retry_button: Any
    state: UIState
    browser: Any


def _title_from(text: str, fallback: str) -> str:
    words = " ".join(text.split())
    if not words or words.startswith("("):
        return fallback
    return words if len(words) <= 60 else words[:59] + "…"


class ChatUI:
    """The pixelrs chat app around one runtime.

    Args:
        runtime: the shared :class:`~graphs.runtime.Runtime` (memory + backend + turn graph).
        title: browser tab and header title.
        anonymous: without login, ``"browser"`` gives every browser its own private sessions
            (owner ``browser:<random token>`` kept in the browser's local storage), ``"shared"``
            shows every session in the database (single-user local use).
        concurrency: how many turns run at once (``demo.queue(default_concurrency_limit=...)``).
        browser_secret: key that encrypts what the app keeps in the browser's local storage; keep
            it stable so that browsers resume after a server restart (default: derived from the
            database URL).
        max_display_side: the side picture is scaled to this longest side; clicks are mapped back.
        files: where pictures are written (default: a fresh temporary folder).
        mcp: also offer the segment, explain and session tools to MCP clients (needs ``mcp``).

    Example:
        >>> ui = ChatUI(Runtime(memory=Memory("sqlite:///pixelrs.db"), backend=LiteBackend()))
        >>> ui.launch(server_port=7860)  # doctest: +SKIP
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        title: str = "pixelrs",
        anonymous: AnonymousMode = "browser",
        concurrency: int = 4,
        browser_secret: str | None = None,
        max_display_side: int = 1280,
        files: FileStore | None = None,
        mcp: bool = False,
    ) -> None:
        if anonymous not in ("browser", "shared"):
            raise ValueError(f"anonymous must be 'browser' or 'shared', not {anonymous!r}")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.runtime = runtime
        self.title = title
        self.anonymous: AnonymousMode = anonymous
        self.concurrency = concurrency
        memory_url = getattr(runtime.memory, "url", repr(runtime.memory))
        self.browser_secret = browser_secret or hashlib.sha256(f"pixelrs-ui:{memory_url}".encode()).hexdigest()[:32]
        self.max_display_side = max_display_side
        self.mcp = mcp
        """Serve the segment, explain and session tools over MCP too (:mod:`ui.mcp_tools`)."""
        self.files = files or FileStore()
        # Pictures are content-addressed and never rewritten: Gradio may serve them in place
        # instead of hashing and copying every chat image again on each streamed update.
        gr.set_static_paths([self.files.root / "img"])
        self.links = Links()  # signs the chat picture and export links of this app (random key)
        self.pictures = Pictures(
            image=lambda sha: runtime.image(sha).rgb,
            image_bytes=runtime.memory.image_bytes,
            files=self.files,
            max_display_side=max_display_side,
        )
        self.demo: gr.Blocks | None = None
        self._stops: dict[str, threading.Event] = {}
        """The stop switch of each session's running turn (set by :meth:`stop`)."""

    # identity ---------------------------------------------------------------------------------
    def owner_for(self, state: UIState, request: gr.Request | None = None) -> str | None:
        """Return the owner of this browser's sessions: login name, browser token, or None (shared)."""
        username = getattr(request, "username", None) if request is not None else None
        if username:
            state.owner = str(username)
            return state.owner
        if self.anonymous == "shared":
            return None
        if state.owner is None or not state.owner.startswith("browser:"):
            state.owner = f"browser:{secrets.token_urlsafe(18)}"
        return state.owner

    def _browser_value(self, state: UIState) -> dict[str, Any]:
        token = state.owner if state.owner and state.owner.startswith("browser:") else None
        return {"token": token, "session": state.session_id}

    # pictures ---------------------------------------------------------------------------------
    def side_picture(self, state: UIState) -> str | None:
        """Return the side-panel picture for the state's image, mask, view mode and clicks."""
        if state.image_sha is None:
            return None
        mask = Mask.from_rle(state.mask_rle) if state.mask_rle is not None else None
        path, state.display_scale = self.pictures.side(
            state.image_sha, mask, state.view, mask_color(state.mask_color_index), state.marks
        )
        return self.files.grant(path, self.links.owner_id(state.owner))

    # panels -----------------------------------------------------------------------------------
    def _status(self, state: UIState, rows: Sequence[LatencyRow]) -> str:
        return status_html(self.runtime.backend_name, rows, session_id=state.session_id, owner=state.owner)

    def _delete_button(self, state: UIState) -> Any:
        label = "Click again to delete" if state.confirm_delete else "Delete session"
        return gr.update(value=label, interactive=state.session_id is not None)

    def _panel(
        self,
        state: UIState,
        *,
        side: Any = None,
        intent: Any = None,
        status: Any = None,
        title: Any = None,
        light: bool = False,
    ) -> PanelUpdate:
        """Build the outputs for the state; ``light`` (mid-turn updates) leaves session widgets alone."""
        if light:  # chat, side picture, intent and status only; the rest stays as it is
            skip = gr.skip()
            extra = (skip if intent is None else intent, skip if status is None else status)
            return PanelUpdate(list(state.chat), side, *extra, skip, skip, skip, skip, skip, skip, skip)
        return PanelUpdate(
            chat=list(state.chat),
            side_image=self.side_picture(state) if side is None else side,
            intent=gr.skip() if intent is None else intent,
            status=gr.skip() if status is None else status,
            session_id=state.session_id or "",
            title=gr.skip() if title is None else title,
            marks=marks_summary(state.marks, state.click_mode),
            delete_button=self._delete_button(state),
            retry_button=gr.update(visible=state.retry_index is not None),
            state=state,
            browser=self._browser_value(state),
        )

    def _load_history(self, state: UIState, history: SessionHistory) -> tuple[str, str, list[LatencyRow]]:
        """Rebuild the chat, image, mask and colours of ``state`` from a stored session."""
        state.session_id = history.session.id
        state.chat = []
        state.clear_marks()
        state.confirm_delete = False
        state.turn_numbers = {}
        color_of: dict[int, int] = {}
        palette = 0
        rows: list[LatencyRow] = []
        image_sha: str | None = None
        image_turn = -1
        user_number = 0
        last_act: str | None = None
        current_id: int | None = None
        for turn in history.turns:
            if turn.role == "user":
                user_number += 1
                state.turn_numbers[turn.index] = user_number
                if turn.image_sha:
                    if turn.image_sha != image_sha:
                        current_id = None
                    image_sha, image_turn = turn.image_sha, turn.index
                picture = self.pictures.chat_image(turn.image_sha) if turn.image_sha else None
                state.chat.append(user_message(turn.text, self.picture_html(picture, state.owner, "uploaded image")))
                if turn.status == "failed":
                    state.chat.append(notice_message(f"Not answered: {turn.error or 'failed'}"))
                    rows.append(LatencyRow(turn=user_number, act=None, latency_ms=None, status="failed"))
                elif turn.status in UNANSWERED:
                    state.chat.append(notice_message(UNANSWERED[turn.status]))
                continue
            shown: list[ShownMask] = []
            path = None
            if turn.masks:
                drawn = shown_masks(turn.masks)
                for mask in drawn:
                    color_of[mask.id], palette = palette, palette + 1
                # the current mask (the union, when several instances are drawn) takes the first colour
                color_of.setdefault(turn.masks[0].id, color_of[drawn[0].id])
                shown = [ShownMask(m.label, m.score, mask_color(color_of[m.id])) for m in drawn]
                if image_sha is not None:
                    path = self.pictures.overlay(image_sha, [m.mask() for m in drawn], [s.color for s in shown])
            state.chat.extend(
                stored_turn_messages(
                    turn_id=f"turn-{turn.id}",
                    act=turn.act,
                    intent=turn.intent,
                    reply=turn.text,
                    latency_ms=turn.latency_ms,
                    overlay_html=self.picture_html(path, state.owner, "mask overlay"),
                    masks=shown,
                    current_color=mask_color(color_of[current_id]) if current_id in color_of else None,
                    pictures=picture_tags(self, stored_pictures(turn), state.owner),
                )
            )
            if turn.masks:
                current_id = turn.masks[0].id
            elif turn.intent is not None and turn.act == "reset":
                current_id = None
            rows.append(LatencyRow(turn=user_number, act=turn.act, latency_ms=turn.latency_ms))
            last_act = turn.act
        state.image_sha = image_sha
        state.retry_index = retryable_index(history)
        state.mask_count = palette
        current = history.current_mask
        if current is not None and current.turn_index > image_turn and current.id in color_of:
            state.mask_id, state.mask_rle = current.id, current.rle
            state.mask_color_index = color_of[current.id]
        else:
            state.mask_id, state.mask_rle, state.mask_color_index = None, None, 0
        color = mask_color(state.mask_color_index) if state.mask_id is not None else None
        state.latency_rows = rows
        return intent_html(history.current_intent, color, last_act, state.turn_numbers), self._status(state, rows), rows

    # sessions list and exports ----------------------------------------------------------------
    def sessions_gallery(self, state: UIState) -> list[tuple[str, str]]:
        """Thumbnails and captions of the owner's sessions; remembers their ids in the state."""
        summaries = self.runtime.list_sessions(owner=state.owner)
        state.listed_ids = [s.id for s in summaries]
        viewer = self.links.owner_id(state.owner)
        return [
            (self.files.grant(self.pictures.thumbnail(s.thumbnail_sha), viewer), session_caption(s.title, s.turn_count, s.updated_at))
            for s in summaries
        ]

    def exports(self, state: UIState) -> str:
        """Return the export panel: signed links; each file is built only when its link is followed."""
        return exports_html(self.links, state.session_id, state.owner, has_masks=state.mask_count > 0, mask_id=state.mask_id)

    def picture_html(self, path: str | None, owner: str | None, alt: str) -> str | None:
        """Return an ``<img>`` tag for a chat picture file (None for None)."""
        return None if path is None else self.links.picture_html(Path(path).name, owner, alt)

    # handlers: page load and sessions ---------------------------------------------------------
    def on_load(self, browser: Any, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Page (re)load: resume the session from ``?session=`` or the browser's storage."""
        stored = browser if isinstance(browser, dict) else {}
        token = stored.get("token")
        if isinstance(token, str) and token.startswith("browser:") and len(token) > 20:
            state.owner = token
        self.owner_for(state, request)
        query = {}
        if request is not None:
            try:
                query = dict(request.query_params)
            except Exception:  # noqa: BLE001 - no request details (e.g. called from a test)
                query = {}
        wanted = query.get("session") or stored.get("session")
        if wanted:
            # a link (?session=) that does not open says so; a remembered session that is gone
            # (deleted, or another login in this browser) just starts a new one
            panel = self._open(state, str(wanted), quiet=not query.get("session"))
        else:
            state.reset_session()
            panel = self._fresh_panel(state)
        return (*panel, self.sessions_gallery(state), self.exports(state))

    def _fresh_panel(self, state: UIState) -> PanelUpdate:
        return self._panel(state, side=None, intent=intent_html(None), status=self._status(state, []), title="")

    def _open(self, state: UIState, session_id: str, *, quiet: bool = False) -> PanelUpdate:
        session_id = " ".join(str(session_id).split())
        try:
            history = self.runtime.history(session_id, owner=state.owner)  # the owner's, or raises
            if self.runtime.recover(session_id):  # turns a dead process left: now interrupted
                history = self.runtime.history(session_id, owner=state.owner)
        except PixelrsError as exc:
            state.reset_session()
            if isinstance(exc, UnknownSessionError):
                message = f"No session {session_id[:80]} here (unknown id, or it belongs to another user)."
            else:
                message = exc.one_line()
            state.chat = [] if quiet else [notice_message(message)]
            return self._fresh_panel(state)
        intent, status, _ = self._load_history(state, history)
        return self._panel(state, intent=intent, status=status, title=history.session.title or "")

    def open_session(self, session_id: str, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Open a session by id (only the owner's own sessions open)."""
        self.owner_for(state, request)
        if not (session_id or "").strip():
            state.chat = [*state.chat, notice_message("Type a session id to open.")]
            return (*self._panel(state), self.exports(state))
        return (*self._open(state, session_id), self.exports(state))

    def open_listed(self, state: UIState, evt: gr.SelectData, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Open the session clicked in the sessions gallery."""
        index = evt.index if isinstance(evt.index, int) else (evt.index[0] if evt.index else 0)
        if not (0 <= index < len(state.listed_ids)):
            return self.open_session("", state, request)
        return self.open_session(state.listed_ids[index], state, request)

    def new_session(self, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Start an empty session (it is created in SQL with its first message)."""
        self.owner_for(state, request)
        state.reset_session()
        return (*self._fresh_panel(state), self.exports(state))

    def rename(self, title: str, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Rename the open session (creating it first when it has no message yet)."""
        owner = self.owner_for(state, request)
        try:
            if state.session_id is None:
                state.session_id = self.runtime.new_session(owner=owner)
            self.runtime.rename_session(state.session_id, title or "", owner=owner)
            new_title = self.runtime.history(state.session_id, owner=owner).session.title or ""
        except PixelrsError as exc:
            state.chat = [*state.chat, notice_message(exc.one_line())]
            return (*self._panel(state), self.sessions_gallery(state))
        return (*self._panel(state, title=new_title), self.sessions_gallery(state))

    def delete(self, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Delete the open session on the second click; the tab then shows an empty session."""
        owner = self.owner_for(state, request)
        if state.session_id is None:
            return (*self._fresh_panel(state), self.sessions_gallery(state), self.exports(state))
        if not state.confirm_delete:
            state.confirm_delete = True
            return (*self._panel(state), self.sessions_gallery(state), gr.skip())
        try:
            self.runtime.delete_session(state.session_id, owner=owner)
        except PixelrsError as exc:
            state.confirm_delete = False
            state.chat = [*state.chat, notice_message(exc.one_line())]
            return (*self._panel(state), self.sessions_gallery(state), gr.skip())
        state.reset_session()
        return (*self._fresh_panel(state), self.sessions_gallery(state), self.exports(state))

    def refresh(self, state: UIState, request: gr.Request | None = None) -> list[tuple[str, str]]:
        """Re-read the sessions gallery from memory."""
        self.owner_for(state, request)
        return self.sessions_gallery(state)

    # handlers: turns --------------------------------------------------------------------------
    def send(self, message: dict[str, Any] | str | None, state: UIState, request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """Run a chat turn (text and/or one image) and stream its updates."""
        owner = self.owner_for(state, request)
        state.confirm_delete = False
        if isinstance(message, str):
            message = {"text": message, "files": []}
        message = message or {}
        text = str(message.get("text") or "")
        files = [f for f in (message.get("files") or []) if f]
        if not text.strip() and not files:
            state.chat = [*state.chat, notice_message("The message is empty; type what you want to find or ask.")]
            yield (gr.skip(), *self._panel(state))
            return
        if len(files) > 1:
            state.chat = [*state.chat, notice_message(f"Send one image at a time ({len(files)} files were attached).")]
            yield (gr.update(value=None), *self._panel(state))
            return
        image: bytes | None = None
        image_name = "image"
        image_mime: str | None = None
        attachment: str | None = None
        if files:
            path = Path(_file_path(files[0]))
            image_name = _display_name(path)
            try:
                image = path.read_bytes()
            except OSError:
                state.chat = [*state.chat, notice_message(f"Could not read the upload {image_name}; please try again.")]
                yield (gr.update(value=None), *self._panel(state))
                return
            mime = mimetypes.guess_type(path.name)[0] or ""
            if mime.startswith("image/"):
                image_mime = mime
            else:
                attachment = image_name
        if not text.strip() and image is not None:
            text = "(image uploaded)"
        yield from self._stream_turn(
            state, owner, text=text, image=image, image_name=image_name, image_mime=image_mime, attachment=attachment
        )

    def correct(self, prompts_json: str | None, state: UIState, request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """Apply the pending clicks/box (or ``prompts_json``, for API clients) as a user-edit turn."""
        owner = self.owner_for(state, request)
        state.confirm_delete = False
        prompts: Prompts | None = None
        if prompts_json and prompts_json.strip():
            try:
                prompts = Prompts.model_validate_json(prompts_json)
            except ValueError:
                state.chat = [*state.chat, notice_message("The correction is not valid prompts JSON ({\"points\": [...], \"box\": {...}}).")]
                yield (gr.skip(), *self._panel(state))
                return
        elif state.has_correction:
            prompts = Prompts(
                points=[PointPrompt(x=x, y=y, positive=p) for x, y, p in state.points],
                box=BoxPrompt(x0=state.box[0], y0=state.box[1], x1=state.box[2], y1=state.box[3]) if state.box else None,
            )
        if prompts is None or prompts.empty:
            state.chat = [*state.chat, notice_message("Click the image (or draw a box) first, then apply the correction.")]
            yield (gr.skip(), *self._panel(state))
            return
        if state.session_id is None or state.image_sha is None:
            state.chat = [*state.chat, notice_message("Upload an image and ask for something before correcting a mask.")]
            yield (gr.skip(), *self._panel(state))
            return
        yield from self._stream_turn(state, owner, text="", prompts=prompts)

    def _stream_turn(
        self,
        state: UIState,
        owner: str | None,
        *,
        text: str,
        image: bytes | None = None,
        image_name: str = "image",
        image_mime: str | None = None,
        attachment: str | None = None,
        prompts: Prompts | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        created = False
        if state.session_id is None:
            try:
                state.session_id = self.runtime.new_session(owner=owner, title=_title_from(text, image_name if image else "New session"))
            except PixelrsError as exc:
                state.chat = [*state.chat, notice_message(exc.one_line())]
                yield (gr.skip(), *self._panel(state))
                return
            created = True
            state.mask_count = 0
        shown_text = text
        if prompts is not None and not prompts.empty:
            shown_text = describe_prompts(prompts)
        upload = self.pictures.upload(image, image_mime) if image is not None and image_mime else None
        state.chat = [*state.chat, user_message(shown_text, self.picture_html(upload, owner, "uploaded image"), attachment)]
        view = TurnView(turn_id=f"live-{uuid.uuid4().hex[:10]}")
        if state.mask_rle is not None:
            view.current_color = mask_color(state.mask_color_index)
        base = len(state.chat)
        state.chat = [*state.chat, *view.messages()]
        stop = self._stops[state.session_id] = threading.Event()
        try:
            yield (gr.update(value=None, interactive=False), *self._panel(state, side=gr.skip()))
            yield from self._follow_turn(state, owner, view, base, created, stop, text=text, image=image,
                                         image_name=image_name, prompts=prompts)
        finally:
            if self._stops.get(state.session_id) is stop:
                del self._stops[state.session_id]

    def retry(self, state: UIState, request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """Send the session's unanswered last message (interrupted or failed) again as a new turn."""
        owner = self.owner_for(state, request)
        state.confirm_delete = False
        again = None
        if state.session_id is not None and state.retry_index is not None:
            try:
                history = self.runtime.history(state.session_id, owner=owner)
                again = retry_request(history, state.retry_index, self.runtime.memory.image_bytes)
            except PixelrsError as exc:
                log.info("retry refused: %s", exc.one_line())
        state.retry_index = None
        if again is None:
            state.chat = [*state.chat, notice_message("Nothing to retry: every message here was answered.")]
            yield (gr.skip(), *self._panel(state))
            return
        yield from self._stream_turn(state, owner, text=again.text, image=again.image, image_mime=again.image_mime)

    def stop(self, state: UIState) -> None:
        """Stop this browser's running turn at its next step; its message is kept, marked stopped."""
        switch = self._stops.get(state.session_id or "")
        if switch is not None:
            switch.set()

    def _follow_turn(
        self,
        state: UIState,
        owner: str | None,
        view: TurnView,
        base: int,
        created: bool,
        stop: threading.Event,
        *,
        text: str,
        image: bytes | None,
        image_name: str,
        prompts: Prompts | None,
    ) -> Iterator[tuple[Any, ...]]:
        """Run the turn beside this handler and stream its events into the chat."""
        stored = False
        shown_before = (state.mask_rle, state.mask_id, state.mask_count, state.mask_color_index)
        intent_panel: str | None = None
        events = start_turn(self.runtime, state.session_id or "", text, image=image, image_name=image_name,
                            prompts=prompts, owner=owner, stop=stop, tracker=state.tracker)
        finished = False
        while not finished:
            batch = drain(events)
            side: Any = gr.skip()
            status: str | None = None
            dirty = False
            for event in batch:
                if event is END:
                    finished = True
                    continue
                if isinstance(event, BaseException):  # the runtime never raises for user/backend errors
                    event = TurnEvent(kind="error", message=f"this turn failed ({type(event).__name__}); the session is kept, you can try again.")
                if event.kind == "progress":
                    before = view.messages()[0]["metadata"].get("title")
                    view.on_progress(event.stage)
                    dirty = dirty or view.messages()[0]["metadata"].get("title") != before
                elif event.kind == "stored":
                    stored = True
                    if image is not None:
                        new_sha = sha256_hex(image)
                        if new_sha != state.image_sha:
                            state.image_sha, state.mask_id, state.mask_rle = new_sha, None, None
                            shown_before = (None, None, state.mask_count, state.mask_color_index)
                        state.clear_marks()  # the side picture shows the new image with the reply
                elif event.kind == "intent":
                    # the progress bubble shows the act and target now; the intent panel follows
                    # with the reply, so the browser stays idle while the backend segments
                    view.on_intent(event.act, event.intent)
                    dirty = True
                elif event.kind == "mask":
                    self._show_masks(state, view, event.masks)  # the side picture follows with the reply
                    dirty = True
                elif event.kind == "token":
                    view.on_token(event.text)
                    dirty = True
                elif event.kind == "picture":
                    view.on_pictures(picture_tags(self, event_pictures(event.pictures), state.owner))
                    dirty = True
                elif event.kind == "done" and event.turn is not None:
                    status = self._finish(state, view, event.turn, prompts)
                    intent_panel = intent_html(
                        event.turn.intent,
                        mask_color(state.mask_color_index) if state.mask_rle else None,
                        event.turn.act.value,
                        state.turn_numbers,
                    )
                    side, dirty = self.side_picture(state), True  # cached; the last update is complete for API clients
                elif event.kind == "error":
                    view.on_error(event.message, stopped=event.stage == "stopped")
                    # a mask shown before the failure was not stored: the current mask is the old one
                    state.mask_rle, state.mask_id, state.mask_count, state.mask_color_index = shown_before
                    side, dirty = self.side_picture(state), True
                    if created and not stored:
                        self._drop_empty_session(state, owner)
            if dirty or finished:
                state.chat = [*state.chat[:base], *view.messages()]
                yield (gr.skip(), *self._panel(state, side=side, intent=intent_panel, status=status, light=not finished))

    def _finish(self, state: UIState, view: TurnView, summary: TurnSummary, prompts: Prompts | None) -> str:
        """Apply a finished turn to the state; return the status panel."""
        view.on_done(summary.reply, summary.latency_ms)
        state.turn_numbers.setdefault(summary.turn_index, max(state.turn_numbers.values(), default=0) + 1)
        if summary.masks and summary.masks[0].id is not None:
            state.mask_id = summary.masks[0].id
        if prompts is not None and not prompts.empty:
            state.clear_marks()
        number = state.turn_numbers[summary.turn_index]
        row = LatencyRow(turn=number, act=summary.act.value, latency_ms=summary.latency_ms)
        state.latency_rows = [*state.latency_rows, row]
        return self._status(state, state.latency_rows)

    def _show_masks(self, state: UIState, view: TurnView, masks: Sequence[MaskOut]) -> None:
        """Render this turn's masks into the chat overlay and make the best one current."""
        if not masks or state.image_sha is None:
            view.on_mask(None, [])
            return
        drawn = shown_masks(masks)
        colors = [mask_color(state.mask_count + i) for i in range(len(drawn))]
        shown = [ShownMask(m.label, m.score, c) for m, c in zip(drawn, colors, strict=True)]
        path = self.pictures.overlay(state.image_sha, [m.mask for m in drawn], colors)
        view.on_mask(self.picture_html(path, state.owner, "mask overlay"), shown)
        state.mask_color_index = state.mask_count
        state.mask_count += len(drawn)
        state.mask_rle = masks[0].mask.to_rle()
        state.mask_id = masks[0].id

    def _drop_empty_session(self, state: UIState, owner: str | None) -> None:
        """Remove a session this call created when its first message was refused."""
        if state.session_id is None:
            return
        try:
            if not self.runtime.history(state.session_id, owner=owner).turns:
                self.runtime.delete_session(state.session_id, owner=owner)
        except PixelrsError:
            log.debug("could not drop empty session %s", state.session_id, exc_info=True)
        state.session_id = None

    def after_turn(self, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """After a turn: re-enable the input, refresh sessions, exports, latency and the stored mask."""
        self.owner_for(state, request)
        title: Any = gr.skip()
        status: Any = gr.skip()
        side: Any = gr.skip()
        if state.session_id is not None:
            try:
                history = self.runtime.history(state.session_id, owner=state.owner)
            except PixelrsError:
                history = None
            if history is not None:
                title = history.session.title or ""
                state.turn_numbers = {t.index: n for n, t in enumerate((t for t in history.turns if t.role == "user"), 1)}
                state.latency_rows = latency_rows(history)
                status = self._status(state, state.latency_rows)
                state.retry_index = retryable_index(history)
                current = history.current_mask
                if current is not None and current.id != state.mask_id and state.image_sha == mask_image_sha(history, current):
                    state.mask_id, state.mask_rle = current.id, current.rle
                    side = self.side_picture(state)
        return (
            gr.update(interactive=True),
            self.sessions_gallery(state),
            self.exports(state),
            status,
            side,
            state.session_id or "",
            title,
            gr.update(visible=state.retry_index is not None),
            self._browser_value(state),
            state,
        )

    # handlers: side panel ---------------------------------------------------------------------
    def on_image_click(self, state: UIState, evt: gr.SelectData) -> tuple[Any, ...]:
        """Handle a click on the side picture: add a point, or a box corner in box mode."""
        index = evt.index if isinstance(evt.index, list | tuple) else None
        return self.add_click(state, index)

    def add_click(self, state: UIState, index: Sequence[float] | None) -> tuple[Any, ...]:
        """Record a click at display coordinates ``index`` = (x, y) and redraw the marks."""
        if state.image_sha is None or index is None or len(index) < 2:
            return (self.side_picture(state), marks_summary(state.marks, state.click_mode), state)
        loaded = self.runtime.image(state.image_sha)
        x, y = to_image_coords(float(index[0]), float(index[1]), state.display_scale, loaded.ref.width, loaded.ref.height)
        if state.click_mode == "box":
            if state.box_start is None:
                state.box_start, state.box = (x, y), None
            else:
                x0, y0 = state.box_start
                state.box = (min(x0, x), min(y0, y), max(x0, x), max(y0, y))
                state.box_start = None
        else:
            state.points.append((x, y, state.click_mode == "positive"))
        return (self.side_picture(state), marks_summary(state.marks, state.click_mode), state)

    def clear_clicks(self, state: UIState) -> tuple[Any, ...]:
        """Forget the pending correction."""
        state.clear_marks()
        return (self.side_picture(state), marks_summary(state.marks, state.click_mode), state)

    def set_view(self, view: str, state: UIState) -> tuple[Any, ...]:
        """Switch the side picture between overlay, mask only and image only."""
        state.view = view if view in ("overlay", "mask", "image") else "overlay"  # type: ignore[assignment]
        return (self.side_picture(state), state)

    def set_click_mode(self, mode: str, state: UIState) -> tuple[Any, ...]:
        """Switch between adding points, removing points and drawing a box."""
        state.click_mode = mode if mode in ("positive", "negative", "box") else "positive"  # type: ignore[assignment]
        state.box_start = None
        return (self.side_picture(state), marks_summary(state.marks, state.click_mode), state)

    # wiring -----------------------------------------------------------------------------------
    def create_app(self) -> gr.Blocks:
        """Build the Blocks (not launched), with the queue configured."""
        self.demo = build_blocks(self)
        return self.demo

    def launch_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``Blocks.launch`` (CSS, allowed file folder, upload limit)."""
        kwargs: dict[str, Any] = {
            "css": CSS,
            "js": PAGE_JS,
            "allowed_paths": [str(self.files.root / "img")],
            "max_file_size": "64mb",
            "ssr_mode": False,
            "footer_links": ["api"],
            # Gradio's run history re-reads and re-writes up to 100 runs' outputs (each a whole
            # chat) in localStorage on every streamed update; it also kept chats in the browser
            "run_history": False,
            "show_error": False,
        }
        kwargs.update(overrides)
        app_kwargs = dict(kwargs.get("app_kwargs") or {})
        app_kwargs["routes"] = [*build_routes(self), *app_kwargs.get("routes", [])]
        app_kwargs["middleware"] = [picture_guard(self), *app_kwargs.get("middleware", [])]
        kwargs["app_kwargs"] = app_kwargs
        return kwargs

    def launch(self, **kwargs: Any) -> Any:
        """Build and launch the app (blocking unless ``prevent_thread_lock=True``)."""
        demo = self.demo or self.create_app()
        if self.mcp:
            from ui.mcp_tools import launch_with_mcp

            return launch_with_mcp(demo, self.launch_kwargs(**kwargs))
        return demo.launch(**self.launch_kwargs(**kwargs))

    def close(self) -> None:
        """Stop the server (if launched) and remove the app's temporary files."""
        if self.demo is not None:
            try:
                self.demo.close()
            except Exception:  # noqa: BLE001 - closing a never-launched app
                log.debug("closing the app failed", exc_info=True)
        self.files.close()


def _file_path(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("path") or item.get("name") or "")
    return str(getattr(item, "path", item))


def _display_name(path: Path) -> str:
    name = path.name
    return name if len(name) <= 80 else name[:77] + "…"
