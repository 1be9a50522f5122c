"""Helpers for tests and benchmarks: run the app on a free local port inside this process."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ui.app import ChatUI


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_app(ui: ChatUI, **launch_kwargs: Any) -> Iterator[str]:
    """Launch ``ui`` in a background thread on a free port; yield its URL; stop it afterwards."""
    ui.create_app()
    kwargs: dict[str, Any] = {
        "server_name": "127.0.0.1",
        "server_port": free_port(),
        "prevent_thread_lock": True,
        "quiet": True,
    }
    kwargs.update(launch_kwargs)
    _, url, _ = ui.launch(**kwargs)
    try:
        yield str(url).rstrip("/")
    finally:
        ui.close()


CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
"""Flags for the Debian ``chromium`` used by the browser tests and the UI benchmark."""
