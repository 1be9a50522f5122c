"""Crash leftovers: interrupted turns are offered for retry; SIGTERM shuts the app down cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _data import HDMI_JPG, REPO

from agent.memory import Memory
from graphs.runtime import Runtime
from ui.app import ChatUI
from ui.core import PanelUpdate
from ui.state import UIState

PANEL = len(PanelUpdate._fields)


def test_an_interrupted_turn_is_offered_for_retry_and_retried(tmp_path: Path, lite: Any) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    runtime = Runtime(memory=Memory(db), backend=lite)
    app = ChatUI(runtime)
    try:
        state = UIState(owner="browser:" + "x" * 24)
        list(app.send({"text": "find the HDMI label", "files": [str(HDMI_JPG)]}, state))
        sid = state.session_id
        assert sid is not None
        crashed = Memory(db)  # another process: it stores a message, then dies before answering
        crashed.begin_turn(sid, "now the port next to it", owner=state.owner)
        crashed.close()  # what a shutdown does; a kill -9 is recovered the same way on open
        tab = UIState(owner=state.owner)
        opened = PanelUpdate(*app.open_session(sid, tab)[:PANEL])
        assert opened.retry_button["visible"] is True and tab.retry_index == 2
        assert "Press “Retry” to send it again" in opened.chat[-1]["content"]
        updates = list(app.retry(tab))
        assert PanelUpdate(*updates[-1][1:]).state.session_id == sid
        after = app.after_turn(tab)
        assert after[-3]["visible"] is False and tab.retry_index is None  # nothing left to retry
        history = runtime.history(sid)
        assert [(t.role, t.status, t.text) for t in history.turns[2:]] == [
            ("user", "interrupted", "now the port next to it"),
            ("user", "ok", "now the port next to it"),
            ("assistant", "ok", history.turns[-1].text),
        ]
        assert history.turns[-1].act == "new_target" and history.turns[-1].masks  # answered for real
        nothing = list(app.retry(tab))
        assert "Nothing to retry" in nothing[-1][1][-1]["content"]
    finally:
        app.close()
        runtime.close()


SERVER = """
import sys, time
from agent.memory import Memory
from graphs.runtime import Runtime
from tools.backends.lite import LiteBackend
from ui.lifecycle import serve_until_stopped

class Slow(LiteBackend):
    name = "slow"
    def segment(self, request):
        text = request.dialogue[-1].text
        time.sleep(60 if "slow" in text else 0.5)
        return super().segment(request)

db, port = sys.argv[1], int(sys.argv[2])
backend = Slow()
backend.warm()  # as Runtime.from_settings does: the quick turn then takes about a second
runtime = Runtime(memory=Memory(db), backend=backend)
print("ready", flush=True)
serve_until_stopped(runtime, grace_s=10, host="127.0.0.1", port=port, quiet=True, anonymous="shared")
print("clean exit", flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pending(db: str) -> list[tuple[str, str]]:
    with Memory(db, migrate=False) as mem:
        return [(t.text, t.status) for s in mem.list_sessions() for t in mem.history(s.id).turns if t.role == "user"]


@pytest.mark.slow
def test_sigterm_finishes_or_marks_running_turns_and_removes_temporary_folders(tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    db, port = f"sqlite:///{tmp_path / 's.db'}", _free_port()
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(temp), "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen([sys.executable, "-c", SERVER, db, str(port)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 120
        client = None
        while client is None and time.monotonic() < deadline:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.5)
        assert client is not None
        assert list(temp.glob("pixelrs-ui-*"))  # the app's folder of pictures and uploads
        quick = client.submit({"text": "find the HDMI label", "files": [handle_file(str(HDMI_JPG))]}, api_name="/send")
        slow_client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        slow = slow_client.submit({"text": "find the slow HDMI label", "files": [handle_file(str(HDMI_JPG))]}, api_name="/send")
        while len(_pending(db)) < 2 and time.monotonic() < deadline:  # both messages stored, running
            time.sleep(0.1)
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
        assert server.returncode == 0, err[-2000:]
        assert "clean exit" in out
        del quick, slow
    finally:
        if server.poll() is None:
            server.kill()
    statuses = dict(_pending(db))
    assert statuses == {"find the HDMI label": "ok", "find the slow HDMI label": "interrupted"}
    assert list(temp.glob("pixelrs-ui-*")) == []  # uploads and pictures removed
