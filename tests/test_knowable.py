"""Assertions on the values that are knowable: the route a turn took, the fixed replies, the masks
a backend was handed, and what a link signature accepts.

Each test here was checked against a deliberate bug (issue 13, item 10) that the suite let
through before: with the bug put back, the test fails.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from _data import HDMI_JPG
from PIL import Image

from agent.images import decode_image, load_image_file
from agent.memory import Memory
from agent.types import DialogueTurn, ImageRef, Intent, PointPrompt, Prompts
from graphs import replies
from graphs.runtime import Runtime
from tools.backends.base import ExplainRequest, SegmentRequest, SegmentResult
from tools.backends.lite import LiteBackend
from tools.backends.lite.cues import from_intent
from tools.backends.lite.rank import Ranker
from ui.links import Links


class Recording:
    """Wraps a real backend; records every segment request; can find nothing or explain nothing."""

    name = "recording"

    def __init__(self, inner: Any, *, find_nothing: bool = False, explain_nothing: bool = False) -> None:
        self.inner, self.find_nothing, self.explain_nothing = inner, find_nothing, explain_nothing
        self.segments: list[SegmentRequest] = []

    def segment(self, request: SegmentRequest) -> SegmentResult:
        self.segments.append(request)
        return SegmentResult(masks=[]) if self.find_nothing else self.inner.segment(request)

    def explain(self, request: ExplainRequest) -> Iterator[str]:
        return iter(()) if self.explain_nothing else self.inner.explain(request)

    def forget_session(self, session_id: str) -> None:
        self.inner.forget_session(session_id)


@pytest.fixture
def make_runtime(sqlite_url: str, lite: Any) -> Iterator[Any]:
    made: list[Runtime] = []

    def build(**options: Any) -> tuple[Runtime, Recording]:
        backend = Recording(lite, **options)
        runtime = Runtime(memory=Memory(sqlite_url), backend=backend)
        made.append(runtime)
        return runtime, backend

    yield build
    for runtime in made:
        runtime.close()


def _tools(runtime: Runtime, sid: str) -> list[str]:
    return [c.tool for c in runtime.history(sid).turns[-1].tool_calls]


def _other_image() -> bytes:
    arr = np.full((200, 300, 3), 235, np.uint8)
    arr[50:150, 60:160] = (220, 30, 30)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


# routes ---------------------------------------------------------------------------------------


def test_each_act_takes_its_route(make_runtime: Any) -> None:
    runtime, backend = make_runtime()
    sid = runtime.new_session()
    found = runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    assert (found.act.value, _tools(runtime, sid), len(backend.segments)) == ("new_target", ["segment", "explain"], 1)
    assert found.masks and found.masks[0].source == "model"
    asked = runtime.run_turn_sync(sid, "what does it say?")
    assert (asked.act.value, _tools(runtime, sid), asked.masks, len(backend.segments)) == ("explain", ["explain"], [], 1)
    assert "HDMI" in asked.reply
    fixed = runtime.run_turn_sync(sid, "", prompts=Prompts(points=[PointPrompt(x=400, y=212)]))
    assert (fixed.act.value, _tools(runtime, sid)) == ("user_edit", ["segment", "explain"])
    assert fixed.masks[0].source == "user-edit" and fixed.reply.startswith(replies.USER_EDIT.format(what="clicks"))
    assert backend.segments[-1].prompts.points[0].x == 400
    hello = runtime.run_turn_sync(sid, "hello")
    assert (hello.act.value, hello.reply, _tools(runtime, sid)) == ("chitchat", replies.GREETING, [])


def test_no_image_yet(make_runtime: Any) -> None:
    runtime, backend = make_runtime()
    sid = runtime.new_session()
    done = runtime.run_turn_sync(sid, "find the HDMI label")
    assert (done.reply, _tools(runtime, sid), backend.segments) == (replies.NO_IMAGE, [], [])


def test_nothing_found_is_said_and_not_explained(make_runtime: Any) -> None:
    runtime, _ = make_runtime(find_nothing=True)
    sid = runtime.new_session()
    done = runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    assert done.reply == replies.NOTHING_FOUND.format(target="HDMI label")
    assert (_tools(runtime, sid), done.masks) == (["segment"], [])  # no explain of a mask that is not there


def test_a_question_before_any_mask(make_runtime: Any) -> None:
    runtime, _ = make_runtime(explain_nothing=True)
    sid = runtime.new_session()
    done = runtime.run_turn_sync(sid, "what does it say?", image=load_image_file(HDMI_JPG))
    assert (done.act.value, done.reply, _tools(runtime, sid)) == ("explain", replies.NO_MASK_YET, ["explain"])


def test_a_new_image_does_not_inherit_the_old_mask(make_runtime: Any) -> None:
    runtime, backend = make_runtime()
    sid = runtime.new_session()
    runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    runtime.run_turn_sync(sid, "find the red square", image=decode_image(_other_image()))
    assert backend.segments[-1].previous_mask is None  # the HDMI mask belongs to the other photo
    assert backend.segments[-1].image.shape == (200, 300, 3)
    runtime.run_turn_sync(sid, "no, the one on the right")
    previous = backend.segments[-1].previous_mask
    assert previous is not None and previous.array.shape == (200, 300)  # now the new image's mask


# links ----------------------------------------------------------------------------------------

NAME = "0123456789abcdef01234567.jpg"


def test_picture_links_need_the_whole_signature() -> None:
    links = Links(key=b"k" * 32)
    url = links.picture(NAME, "alice")
    uid, sig = url.split("u=")[1].split("&s=")
    assert links.check_picture(NAME, uid, sig)
    assert len(sig) == 32
    for bad in ("", sig[:4], sig[:-1], sig[:-1] + ("0" if sig[-1] != "0" else "1"), sig + "0"):
        assert not links.check_picture(NAME, uid, bad), bad
    assert not links.check_picture(NAME, links.owner_id("bob"), sig)


def test_export_links_need_the_whole_signature() -> None:
    links = Links(key=b"k" * 32)
    url = links.export("a" * 32, "masks.zip", "alice", mask_id=7)
    query = dict(part.split("=") for part in url.split("?")[1].split("&"))
    assert links.check_export("a" * 32, "masks.zip", "7", query["u"], query["s"])
    for bad in ("", query["s"][:4], query["s"][:-1] + ("0" if query["s"][-1] != "0" else "1")):
        assert not links.check_export("a" * 32, "masks.zip", "7", query["u"], bad), bad
    assert not links.check_export("a" * 32, "masks.zip", "8", query["u"], query["s"])
    assert not links.check_export("a" * 32, "session.zip", "7", query["u"], query["s"])



def test_picture_tag_links_the_owners_picture_and_escapes_the_alt() -> None:
    links = Links(key=b"k" * 32)
    tag = links.picture_html(NAME, "alice", "a \"quoted\" <b>'caption'</b>")  # a plugin tool's caption
    src = links.picture(NAME, "alice").replace("&", "&amp;")
    alt = "a &quot;quoted&quot; &lt;b&gt;&#x27;caption&#x27;&lt;/b&gt;"
    assert tag == f'<img class="pr-pic" src="{src}" alt="{alt}">'
    assert f"u={links.owner_id('alice')}&" in src


def test_export_links_name_their_owner_and_an_empty_mask() -> None:
    links = Links(key=b"k" * 32)
    sid = "a" * 32
    url = links.export(sid, "session.zip", "alice")
    path, query = url.split("?")
    fields = dict(part.split("=") for part in query.split("&"))
    assert path == f"pixelrs/export/{sid}/session.zip"
    assert fields["m"] == "" and fields["u"] == links.owner_id("alice") != links.owner_id(None)
    assert links.check_export(sid, "session.zip", "", fields["u"], fields["s"])
    assert not links.check_export(sid, "session.zip", "None", fields["u"], fields["s"])


def test_owner_ids_never_reveal_a_signature() -> None:
    # owner ids are shown in every link; an owner named like a signed message must not get that
    # message's signature as its id (the owner MAC has its own domain)
    links = Links(key=b"k" * 32)
    uid = links.owner_id("alice")
    sig = links.picture(NAME, "alice").split("&s=")[1]
    assert links.owner_id("\x00".join(["picture", uid, NAME])) != sig[:24]
    export_sig = links.export("a" * 32, "mask.png", "alice", 1).split("&s=")[1]
    assert links.owner_id("\x00".join(["export", uid, "a" * 32, "mask.png", "1"])) != export_sig[:24]

# lite ranking ---------------------------------------------------------------------------------


def test_an_excluded_region_is_never_ranked_first() -> None:
    """'the square on the left, not the red one': the red square is leftmost, so only the
    exclusion factor keeps it from ranking first (the later subtract step hides that bug in the
    final mask of simple scenes)."""
    image = np.full((240, 400, 3), 235, np.uint8)
    image[60:180, 10:110] = (220, 30, 30)
    image[80:160, 150:220] = (30, 170, 40)
    image[80:160, 300:380] = (30, 60, 220)
    backend = LiteBackend(ocr=False)
    analysis = backend.analysis(image, ImageRef(sha256="c" * 64, width=400, height=240))
    red = np.zeros(analysis.shape, bool)
    s = analysis.scale
    red[int(60 * s) : int(180 * s), int(10 * s) : int(110 * s)] = True
    turn = [DialogueTurn(role="user", text="the square on the left, not the red one")]
    plain = Ranker(analysis, from_intent(Intent(target="square", attributes={"position": "left"}), turn), None).rank()
    assert analysis.segment_mask(plain.ranked[0].cand)[red].mean() > 0.9  # red leads without the exclusion
    cues = from_intent(Intent(target="square", attributes={"position": "left"}, exclusions=["red"]), turn)
    ranking = Ranker(analysis, cues, None).rank()
    top = analysis.segment_mask(ranking.ranked[0].cand)
    assert not (top & red).any()
