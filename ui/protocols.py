"""What the layout and the HTTP routes need of the app, as protocols, so they never import it.

:mod:`ui.app` builds its Blocks with :mod:`ui.layout` and serves :mod:`ui.routes`; those two
modules only see these protocols (which :class:`ui.app.ChatUI` satisfies), so imports flow one
way: app -> layout/routes -> protocols.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from graphs.runtime import Runtime
    from ui.files import FileStore
    from ui.links import Links
    from ui.state import UIState


class ServedApp(Protocol):
    """What :mod:`ui.routes` uses: the runtime, the signed links and the picture files."""

    @property
    def runtime(self) -> Runtime: ...

    @property
    def links(self) -> Links: ...

    @property
    def files(self) -> FileStore: ...


class ChatHandlers(Protocol):
    """What :mod:`ui.layout` wires: the app's settings and one handler per event."""

    @property
    def runtime(self) -> Runtime: ...

    @property
    def title(self) -> str: ...

    @property
    def browser_secret(self) -> str: ...

    @property
    def concurrency(self) -> int: ...

    @property
    def anonymous(self) -> str: ...

    @property
    def mcp(self) -> bool:
        """Whether the app also offers MCP tools (:mod:`ui.mcp_tools`)."""
        ...

    def exports(self, state: UIState) -> str: ...

    def on_load(self, *args: Any, **kwargs: Any) -> Any: ...

    def send(self, *args: Any, **kwargs: Any) -> Any: ...

    def correct(self, *args: Any, **kwargs: Any) -> Any: ...

    def retry(self, *args: Any, **kwargs: Any) -> Any: ...

    def after_turn(self, *args: Any, **kwargs: Any) -> Any: ...

    def stop(self, *args: Any, **kwargs: Any) -> Any: ...

    def on_image_click(self, *args: Any, **kwargs: Any) -> Any: ...

    def clear_clicks(self, *args: Any, **kwargs: Any) -> Any: ...

    def set_view(self, *args: Any, **kwargs: Any) -> Any: ...

    def set_click_mode(self, *args: Any, **kwargs: Any) -> Any: ...

    def new_session(self, *args: Any, **kwargs: Any) -> Any: ...

    def open_listed(self, *args: Any, **kwargs: Any) -> Any: ...

    def open_session(self, *args: Any, **kwargs: Any) -> Any: ...

    def rename(self, *args: Any, **kwargs: Any) -> Any: ...

    def delete(self, *args: Any, **kwargs: Any) -> Any: ...

    def refresh(self, *args: Any, **kwargs: Any) -> Any: ...
