"""Drive the live app with ``gradio_client`` as a program would, with login and two users."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
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



# the routes on their own: one app per test ----------------------------------------------------
# (The live app above is shared by its tests; these build the routes afresh in each test, so a
# bug in them fails the test that checks it, also under mutation testing: scripts/mutation.sh.)
# The Gradio app's login is its ``auth``/``tokens``/``cookie_id`` (or ``auth_dependency``)
# attributes, which ui.routes reads; the app here carries the same ones.

PIC = "0123456789abcdef01234567.jpg"
SAFE = {"x-content-type-options": "nosniff", "content-security-policy": "default-src 'none'; sandbox"}


class _Served:
    def __init__(self, runtime: Runtime, files: Any) -> None:
        from ui.links import Links

        self.runtime, self.files, self.links = runtime, files, Links(key=b"r" * 32)


@pytest.fixture
def routed(lite_runtime: Runtime, tmp_path) -> Iterator[tuple[Any, _Served]]:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from ui.files import FileStore
    from ui.routes import build_routes, picture_guard

    served = _Served(lite_runtime, FileStore(tmp_path / "files"))

    async def gradio_file(request: Any) -> Any:  # stands in for Gradio's file route
        return PlainTextResponse(f"served {request.path_params['path']}")

    app = Starlette(
        routes=[*build_routes(served), Route("/gradio_api/file={path:path}", gradio_file)],
        middleware=[picture_guard(served)],
    )
    yield app, served
    served.files.close()


def _sign_in(app: Any, **users: str) -> None:
    """Turn on login as Gradio does: accounts, and each signed-in browser's token -> user."""
    app.auth, app.cookie_id = {u: "pw" for u in users.values()}, "cid"
    app.tokens = {token: user for token, user in users.items()}


def _get(app: Any, url: str, token: str | None = None, *, unsecure: bool = False) -> httpx.Response:
    from starlette.testclient import TestClient

    cookies = {f"access-token-{'unsecure-' if unsecure else ''}cid": token} if token else None
    with TestClient(app, cookies=cookies) as client:
        return client.get("/" + url.lstrip("/"))


def _chat_picture(served: _Served, name: str = PIC) -> bytes:
    data = HDMI_JPG.read_bytes()
    (served.files.root / "chat" / name).write_bytes(data)
    return data


def _session_with_masks(served: _Served, owner: str | None) -> tuple[str, list[Any]]:
    from agent.memory import ToolCallIn
    from agent.types import MaskOut

    memory = served.runtime.memory
    sid = memory.create_session(owner=owner).id
    first, second = np.zeros((8, 10), bool), np.zeros((8, 10), bool)
    first[1:3, 1:4], second[4:7, 2:9] = True, True
    for text, arr in (("the cup", first), ("no, the plate", second)):
        user = memory.add_user_turn(sid, text)
        memory.complete_turn(
            user.id, act="new_target", reply="Here.", intent=None, masks=[MaskOut(Mask(arr), text)],
            tool_calls=[ToolCallIn("segment", {}, 1.0)], latency_ms=1.0,
        )  # fmt: skip
    return sid, memory.history(sid).masks


def test_picture_route_serves_a_signed_link_with_safe_headers(routed) -> None:
    app, served = routed
    data = _chat_picture(served)
    _chat_picture(served, PIC.replace(".jpg", ".png"))
    got = _get(app, served.links.picture(PIC, "browser:a"))
    assert (got.status_code, got.content, got.headers["content-type"]) == (200, data, "image/jpeg")
    assert {k: got.headers[k] for k in SAFE} == SAFE and got.headers["cache-control"] == "private, max-age=86400, immutable"
    png = PIC.replace(".jpg", ".png")
    assert _get(app, served.links.picture(png, "browser:a")).headers["content-type"] == "image/png"
    url = served.links.picture(PIC, "browser:a")
    for bad in (url.split("?")[0], url.split("&s=")[0], url[:-1], url.replace(PIC, "f" + PIC[1:])):
        refused = _get(app, bad)
        assert (refused.status_code, refused.text) == (404, "not found"), bad
    assert _get(app, served.links.picture("f" + PIC[1:], "browser:a")).status_code == 404  # signed, no such file
    assert _get(app, served.links.picture("../" + PIC, "browser:a")).status_code == 404


def test_picture_route_with_login_serves_the_links_owner_only(routed) -> None:
    app, served = routed
    _chat_picture(served)
    _sign_in(app, tok_a="alice", tok_b="bob")
    url = served.links.picture(PIC, "alice")
    assert _get(app, url, "tok_a").status_code == 200
    assert _get(app, url, "tok_a", unsecure=True).status_code == 200  # Gradio's cookie over plain http
    assert _get(app, url, "tok_b").status_code == 404
    assert _get(app, url).status_code == 404 and _get(app, url, "forged").status_code == 404


def test_routes_take_the_user_from_an_auth_dependency(routed) -> None:
    app, served = routed
    _chat_picture(served)
    url = served.links.picture(PIC, "carol")
    app.auth_dependency = lambda request: request.headers.get("x-user")
    assert _get(app, url).status_code == 404  # login, nobody signed in

    async def awaited(request: Any) -> str | None:
        return "carol"

    app.auth_dependency = awaited
    assert _get(app, url).status_code == 200
    assert _get(app, served.links.picture(PIC, "dave")).status_code == 404


def test_export_route_builds_the_linked_file_of_the_owners_session(routed) -> None:
    app, served = routed
    sid, (first, second) = _session_with_masks(served, "browser:a")
    current = _get(app, served.links.export(sid, "mask.png", "browser:a"))
    assert current.status_code == 200 and current.headers["content-type"] == "image/png"
    assert np.array_equal(Mask.from_png(current.content).array, second.mask().array)
    picked = _get(app, served.links.export(sid, "mask.png", "browser:a", mask_id=first.id))
    assert np.array_equal(Mask.from_png(picked.content).array, first.mask().array)
    name = f"pixelrs_masks_{sid[:8]}.json"
    coco = _get(app, served.links.export(sid, "masks.json", "browser:a"))
    assert coco.headers["content-disposition"] == f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
    assert {k: coco.headers[k] for k in SAFE} == SAFE and coco.headers["cache-control"] == "no-store"
    assert coco.headers["content-type"] == "application/json"
    assert [a["id"] for a in json.loads(coco.content)["annotations"]] == [first.id, second.id]
    # a client that leaves out the empty mask field (m=) follows the same whole-session link
    bare = served.links.export(sid, "masks.json", "browser:a").replace("?m=&", "?")
    assert "m=" not in bare and _get(app, bare).content == coco.content
    # another owner's link, a link with a wrong signature, a session that is not there
    assert _get(app, served.links.export(sid, "masks.json", "browser:b")).status_code == 404
    assert _get(app, served.links.export(sid, "masks.json", "browser:a")[:-1]).status_code == 404
    assert _get(app, served.links.export(sid, "masks.json", "browser:a").split("?")[0]).status_code == 404  # unsigned
    assert _get(app, served.links.export("f" * 32, "masks.json", "browser:a")).status_code == 404
    assert _get(app, served.links.export("not-a-session", "masks.json", "browser:a")).status_code == 404


def test_export_route_with_login_and_an_empty_session(routed) -> None:
    app, served = routed
    sid, _ = _session_with_masks(served, "alice")
    empty = served.runtime.memory.create_session(owner="alice").id
    _sign_in(app, tok_a="alice", tok_b="bob")
    url = served.links.export(sid, "session.zip", "alice")
    got = _get(app, url, "tok_a")
    assert (got.status_code, got.content[:2], got.headers["content-type"]) == (200, b"PK", "application/zip")
    assert _get(app, url, "tok_b").status_code == 404 and _get(app, url).status_code == 404
    assert _get(app, served.links.export(empty, "mask.png", "alice"), "tok_a").status_code == 404  # no mask yet
    assert _get(app, served.links.export(empty, "session.zip", "alice"), "tok_a").status_code == 200


def test_file_route_guard_with_login_serves_a_side_picture_to_its_viewers_only(routed) -> None:
    app, served = routed
    side = served.files.root / "img" / "side.jpg"
    side.write_bytes(b"jpeg")
    served.files.grant(str(side), served.links.owner_id("alice"))
    url, encoded = f"/gradio_api/file={side}", f"/gradio_api/file={quote(str(side), safe='')}"
    assert _get(app, url).text == f"served {side}"  # no login: Gradio decides
    _sign_in(app, tok_a="alice", tok_b="bob")
    assert _get(app, url, "tok_a").text == f"served {side}"
    assert _get(app, encoded, "tok_a").status_code == 200
    for token in ("tok_b", None):
        refused = _get(app, url, token)
        assert (refused.status_code, refused.text) == (404, "not found"), token
    assert _get(app, encoded, "tok_b").status_code == 404  # quoted, same file
    other = served.files.root / "chat" / PIC  # not an img/ picture: passed on to Gradio
    assert _get(app, f"/gradio_api/file={other}", "tok_b").text == f"served {other}"
