"""The Gradio chat app of pixelrs: :class:`ChatUI` and :func:`serve` (used by ``pixelrs serve``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphs.runtime import Runtime
    from ui.app import ChatUI

__all__ = ["ChatUI", "serve"]


def serve(
    runtime: Runtime,
    host: str = "127.0.0.1",
    port: int | None = 7860,
    auth: Sequence[str] | Sequence[tuple[str, str]] | str | None = None,
    *,
    auth_file: str | Path | None = None,
    concurrency: int = 4,
    anonymous: str = "browser",
    browser_secret: str | None = None,
    title: str = "pixelrs",
    share: bool = False,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
    mcp: bool = False,
    **launch_kwargs: Any,
) -> ChatUI:
    """Build the chat app around ``runtime`` and launch it on ``host:port``.

    Args:
        runtime: the shared runtime (memory + backend).
        host: interface to bind (``0.0.0.0`` to serve the network).
        port: TCP port; None lets Gradio pick a free one from 7860 up.
        auth: ``"user:pass"`` strings (``--auth``), the path of a file of ``user:pass`` lines,
            or ``(user, pass)`` pairs; with ``auth_file`` they turn on the login page, and each
            user then sees only their own sessions.
        concurrency: how many turns run at the same time (Gradio queue concurrency).
        anonymous: without login, ``"browser"`` keeps sessions private per browser,
            ``"shared"`` lists every session of the database (single-user local use).
        browser_secret: key for what the app stores in the browser (stable across restarts).
        prevent_thread_lock: return right after starting (tests, notebooks) instead of blocking.
        mcp: also serve the segment, explain and session tools over MCP at ``/gradio_api/mcp/``
            (:mod:`ui.mcp_tools`; needs the ``mcp`` package, and no ``auth``).

    Returns:
        The :class:`ChatUI`; call ``close()`` on it to stop a non-blocking server.

    Raises:
        agent.errors.BadInputError: malformed ``auth`` entries or an unreadable auth file.
    """
    from ui.app import ChatUI
    from ui.auth import Authenticator, resolve_auth

    creds = resolve_auth(auth, auth_file)
    if mcp:
        from ui.mcp_tools import check_mcp

        check_mcp(auth=creds)
    ui = ChatUI(runtime, title=title, anonymous=anonymous, concurrency=concurrency, browser_secret=browser_secret, mcp=mcp)  # type: ignore[arg-type]
    ui.create_app()
    ui.launch(
        server_name=host,
        server_port=port,
        auth=Authenticator(creds) if creds else None,
        auth_message="Sign in to pixelrs; your sessions are private to your account." if creds else None,
        share=share,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        **launch_kwargs,
    )
    return ui


def __getattr__(name: str) -> Any:
    """Import :class:`ChatUI` (and Gradio) only when used, so the CLI starts fast."""
    if name == "ChatUI":
        from ui.app import ChatUI

        return ChatUI
    raise AttributeError(f"module 'ui' has no attribute {name!r}")
