"""Unit tests of the app's pure helpers: overlays, escaping/highlighting, panels, chat converters, auth."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent.answer import compose
from agent.errors import BadInputError
from agent.types import Intent, IntentOp, Mask, MaskOut, Relation, shown_masks
from ui.auth import Authenticator, load_auth, parse_credential, read_auth_file, resolve_auth
from ui.chat import (
    ShownMask,
    TurnView,
    answer_text,
    mask_legend,
    plain_title,
    user_message,
)
from ui.files import FileStore, content_key
from ui.render import (
    PALETTE,
    LatencyRow,
    Marks,
    draw_marks,
    encode_png,
    escape_markdown,
    fit_within,
    highlight,
    intent_html,
    marks_summary,
    mask_color,
    mask_only,
    overlay,
    relative_time,
    render_view,
    session_caption,
    status_html,
    thumbnail,
    to_image_coords,
)
from ui.state import UIState


def _square_mask(h: int = 40, w: int = 60, box: tuple[int, int, int, int] = (10, 5, 30, 25)) -> Mask:
    arr = np.zeros((h, w), dtype=bool)
    x0, y0, x1, y1 = box
    arr[y0:y1, x0:x1] = True
    return Mask(arr)


# overlays ---------------------------------------------------------------------------------------
def test_overlay_tints_inside_draws_contour_and_leaves_far_pixels() -> None:
    rgb = np.full((40, 60, 3), 100, dtype=np.uint8)
    mask = _square_mask()
    out = overlay(rgb, [mask], [(255, 0, 0)])
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert (rgb == 100).all(), "input must not be modified"
    inside = out[15, 20]
    assert inside[0] > 150 and inside[1] < 100  # red tint blended in
    assert (out[38, 58] == 100).all()  # far away: untouched
    edge = out[5, 20]  # on the mask border: solid contour colour
    assert tuple(edge) == (255, 0, 0)


def test_overlay_alternatives_are_outlined_not_filled() -> None:
    rgb = np.full((40, 60, 3), 100, dtype=np.uint8)
    best, alt = _square_mask(box=(5, 5, 20, 20)), _square_mask(box=(35, 10, 55, 30))
    out = overlay(rgb, [best, alt], [(255, 0, 0), (0, 0, 255)], filled=[True, False])
    assert out[12, 12, 0] > 150  # best filled
    assert (out[20, 45] == 100).all()  # inside the alternative: not filled
    assert out[10, 45, 2] > 150  # its outline is drawn in blue


def test_overlay_rejects_mismatched_sizes_and_missing_colours() -> None:
    rgb = np.zeros((10, 10, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="does not match"):
        overlay(rgb, [_square_mask(20, 20)], [(1, 2, 3)])
    with pytest.raises(ValueError, match="colours"):
        overlay(rgb, [_square_mask(10, 10, (1, 1, 5, 5))], [])


def test_empty_mask_overlay_is_the_image() -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    out = overlay(rgb, [Mask(np.zeros((12, 16), bool))], [(1, 2, 3)])
    assert np.array_equal(out, rgb)


def test_mask_only_and_render_view_modes() -> None:
    rgb = np.full((40, 60, 3), 90, dtype=np.uint8)
    mask = _square_mask()
    only = mask_only(mask)
    assert set(np.unique(only)) == {0, 255}
    assert np.array_equal(only[:, :, 0] > 0, mask.array)
    assert np.array_equal(render_view(rgb, mask, "mask", (0, 255, 0)), only)
    assert np.array_equal(render_view(rgb, mask, "image", (0, 255, 0)), rgb)
    assert not np.array_equal(render_view(rgb, mask, "overlay", (0, 255, 0)), rgb)
    assert np.array_equal(render_view(rgb, None, "overlay", (0, 255, 0)), rgb)  # no mask yet


def test_draw_marks_colours_points_and_box() -> None:
    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    out = draw_marks(rgb, Marks(points=((20, 20, True), (80, 80, False)), box=(40, 10, 90, 40)))
    assert out[20, 14, 1] > 150 and out[20, 14, 0] < 100  # green dot left of the + sign
    assert out[80, 74, 0] > 150 and out[80, 74, 1] < 100  # red dot
    assert out[10, 60, 2] > 150  # box top edge (cyan)
    assert (rgb == 0).all()


def test_fit_within_and_click_mapping_round_trip() -> None:
    rgb = np.zeros((1000, 2000, 3), dtype=np.uint8)
    shown, scale = fit_within(rgb, 500)
    assert shown.shape[:2] == (250, 500) and scale == pytest.approx(0.25)
    assert to_image_coords(100, 50, scale, 2000, 1000) == (400.0, 200.0)
    assert to_image_coords(-5, 9999, scale, 2000, 1000) == (0.0, 999.0)  # clamped
    small = np.zeros((10, 10, 3), dtype=np.uint8)
    assert fit_within(small, 500) == (small, 1.0)


def test_encode_png_and_thumbnail() -> None:
    rgb = np.random.default_rng(1).integers(0, 255, (30, 50, 3), dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(rgb))))
    assert np.array_equal(decoded, rgb)
    assert thumbnail(rgb, 16).shape == (16, 16, 3)


def test_palette_cycles() -> None:
    assert mask_color(0) == PALETTE[0]
    assert mask_color(len(PALETTE)) == PALETTE[0]
    assert len(set(PALETTE)) == len(PALETTE)


# text -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "**bold** _it_ `code` [l](http://x)", "# head", "$$x$$", "a & b"],
)
def test_escape_markdown_leaves_no_markup(text: str) -> None:
    out = escape_markdown(text)
    assert "<" not in out and ">" not in out
    for ch in "*_`[]#$":
        assert ch not in out.replace("\\" + ch, "")
    assert "&amp;" in out if "&" in text else True


def test_highlight_marks_phrases_case_insensitively_and_escapes() -> None:
    out = highlight("The HDMI label <b>is</b> next to the hdmi LABEL.", [("hdmi label", (230, 159, 0))])
    assert out.count('class="pr-hl"') == 2
    assert "rgb(230, 159, 0)" in out
    assert "&lt;b&gt;" in out and "<b>" not in out


def test_highlight_prefers_longer_phrases_and_first_colour() -> None:
    out = highlight("the red port and the port", [("port", (1, 1, 1)), ("red port", (2, 2, 2)), ("port", (3, 3, 3))])
    assert out.count('class="pr-hl"') == 2
    assert "rgb(2, 2, 2)" in out and "rgb(1, 1, 1)" in out and "rgb(3, 3, 3)" not in out


def test_highlight_respects_word_boundaries_and_escapes_phrase_html() -> None:
    assert "pr-hl" not in highlight("support", [("port", (1, 2, 3))])
    out = highlight("find <x> now", [("<x>", (1, 2, 3))])
    assert "pr-hl" in out and "<x>" not in out


def test_answer_text_uses_the_best_mask_colour_and_legend() -> None:
    masks = [ShownMask("person 1", 0.9, (10, 20, 30)), ShownMask("person 2", 0.8, (40, 50, 60))]
    out = answer_text("I found 2 of them (person).", masks, "person")
    assert "rgba(10, 20, 30, 0.28)" in out  # the target phrase in the first mask's colour
    assert out.count('class="pr-legend"') == 2 and "rgb(40, 50, 60)" in out
    assert answer_text("It reads HDMI.", [], "HDMI", current=(7, 8, 9)).count("rgb(7, 8, 9)") == 1
    assert "pr-hl" not in answer_text("It reads HDMI.", [], "HDMI")
    assert "&lt;i&gt;" in mask_legend([ShownMask("<i>x</i>", None, (1, 2, 3))])


def test_user_message_escapes_text_and_keeps_image() -> None:
    picture = '<img class="pr-pic" src="pixelrs/img/a.jpg" alt="uploaded image">'
    msg = user_message("<b>hi</b>", picture)
    assert msg["role"] == "user"
    assert msg["content"][0] == picture
    assert "<b>" not in msg["content"][1]
    assert "attached: notes\\.txt" in user_message("x", attachment="notes.txt")["content"][0]


def test_plain_title_drops_markup() -> None:
    assert plain_title("Segmenting <b>*x*</b>") == "Segmenting bx/b"
    assert plain_title("") == "…"


def test_relative_time_and_caption() -> None:
    now = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    assert relative_time(now - timedelta(seconds=5), now) == "just now"
    assert relative_time(now - timedelta(minutes=5), now) == "5 min ago"
    assert relative_time(now - timedelta(hours=3), now) == "3 h ago"
    assert relative_time(now - timedelta(days=2), now) == "2 d ago"
    assert relative_time(now - timedelta(days=30), now) == "2025-12-11"
    assert relative_time(datetime(2026, 1, 10, 11, 0), now) == "1 h ago"  # naive = UTC
    assert session_caption(None, 1, now, now) == "Untitled session · 1 turn · just now"
    assert session_caption("x" * 100, 3, now, now).startswith("x" * 59 + "…")


# panels -----------------------------------------------------------------------------------------
def test_intent_html_shows_all_fields_escaped_with_history_numbers() -> None:
    intent = Intent().revised(turn=0, op=IntentOp.NEW, target="HDMI label", attributes={"text": "HDMI"})
    intent = intent.revised(
        turn=2, op=IntentOp.REFINE, target="<port>", relations=[Relation(kind="next_to", anchor="HDMI label")], exclusions=["cup"]
    )
    out = intent_html(intent, (1, 2, 3), "refine", {0: 1, 2: 2})
    assert "&lt;port&gt;" in out and "<port>" not in out
    assert "next to HDMI label" in out and "cup" in out and "text: HDMI" in out
    assert "Revision history (2)" in out and "rgb(1, 2, 3)" in out
    assert "<td>1</td>" in out and "<td>2</td>" in out
    assert "No target yet" in intent_html(None)
    assert "<td>3</td>" in intent_html(intent.revised(turn=4, op=IntentOp.KEEP), None, None, {0: 1, 2: 2})


def test_status_html_lists_latency_newest_first() -> None:
    rows = [LatencyRow(1, "new_target", 1234.0), LatencyRow(2, None, None, "failed"), LatencyRow(3, "explain", 42.0)]
    out = status_html("lite<x>", rows, owner="alice")
    assert "lite&lt;x&gt;" in out and "alice" in out
    assert "last turn <b>42 ms</b>" in out
    assert out.index("42 ms") < out.index("1.23 s") and "failed" in out
    assert "No turns yet" in status_html("lite", [])
    assert "browser:" not in status_html("lite", [], owner="browser:abc")


def test_marks_summary_and_state_marks() -> None:
    state = UIState()
    assert "No correction yet" in marks_summary(state.marks, "box")
    state.points += [(1, 2, True), (3, 4, False)]
    state.box_start = (5, 6)
    text = marks_summary(state.marks, "box")
    assert "1 positive + 1 negative" in text and "opposite box corner" in text
    state.box, state.box_start = (0, 0, 5, 5), None
    assert "a box" in marks_summary(state.marks, "box")
    assert state.has_correction
    state.clear_marks()
    assert not state.has_correction and state.marks == Marks()


def test_state_reset_keeps_owner_and_view() -> None:
    state = UIState(owner="alice", session_id="s", view="mask", mask_count=3)
    state.chat.append({"role": "user", "content": "x"})
    state.reset_session()
    assert state.owner == "alice" and state.view == "mask"
    assert state.session_id is None and state.chat == [] and state.mask_count == 0


# chat converter ---------------------------------------------------------------------------------
def test_turn_view_follows_the_event_order() -> None:
    view = TurnView(turn_id="t1")
    first = view.messages()
    assert len(first) == 1 and first[0]["metadata"]["status"] == "pending"
    assert first[0]["metadata"]["title"].startswith("Tracking intent")
    view.on_progress("recall")
    view.on_progress("tracking")
    view.on_intent("new_target", Intent(target="HDMI label"))
    view.on_progress("segmenting")
    assert view.messages()[0]["metadata"]["title"] == "Segmenting…"
    view.on_mask('<img class="pr-pic" src="o">', [ShownMask("HDMI label", 0.9, (1, 2, 3))])
    msgs = view.messages()
    assert msgs[1]["content"] == ['<img class="pr-pic" src="o">']
    view.on_progress("explaining")
    view.on_token("I found ")
    view.on_token("the HDMI label.")
    assert "pr-hl" in view.messages()[1]["content"][1]
    view.on_done("I found the HDMI label.", 120.0)
    done = view.messages()
    assert done[0]["metadata"]["status"] == "done" and done[0]["metadata"]["title"] == "New target"
    assert done[0]["metadata"]["duration"] == pytest.approx(0.12)
    assert "Segmenting" in done[0]["content"] and "Explaining" in done[0]["content"]


def test_turn_view_error_replaces_answer_with_one_line_notice() -> None:
    view = TurnView(turn_id="t2")
    view.on_error("the model ran out of GPU memory\non this turn")
    msgs = view.messages()
    assert msgs[0]["metadata"]["title"] == "Failed"
    assert msgs[1]["content"].startswith("⚠️") and "\n" not in msgs[1]["content"]


# auth -------------------------------------------------------------------------------------------
def test_parse_and_load_auth(tmp_path) -> None:
    assert parse_credential("alice:pa:ss") == ("alice", "pa:ss")
    for bad in ("alice", ":x", "alice:", "a b:c"):
        with pytest.raises(BadInputError):
            parse_credential(bad)
    f = tmp_path / "users.txt"
    f.write_text("# team\nalice:one\n\nbob:two\n")
    assert read_auth_file(f) == [("alice", "one"), ("bob", "two")]
    assert load_auth(["carol:3"], f) == [("carol", "3"), ("alice", "one"), ("bob", "two")]
    assert load_auth() is None
    with pytest.raises(BadInputError, match="twice"):
        load_auth(["alice:1", "alice:2"])
    (tmp_path / "bad.txt").write_text("alice:one\nnocolon\n")
    with pytest.raises(BadInputError, match="bad.txt:2"):
        read_auth_file(tmp_path / "bad.txt")
    with pytest.raises(BadInputError, match="cannot read"):
        read_auth_file(tmp_path / "missing.txt")


def test_resolve_auth_accepts_strings_files_and_pairs(tmp_path) -> None:
    f = tmp_path / "users"
    f.write_text("bob:two\n")
    assert resolve_auth("alice:one") == [("alice", "one")]
    assert resolve_auth(str(f)) == [("bob", "two")]
    assert resolve_auth([("carol", "3")], f) == [("carol", "3"), ("bob", "two")]
    assert resolve_auth(None) is None
    with pytest.raises(BadInputError):
        resolve_auth(str(tmp_path / "missing"))


def test_authenticator_checks_passwords() -> None:
    check = Authenticator([("alice", "one")])
    assert check("alice", "one")
    assert not check("alice", "two") and not check("bob", "one")
    assert check.users == ["alice"]


# files ------------------------------------------------------------------------------------------
def test_file_store_caches_by_content_and_cleans_up() -> None:
    store = FileStore()
    calls = []

    def make() -> np.ndarray:
        calls.append(1)
        return np.zeros((4, 4, 3), dtype=np.uint8)

    key = content_key("x", np.ones((2, 2), bool), (1, 2, 3))
    assert key != content_key("x", np.zeros((2, 2), bool), (1, 2, 3))
    first = store.picture(key, make)
    assert store.picture(key, make) == first and first.endswith('.jpg') and len(calls) == 1
    chat = Path(store.picture(content_key("chat"), make, "chat"))
    assert chat.parent.name == "chat" and store.chat_file(chat.name) == chat
    # only bare names of files in chat/: not the Gradio pictures in img/, no paths
    assert store.chat_file("../img/" + Path(first).name) is None and store.chat_file(Path(first).name) is None
    assert store.chat_file("") is None and store.chat_file(".hidden") is None
    root = store.root
    store.close()
    assert not root.exists()


def test_drain_batches_waiting_events_but_sends_a_mask_alone() -> None:
    import queue

    from graphs.runtime import TurnEvent
    from ui.stream import drain

    q: queue.SimpleQueue = queue.SimpleQueue()
    for kind in ("progress", "intent", "mask", "token", "token"):
        q.put(TurnEvent(kind=kind))
    assert [e.kind for e in drain(q)] == ["progress", "intent", "mask"]
    assert [e.kind for e in drain(q)] == ["token", "token"]


def test_links_are_signed_per_owner_and_name() -> None:
    from urllib.parse import parse_qs, urlsplit

    from ui.links import Links

    links, other = Links(), Links()
    name = "0123456789abcdef01234567.jpg"
    url = urlsplit(links.picture(name, "alice"))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == f"pixelrs/img/{name}" and "alice" not in url.query
    assert links.check_picture(name, query["u"], query["s"])
    assert query["u"] == links.owner_id("alice") != links.owner_id("bob")
    assert not links.check_picture(name, links.owner_id("bob"), query["s"])  # another owner
    assert not links.check_picture("1" + name[1:], query["u"], query["s"])  # another picture
    assert not other.check_picture(name, query["u"], query["s"])  # another app (key)
    assert not links.check_picture("../x.jpg", query["u"], query["s"])
    export = urlsplit(links.export("sid1", "mask.png", "alice", 7))
    q = {k: v[0] for k, v in parse_qs(export.query).items()}
    assert links.check_export("sid1", "mask.png", "7", q["u"], q["s"])
    assert not links.check_export("sid1", "mask.png", "8", q["u"], q["s"])
    assert not links.check_export("sid2", "mask.png", "7", q["u"], q["s"])
    assert not links.check_export("sid1", "session.zip", "7", q["u"], q["s"])
    tag = links.picture_html(name, "alice", 'a "quoted" <alt>')
    assert tag.startswith('<img class="pr-pic" src="pixelrs/img/') and "&amp;s=" in tag and "<alt>" not in tag


def test_revision_history_shows_which_words_caused_each_revision():
    from agent.intent import RuleIntentTracker
    from agent.types import DialogueTurn, Intent
    from ui.render import intent_html

    tracker = RuleIntentTracker()
    first = tracker.track(intent=Intent(), dialogue=[], user_text="find the red salt & pepper shaker", turn=0)
    second = tracker.track(
        intent=first.intent,
        dialogue=[DialogueTurn(role="user", text="find the red cup"), DialogueTurn(role="assistant", text="Here.")],
        user_text="no, the one on the left",
        turn=2,
    )
    page = intent_html(second.intent, turn_numbers={0: 1, 2: 2})
    assert "<th>why</th>" in page
    assert "“red” <small>colour</small>" in page and "“on the left” <small>position</small>" in page
    assert "correction:" in page  # the reason, as the cell's tooltip
    assert "salt &amp; pepper shaker" in page and "salt & pepper" not in page  # escaped

def test_answer_text_folds_the_details_away() -> None:
    reply = compose("Here is the cup.", ["Cues used: detected cup.", "The mask is <big>."])
    out = answer_text(reply, [ShownMask("cup", 0.9, (1, 2, 3))], "cup")
    lead, _, folded = out.partition("<details>")
    assert "Here is the" in lead and "Cues used" not in lead
    assert folded.startswith("<summary>Details</summary>") and folded.rstrip().endswith("</details>")
    assert "\n- Cues used" in folded and "&lt;big&gt;" in folded and "<big>" not in folded
    assert "<details>" not in answer_text("It reads HDMI.", [], "HDMI")


def test_shown_masks_are_the_instances_or_the_target() -> None:
    def out(role: str, label: str) -> MaskOut:
        return MaskOut(Mask(np.ones((2, 2), bool)), label=label, role=role)  # type: ignore[arg-type]

    several = [out("target", "people"), out("instance", "person 1"), out("instance", "person 2")]
    assert [m.label for m in shown_masks(several)] == ["person 1", "person 2"]
    single = [out("target", "cup"), out("alternative", "cup"), out("alternative", "cup")]
    assert [m.role for m in shown_masks(single)] == ["target"]
