"""Drive the live app with ``gradio_client`` as a program would, with login and two users."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agent.memory import Memory
from agent.types import Mask
from graphs.runtime import Runtime
from tests._data import HDMI_JPG
from tools.backends.lite import LiteBackend
from ui import serve
from ui.state import UIState
from ui.testing import free_port

gradio_client = pytest.importorskip("gradio_client")

# outputs of /send and /correct: the message box, then the panel
CHAT, SIDE, INTENT, STATUS, SESSION_ID = 1, 2, 3, 4, 5


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[str, Runtime]]:
    db = tmp_path_factory.mktemp("client") / "db.sqlite"
    users = tmp_path_factory.mktemp("auth") / "users.txt"
    users.write_text("# one user:password per line\nbob:b-pass\n")
    runtime = Runtime(memory=Memory(f"sqlite:///{db}"), backend=LiteBackend())
    port = free_port()
    # the same call `pixelrs serve --auth ...` makes, with a user:pass and an auth file
    ui = serve(runtime, port=port, auth="alice:a-pass", auth_file=users, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}", runtime, ui
    finally:
        ui.close()
        runtime.close()


def _client(url: str, user: str, password: str) -> Any:
    return gradio_client.Client(url, auth=(user, password), verbose=False)


PICTURE = re.compile(r'<img class="pr-pic" src="(pixelrs/img/[^"]+)"')


def _files(chat: list[dict[str, Any]]) -> list[str]:
    """Relative URLs of the overlay pictures in the assistant's messages."""
    out = []
    for message in chat:
        if message["role"] != "assistant":
            continue
        for item in message["content"]:
            if item.get("type") == "text" and (m := PICTURE.match(item.get("text", ""))):
                out.append(html.unescape(m.group(1)))
    return out


def _login(url: str, user: str, password: str) -> httpx.Client:
    """A plain HTTP client signed in through the app's login form (the browser's cookie)."""
    client = httpx.Client(base_url=url, follow_redirects=True)
    client.post("/login", data={"username": user, "password": password}).raise_for_status()
    return client


def _text(message: dict[str, Any]) -> str:
    return " ".join(item.get("text", "") for item in message["content"] if item.get("type") == "text")


def test_program_chats_corrects_and_lists_sessions(live) -> None:
    url, runtime, _ = live
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
    url, runtime, _ = live
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
    from gradio_client.exceptions import AuthenticationError

    url, _, _ = live
    refused = (AuthenticationError, ValueError)  # 401 or 400, by gradio_client version
    for user, password in (("alice", "wrong"), ("mallory", "a-pass"), ("alice", "")):
        with pytest.raises(refused, match="Could not login"):  # a refused login, not any failure
            gradio_client.Client(url, auth=(user, password), verbose=False)
        answer = httpx.post(f"{url}/login", data={"username": user, "password": password})
        assert answer.status_code in (400, 401, 422) and not answer.cookies  # 422: an empty password
    signed_in = httpx.post(f"{url}/login", data={"username": "alice", "password": "a-pass"})
    assert signed_in.status_code == 200 and signed_in.cookies
    assert gradio_client.Client(url, auth=("bob", "b-pass"), verbose=False) is not None


def test_pictures_and_exports_are_served_to_their_owner_only(live) -> None:
    url, runtime, ui = live
    alice = _client(url, "alice", "a-pass")
    out = alice.predict({"text": "find the HDMI label", "files": [gradio_client.handle_file(str(HDMI_JPG))]}, api_name="/send")
    picture, sid = _files(out[CHAT])[0], out[SESSION_ID]
    name = picture.split("/")[-1].split("?")[0]
    uid = re.search(r"u=(\w+)", picture).group(1)
    # the export panel alice's page shows after this turn
    state = UIState(owner="alice", session_id=sid, mask_count=1, mask_id=runtime.history(sid).current_mask.id)
    exports = {k: html.unescape(v) for k, v in re.findall(r'<a id="(pr-dl-\w+)" class="pr-dl" href="([^"]+)"', ui.exports(state))}
    assert set(exports) == {"pr-dl-mask", "pr-dl-masks", "pr-dl-coco", "pr-dl-session"}
    as_alice, as_bob, nobody = _login(url, "alice", "a-pass"), _login(url, "bob", "b-pass"), httpx.Client(base_url=url)
    try:
        got = as_alice.get(picture)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg" and got.content[:2] == b"\xff\xd8"
        assert got.headers["x-content-type-options"] == "nosniff"
        # bob holding alice's link, or nobody signed in: refused, and nothing says what exists
        assert as_bob.get(picture).status_code == 404 and nobody.get(picture).status_code == 404
        # a link re-pointed at another picture, or with bob's owner id in it, does not verify
        assert as_alice.get(picture.replace(name, ("1" if name[0] == "0" else "0") + name[1:])).status_code == 404
        assert as_bob.get(picture.replace(uid, ui.links.owner_id("bob"))).status_code == 404
        # Gradio's own file route does not serve the chat pictures' folder
        assert as_alice.get(f"/gradio_api/file={ui.files.chat_file(name)}").status_code in (403, 404)
        mask = as_alice.get(exports["pr-dl-mask"])
        assert mask.status_code == 200 and "attachment" in mask.headers["content-disposition"]
        assert Mask.from_png(mask.content).iou(runtime.history(sid).current_mask.mask()) == 1.0
        session = as_alice.get(exports["pr-dl-session"])
        assert session.status_code == 200 and session.content[:2] == b"PK"
        for link in exports.values():
            assert as_bob.get(link).status_code == 404 and nobody.get(link).status_code == 404
        # bob's own link to alice's session (signed for bob) is refused: the session is alice's
        forged = ui.links.export(sid, "session.zip", "bob")
        assert as_bob.get(forged).status_code == 404
    finally:
        for client in (as_alice, as_bob, nobody):
            client.close()


def test_side_pictures_and_thumbnails_are_served_to_their_owner_only(live) -> None:
    """Gradio's file route serves any file under the app's picture folder; with login only to its viewer."""
    url, runtime, ui = live
    alice = _client(url, "alice", "a-pass")
    alice.predict({"text": "find the HDMI label", "files": [gradio_client.handle_file(str(HDMI_JPG))]}, api_name="/send")
    pictures = sorted((ui.files.root / "img").glob("*.jpg"), key=lambda p: p.stat().st_mtime)
    side = pictures[-1]
    assert ui.files.granted(side.name, ui.links.owner_id("alice"))
    as_alice, as_bob = _login(url, "alice", "a-pass"), _login(url, "bob", "b-pass")
    try:
        got = as_alice.get(f"/gradio_api/file={side}")
        assert got.status_code == 200 and got.content[:2] == b"\xff\xd8"
        assert as_bob.get(f"/gradio_api/file={side}").status_code == 404
        assert as_bob.get(f"/gradio_api/file={side.parent}/../img/{side.name}").status_code == 404
        assert httpx.get(f"{url}/gradio_api/file={side}").status_code in (401, 403, 404)
    finally:
        as_alice.close()
        as_bob.close()

