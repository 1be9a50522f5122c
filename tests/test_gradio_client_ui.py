"""Drive the live app with ``gradio_client`` as a program would, with login and two users."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agent.memory import Memory
from graphs.runtime import Runtime
from tests._data import HDMI_JPG, require_shared
from tools.backends.lite import LiteBackend
from ui import serve
from ui.testing import free_port

gradio_client = pytest.importorskip("gradio_client")

# outputs of /send and /correct: the message box, then the panel
CHAT, SIDE, INTENT, STATUS, SESSION_ID = 1, 2, 3, 4, 5


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[str, Runtime]]:
    require_shared()
    db = tmp_path_factory.mktemp("client") / "db.sqlite"
    users = tmp_path_factory.mktemp("auth") / "users.txt"
    users.write_text("# one user:password per line\nbob:b-pass\n")
    runtime = Runtime(memory=Memory(f"sqlite:///{db}"), backend=LiteBackend())
    port = free_port()
    # the same call `pixelrs serve --auth ...` makes, with a user:pass and an auth file
    ui = serve(runtime, port=port, auth="alice:a-pass", auth_file=users, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}", runtime
    finally:
        ui.close()
        runtime.close()


def _client(url: str, user: str, password: str) -> Any:
    return gradio_client.Client(url, auth=(user, password), verbose=False)


def _files(chat: list[dict[str, Any]]) -> list[str]:
    out = []
    for message in chat:
        if message["role"] != "assistant":
            continue
        for item in message["content"]:
            if item.get("type") == "file":
                out.append(item["file"]["path"] if isinstance(item["file"], dict) else item["file"])
    return out


def _text(message: dict[str, Any]) -> str:
    return " ".join(item.get("text", "") for item in message["content"] if item.get("type") == "text")


def test_program_chats_corrects_and_lists_sessions(live) -> None:
    url, runtime = live
    alice = _client(url, "alice", "a-pass")
    names = set(alice.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/send", "/correct", "/new_session", "/open_session", "/rename", "/delete_session", "/list_sessions"} <= names

    image = gradio_client.handle_file(str(HDMI_JPG))
    out = alice.predict({"text": "find the HDMI label", "files": [image]}, api_name="/send")
    sid = out[SESSION_ID]
    assert len(_files(out[CHAT])) == 1 and out[SIDE]
    assert "HDMI label" in out[INTENT]
    assert runtime.memory.get_session(sid).owner == "alice"

    out = alice.predict({"text": "what does it say?", "files": []}, api_name="/send")
    assert "HDMI" in _text(out[CHAT][-1]) and out[SESSION_ID] == sid

    before = runtime.history(sid).current_mask
    out = alice.predict('{"points": [{"x": 400, "y": 212, "positive": true}]}', api_name="/correct")
    after = runtime.history(sid).current_mask
    assert after.id != before.id and after.source == "user-edit"
    assert len(_files(out[CHAT])) == 2

    # a non-image upload gets a one-line message, and the session carries on
    out = alice.predict({"text": "and this?", "files": [gradio_client.handle_file(str(__file__))]}, api_name="/send")
    notice = _text(out[CHAT][-1])
    assert "not an image" in notice and "\n" not in notice
    out = alice.predict({"text": "why is this part important?", "files": []}, api_name="/send")
    assert runtime.history(sid).turns[-1].status == "ok"

    gallery = alice.predict(api_name="/list_sessions")
    assert len(gallery) == 1 and "find the HDMI label" in gallery[0]["caption"]


def test_users_are_isolated(live) -> None:
    url, runtime = live
    alice, bob = _client(url, "alice", "a-pass"), _client(url, "bob", "b-pass")
    out = alice.predict({"text": "find the HDMI label", "files": [gradio_client.handle_file(str(HDMI_JPG))]}, api_name="/send")
    sid = out[SESSION_ID]
    refused = bob.predict(sid, api_name="/open_session")
    assert refused[SESSION_ID - 1] == ""  # /open_session returns the panel without the message box
    assert "another user" in _text(refused[0][-1]) and not _files(refused[0])
    assert all(item["caption"] and "HDMI" not in item["caption"] for item in bob.predict(api_name="/list_sessions") or [])
    assert all(s.owner == "alice" for s in runtime.list_sessions(owner="alice"))
    assert runtime.list_sessions(owner="bob") == []


def test_login_is_required(live) -> None:
    url, _ = live
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises different types per version
        gradio_client.Client(url, auth=("alice", "wrong"), verbose=False)
