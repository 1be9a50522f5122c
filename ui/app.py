"""The Gradio chat app: :class:`ChatUI` builds the Blocks around one :class:`~graphs.runtime.Runtime`.

Layout: sessions (left), chat (middle), current image + mask, correction tools, tracked intent,
latency and exports (right). Every handler is a method that takes the per-browser
:class:`~ui.state.UIState` (``gr.State``) and returns/yields plain values, so tests call them
directly; :meth:`ChatUI.create_app` only wires them to components (:mod:`ui.layout`). The handlers
live in one module per concern (:mod:`ui.sessions`, :mod:`ui.turns`, :mod:`ui.side_panel`); this
module builds the app. The app keeps no per-user data outside ``gr.State`` and SQL: the runtime is
shared and stateless, the file store content-addressed.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

import gradio as gr

from ui.core import AnonymousMode
from ui.files import FileStore
from ui.layout import CSS, PAGE_JS, build_blocks
from ui.links import Links
from ui.pictures import Pictures
from ui.routes import build_routes, picture_guard
from ui.sessions import SessionHandlers
from ui.side_panel import SidePanelHandlers
from ui.turns import TurnHandlers

if TYPE_CHECKING:
    from graphs.runtime import Runtime

log = logging.getLogger(__name__)


class ChatUI(SessionHandlers, TurnHandlers, SidePanelHandlers):
    """The pixelrs chat app around one runtime.

    The handlers come from :class:`~ui.sessions.SessionHandlers` (page load and the sessions
    column), :class:`~ui.turns.TurnHandlers` (send, correct, retry, stop) and
    :class:`~ui.side_panel.SidePanelHandlers` (clicks and view); this class builds the parts they
    share (:class:`~ui.core.ChatCore`) and the Blocks, routes and launch options.

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
        self.anonymous = anonymous
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
        self._stops = {}


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
