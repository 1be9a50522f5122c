"""Memory behaviour on real databases (SQLite file and PostgreSQL): sessions, turns, masks, safety."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import PurePosixPath

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from agent.errors import BadInputError, UnknownSessionError
from agent.images import LoadedImage, decode_image
from agent.memory import (
    Memory,
    SessionHistory,
    ToolCallIn,
    UnknownImageError,
    UnknownMaskError,
    UnknownTurnError,
)
from agent.memory.convert import (
    aware,
    db_text,
    intent_row,
    intent_values,
    jsonable,
    one_line,
    opt_text,
)
from agent.types import Act, Intent, IntentOp, Mask, MaskOut, Relation

SQL_TEXT = "'); DROP TABLE turns; --"
HTML_TEXT = "<script>alert(1)</script>"


@pytest.fixture
def mem(db_url):
    memory = Memory(db_url)
    yield memory
    memory.close()


def make_image(seed: int = 0) -> LoadedImage:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (8, 10, 3), dtype=np.uint8)).save(buf, format="PNG")
    return decode_image(buf.getvalue())


def box_mask(y0: int, y1: int, x0: int, x1: int) -> Mask:
    arr = np.zeros((8, 10), dtype=bool)
    arr[y0:y1, x0:x1] = True
    return Mask(arr)


def complete(mem: Memory, user_id: int, *, masks=(), intent=None, reply="done", act="new_target"):
    return mem.complete_turn(
        user_id, act=act, reply=reply, intent=intent, masks=list(masks),
        tool_calls=[ToolCallIn("segment", {"target": "cup"}, 2.5)], latency_ms=12.5,
    )


def row_counts(mem: Memory, session_id: str) -> dict[str, int]:
    turn_ids = "SELECT id FROM turns WHERE session_id = :sid"
    queries = {
        "turns": "SELECT COUNT(*) FROM turns WHERE session_id = :sid",
        "masks": f"SELECT COUNT(*) FROM masks WHERE turn_id IN ({turn_ids})",
        "intents": f"SELECT COUNT(*) FROM intents WHERE turn_id IN ({turn_ids})",
        "tool_calls": f"SELECT COUNT(*) FROM tool_calls WHERE turn_id IN ({turn_ids})",
    }
    with mem.engine.connect() as conn:
        return {k: conn.execute(sa.text(q), {"sid": session_id}).scalar_one() for k, q in queries.items()}


# sessions -------------------------------------------------------------------------------------


def test_session_crud(mem):
    created = mem.create_session(owner="ann", title="Kitchen", backend="miras")
    assert len(created.id) == 32 and int(created.id, 16) >= 0
    assert created.created_at.tzinfo is not None
    got = mem.get_session(created.id)
    assert (got.id, got.owner, got.title, got.backend) == (created.id, "ann", "Kitchen", "miras")
    assert mem.get_session(str(uuid.UUID(created.id))).id == created.id  # dashed form accepted
    mem.rename_session(created.id, "  Kitchen\n table ")
    assert mem.get_session(created.id).title == "Kitchen table"
    with pytest.raises(BadInputError):
        mem.rename_session(created.id, "   ")
    (summary,) = mem.list_sessions()
    assert (summary.id, summary.title, summary.turn_count, summary.thumbnail_sha) == (
        created.id, "Kitchen table", 0, None,
    )
    mem.delete_session(created.id)
    with pytest.raises(UnknownSessionError, match="unknown session id"):
        mem.get_session(created.id)
    assert mem.list_sessions() == []


def test_list_sessions_order_counts_thumbnail(mem):
    img = mem.put_image(make_image())
    first = mem.create_session().id
    second = mem.create_session().id
    assert [s.id for s in mem.list_sessions()] == [second, first]
    complete(mem, mem.add_user_turn(first, "no image yet").id)
    mem.add_user_turn(first, "now an image", image_sha=img.sha256)
    listed = mem.list_sessions()
    assert [s.id for s in listed] == [first, second]  # touched most recently
    assert (listed[0].turn_count, listed[0].thumbnail_sha) == (2, img.sha256)
    assert len(mem.list_sessions(limit=1)) == 1


def test_title_from_first_user_text(mem):
    sid = mem.create_session().id
    long_text = "find the " + "very " * 30 + "red mug"
    complete(mem, mem.add_user_turn(sid, long_text).id)
    mem.add_user_turn(sid, "something else")
    assert mem.get_session(sid).title == long_text[:60]
    titled = mem.create_session(title="Mine").id
    mem.add_user_turn(titled, "hello")
    assert mem.get_session(titled).title == "Mine"


def test_owner_isolation(mem):
    ann = mem.create_session(owner="ann").id
    bob = mem.create_session(owner="bob").id
    mem.add_user_turn(ann, "ann's secret")
    for call in (
        lambda: mem.get_session(ann, owner="bob"),
        lambda: mem.rename_session(ann, "stolen", owner="bob"),
        lambda: mem.delete_session(ann, owner="bob"),
        lambda: mem.history(ann, owner="bob"),
        lambda: mem.session_masks(ann, owner="bob"),
    ):
        with pytest.raises(UnknownSessionError):
            call()
    assert [s.id for s in mem.list_sessions(owner="ann")] == [ann]
    assert [s.id for s in mem.list_sessions(owner="bob")] == [bob]
    assert {s.id for s in mem.list_sessions()} == {ann, bob}
    assert mem.get_session(ann, owner="ann").title == "ann's secret"
    assert [t.text for t in mem.history(ann, owner="ann").turns] == ["ann's secret"]


def test_sessions_never_see_each_others_turns(mem):
    a, b = mem.create_session().id, mem.create_session().id
    ua = mem.add_user_turn(a, "in a")
    ub = mem.add_user_turn(b, "in b")
    complete(mem, ua.id, masks=[MaskOut(box_mask(0, 2, 0, 2), "x")])
    assert (ua.index, ub.index) == (0, 0)
    assert [t.text for t in mem.history(a).turns] == ["in a", "done"]
    assert [t.text for t in mem.history(b).turns] == ["in b"]
    assert mem.session_masks(b) == [] and len(mem.session_masks(a)) == 1


@pytest.mark.parametrize(
    "bad",
    ["", "nope", SQL_TEXT, "x" * 1000, "\x00", "1 OR 1=1", uuid.uuid4().hex, None, 123, b"abc"],
)
def test_unknown_and_garbage_session_ids(mem, bad):
    with pytest.raises(UnknownSessionError, match="unknown session id"):
        mem.get_session(bad)
    with pytest.raises(UnknownSessionError):
        mem.history(bad)
    with pytest.raises(UnknownSessionError):
        mem.add_user_turn(bad, "hi")
    with pytest.raises(UnknownSessionError):
        mem.delete_session(bad)


# images ---------------------------------------------------------------------------------------


def test_image_dedup(mem):
    image = make_image(1)
    ref1, ref2 = mem.put_image(image), mem.put_image(image)
    assert ref1 == ref2 == image.ref
    assert mem.image_bytes(ref1.sha256) == image.data
    a, b = mem.create_session().id, mem.create_session().id
    mem.add_user_turn(a, "look", image_sha=ref1.sha256)
    complete(mem, mem.add_user_turn(b, "look too", image_sha=ref1.sha256).id)
    with mem.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM images")).scalar_one() == 1
    assert mem.delete_session(a) == []
    assert mem.image_bytes(ref1.sha256) == image.data  # shared images survive
    assert mem.history(b).current_image_sha == ref1.sha256
    with pytest.raises(UnknownImageError):
        mem.image_bytes("0" * 64)
    with pytest.raises(UnknownImageError):
        mem.add_user_turn(b, "ghost", image_sha="f" * 64)
    forged = LoadedImage(ref=make_image(2).ref, data=image.data, rgb=image.rgb)
    with pytest.raises(BadInputError):
        mem.put_image(forged)
    own = mem.put_image(make_image(3))
    complete(mem, mem.add_user_turn(b, "another one", image_sha=own.sha256).id)
    c = mem.create_session().id
    complete(mem, mem.add_user_turn(c, "mine", image_sha=own.sha256).id)
    assert mem.delete_session(b) == [ref1.sha256]  # the last user of the first image; own is c's too
    with pytest.raises(UnknownImageError):
        mem.image_bytes(ref1.sha256)
    assert mem.delete_session(c) == [own.sha256]
    with mem.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM images")).scalar_one() == 0


# turns ----------------------------------------------------------------------------------------


def test_user_turn_committed_before_completion(mem, db_url):
    sid = mem.create_session().id
    turn = mem.add_user_turn(sid, "segment the cup", act="new_target")
    assert (turn.status, turn.role, turn.index, turn.act) == ("pending", "user", 0, "new_target")
    with Memory(db_url, migrate=False) as other:
        (seen,) = other.history(sid).turns
        assert (seen.id, seen.status, seen.text) == (turn.id, "pending", "segment the cup")
        assert other.history(sid).dialogue() == []  # pending user turns are not dialogue yet


def test_complete_turn_writes_everything(mem):
    sid = mem.create_session().id
    user = mem.add_user_turn(sid, "the red cup")
    outs = [MaskOut(box_mask(1, 4, 2, 6), "cup", 0.875), MaskOut(box_mask(5, 7, 0, 3), "cup 2")]
    intent = Intent(target="cup", attributes={"colour": "red"}).revised(turn=0, op=IntentOp.NEW)
    reply = complete(mem, user.id, masks=outs, intent=intent)
    assert (reply.role, reply.index, reply.status, reply.latency_ms) == ("assistant", 1, "ok", 12.5)
    assert [o.id for o in outs] == [m.id for m in reply.masks] and None not in [o.id for o in outs]
    assert reply.intent is not None and reply.intent.mask_id == outs[0].id == intent.mask_id
    assert [(c.tool, c.args, c.duration_ms, c.status) for c in reply.tool_calls] == [
        ("segment", {"target": "cup"}, 2.5, "ok")
    ]
    hist = mem.history(sid)
    assert [(t.role, t.status, t.act) for t in hist.turns] == [
        ("user", "ok", "new_target"), ("assistant", "ok", "new_target"),
    ]
    assert hist.turns[1].masks == reply.masks and hist.turns[1].intent == reply.intent
    assert hist.turns[1].tool_calls == reply.tool_calls
    assert hist.turns[1] == reply  # the record built from the values written is what is stored
    assert hist.current_mask.id == outs[0].id and hist.next_index == 2
    assert hist.dialogue()[0].act is Act.NEW_TARGET
    with pytest.raises(ValueError, match="not pending"):
        complete(mem, user.id)
    with pytest.raises(UnknownTurnError):
        complete(mem, reply.id)  # an assistant turn is not a user turn
    with pytest.raises(UnknownTurnError):
        complete(mem, 10**9)


class Unencodable:
    area = 1
    bbox = (0, 0, 1, 1)

    def to_rle(self):
        raise RuntimeError("cannot encode this mask")

    def encode(self):
        raise RuntimeError("cannot encode this mask")


def _assert_only_pending_user(mem, sid, user_id):
    hist = mem.history(sid)
    assert [(t.id, t.role, t.status) for t in hist.turns] == [(user_id, "user", "pending")]
    assert row_counts(mem, sid) == {"turns": 1, "masks": 0, "intents": 0, "tool_calls": 0}


def test_complete_turn_is_atomic(mem, monkeypatch):
    sid = mem.create_session().id
    user = mem.add_user_turn(sid, "find it")
    good = MaskOut(box_mask(0, 3, 0, 3), "it")
    bad = MaskOut(Unencodable(), "broken")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="cannot encode"):
        complete(mem, user.id, masks=[good, bad], intent=Intent(target="it"))
    _assert_only_pending_user(mem, sid, user.id)
    assert good.id is None

    import agent.memory.turns as store

    def explode(*_args, **_kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(store, "tool_call_values", explode)  # fails after masks were flushed
    with pytest.raises(OSError, match="disk on fire"):
        complete(mem, user.id, masks=[good], intent=Intent(target="it"))
    _assert_only_pending_user(mem, sid, user.id)
    monkeypatch.undo()

    mem.fail_turn(user.id, "backend crashed")
    nxt = mem.add_user_turn(sid, "try again")
    assert nxt.index == 1
    reply = complete(mem, nxt.id, masks=[good], intent=Intent(target="it"))
    assert reply.index == 2 and good.id == reply.masks[0].id
    hist = mem.history(sid)
    assert [(t.role, t.status) for t in hist.turns] == [
        ("user", "failed"), ("user", "ok"), ("assistant", "ok"),
    ]
    assert [d.text for d in hist.dialogue()] == ["try again", "done"]


def test_fail_turn(mem):
    sid = mem.create_session().id
    user = mem.add_user_turn(sid, "boom")
    mem.fail_turn(user.id, "CUDA out of memory\n  at line 3\t" + "x" * 1000)
    (turn,) = mem.history(sid).turns
    assert turn.status == "failed" and "\n" not in turn.error and len(turn.error) <= 500
    assert turn.error.startswith("CUDA out of memory at line 3 x")
    with pytest.raises(ValueError, match="not pending"):
        complete(mem, user.id)
    with pytest.raises(UnknownTurnError):
        mem.fail_turn(10**9, "nope")
    done = mem.add_user_turn(sid, "ok now")
    complete(mem, done.id)
    mem.fail_turn(done.id, "late failure")  # a completed turn stays completed
    assert mem.history(sid).turns[1].status == "ok"


def test_history_current_intent_and_mask(mem):
    sid = mem.create_session().id
    image = mem.put_image(make_image(3))
    empty = mem.history(sid)
    assert (empty.current_image_sha, empty.current_intent, empty.current_mask) == (None, None, None)
    assert empty.next_index == 0 and empty.masks == []

    u0 = mem.add_user_turn(sid, "the mugs", image_sha=image.sha256)
    m_a, m_b = MaskOut(box_mask(0, 2, 0, 2), "mug"), MaskOut(box_mask(4, 6, 4, 6), "mug")
    intent = Intent(target="mug").revised(turn=0, op=IntentOp.NEW)
    complete(mem, u0.id, masks=[m_a, m_b], intent=intent)
    assert mem.history(sid).current_mask.id == m_a.id  # intent.mask_id defaulted to first mask

    u1 = mem.add_user_turn(sid, "no, the other one", act="correct")
    m_c = MaskOut(box_mask(2, 5, 5, 9), "mug", source="user-edit")
    intent = intent.revised(turn=2, op=IntentOp.CORRECT, attributes={"other": "yes"},
                            relations=[Relation(kind="right_of", anchor="HDMI label")])
    intent.mask_id = m_b.id  # points at an earlier mask explicitly
    complete(mem, u1.id, masks=[m_c], intent=intent, act="correct")

    u2 = mem.add_user_turn(sid, "why?")
    complete(mem, u2.id, act="explain", reply="because", intent=None)
    failed = mem.add_user_turn(sid, "oops")
    mem.fail_turn(failed.id, "x")

    hist = mem.history(sid)
    assert isinstance(hist, SessionHistory)
    assert [t.index for t in hist.turns] == list(range(7))
    assert [t.role for t in hist.turns] == ["user", "assistant"] * 3 + ["user"]
    assert hist.current_image_sha == image.sha256
    assert hist.current_intent == intent and hist.current_intent.relations[0].anchor == "HDMI label"
    assert [h.op for h in hist.current_intent.history] == [IntentOp.NEW, IntentOp.CORRECT]
    assert hist.current_mask.id == m_b.id
    assert [m.id for m in hist.masks] == [m_a.id, m_b.id, m_c.id]
    assert [m.turn_index for m in hist.masks] == [1, 1, 3]
    assert hist.masks[2].source == "user-edit"
    assert [m.id for m in mem.session_masks(sid)] == [m_a.id, m_b.id, m_c.id]
    assert [d.text for d in hist.dialogue()] == [
        "the mugs", "done", "no, the other one", "done", "why?", "because",
    ]
    assert hist.next_index == 7


def test_current_mask_falls_back_to_latest(mem):
    sid = mem.create_session().id
    for i in range(2):
        u = mem.add_user_turn(sid, f"t{i}")
        complete(mem, u.id, masks=[MaskOut(box_mask(i, i + 2, 0, 3), f"m{i}")])
    hist = mem.history(sid)
    assert hist.current_intent is None and hist.current_mask.label == "m1"


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (427, 639), (1000, 3)])
def test_mask_rle_is_the_pycocotools_encoding_whatever_the_memory_layout(shape):
    from pycocotools import mask as coco_mask

    rng = np.random.default_rng(sum(shape))
    for fill in (0.0, 0.4, 1.0):
        arr = rng.random(shape) < fill
        expected = coco_mask.encode(np.asfortranarray(arr.astype(np.uint8)))["counts"].decode()
        for layout in (arr, np.asfortranarray(arr), arr[:, ::-1][:, ::-1]):  # C, Fortran, strided
            rle = Mask(layout).to_rle()
            assert rle["counts"] == expected and rle["size"] == list(shape)
            decoded = Mask.from_rle(rle).array
            assert np.array_equal(decoded, arr) and decoded.flags.c_contiguous


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (427, 639), (1000, 3)])
def test_mask_encode_reads_area_and_box_off_the_rle(shape):
    rng = np.random.default_rng(sum(shape) + 1)
    blob = np.zeros(shape, bool)
    blob[shape[0] // 3 : shape[0] // 3 + 1 + shape[0] // 4, shape[1] // 2 :] = True
    corner = np.zeros(shape, bool)
    corner[-1, -1] = True
    for arr in (rng.random(shape) < 0.0, rng.random(shape) < 0.01, rng.random(shape) < 0.5, blob, corner, ~corner):
        mask = Mask(arr)
        rle, area, bbox = mask.encode()
        assert (rle, area, bbox) == (mask.to_rle(), mask.area, mask.bbox)
        assert type(area) is int and all(type(v) is int for v in bbox)


def test_a_mask_is_a_c_ordered_bool_array_of_the_non_zero_pixels():
    for raw in (np.array([[0, 255, 7], [1, 0, 0]], np.uint8), np.array([[0.0, 0.5, -1.0], [2.0, 0.0, 0.0]])):
        mask = Mask(np.asfortranarray(raw))
        assert mask.array.dtype == bool and mask.array.flags.c_contiguous
        assert mask.array.tolist() == [[False, True, True], [True, False, False]]
        assert (mask.height, mask.width, mask.area, mask.bbox) == (2, 3, 3, (0, 0, 3, 2))
    with pytest.raises(ValueError, match=r"^a mask must be 2-D \(H, W\), got shape \(2, 2, 2\)$"):
        Mask(np.zeros((2, 2, 2), bool))


def test_from_rle_takes_counts_as_str_or_bytes():
    arr = np.zeros((8, 10), bool)
    arr[1:4, 2:9] = True
    rle = Mask(arr).to_rle()
    assert isinstance(rle["counts"], str)
    as_bytes = {"size": tuple(rle["size"]), "counts": rle["counts"].encode("ascii")}
    for given in (rle, as_bytes):
        assert np.array_equal(Mask.from_rle(given).array, arr)


def test_mask_png_is_one_bit_foreground_255_and_reads_back():
    arr = np.zeros((5, 7), bool)
    arr[1:3, 2:6] = True
    png = Mask(arr).to_png()
    with Image.open(io.BytesIO(png)) as img:
        assert (img.format, img.mode, img.size) == ("PNG", "1", (7, 5))
        assert np.array_equal(np.asarray(img.convert("L")), arr.astype(np.uint8) * 255)
    assert np.array_equal(Mask.from_png(png).array, arr)
    grey = io.BytesIO()  # any non-zero grey level is foreground
    Image.fromarray(np.array([[0, 1, 128], [255, 0, 0]], np.uint8)).save(grey, format="PNG")
    assert Mask.from_png(grey.getvalue()).array.tolist() == [[False, True, True], [True, False, False]]


def test_mask_iou_is_intersection_over_union():
    left, right = box_mask(0, 4, 0, 6), box_mask(0, 4, 3, 9)  # 24 px each, 12 shared, 36 in all
    assert left.iou(right) == pytest.approx(12 / 36) and right.iou(left) == pytest.approx(12 / 36)
    assert left.iou(left) == 1.0
    assert left.iou(box_mask(5, 8, 0, 10)) == 0.0
    empty = box_mask(0, 0, 0, 0)
    assert empty.iou(empty) == 1.0 and empty.iou(left) == 0.0

def test_rle_round_trip(mem):
    rng = np.random.default_rng(7)
    arr = rng.random((8, 10)) > 0.5
    sid = mem.create_session().id
    user = mem.add_user_turn(sid, "random blob")
    out = MaskOut(Mask(arr), "blob", score=np.float32(0.25))
    complete(mem, user.id, masks=[out])
    stored = mem.mask(out.id)
    assert np.array_equal(stored.mask().array, arr)
    assert stored.rle == Mask(arr).to_rle()
    assert (stored.area, stored.bbox, stored.score) == (int(arr.sum()), Mask(arr).bbox, 0.25)
    back = stored.to_mask_out()
    assert (back.id, back.label, back.source) == (out.id, "blob", "model")
    assert np.array_equal(back.mask.array, arr)
    with pytest.raises(UnknownMaskError):
        mem.mask(10**9)


def test_a_stored_mask_rebuilds_the_mask_out_it_was_made_from(mem):
    # every field the backend set comes back: label, score, who drew it, its role
    sid = mem.create_session().id
    user = mem.add_user_turn(sid, "the cup, or the bowl")
    made = [
        MaskOut(box_mask(0, 2, 0, 3), "cup", 0.75),
        MaskOut(box_mask(4, 6, 4, 6), "bowl", 0.5, role="alternative"),
        MaskOut(box_mask(2, 4, 2, 5), "cup 1", 0.25, role="instance"),
        MaskOut(box_mask(1, 5, 1, 5), "cup, edited", None, source="user-edit"),
    ]
    complete(mem, user.id, masks=made)
    back = [m.to_mask_out() for m in mem.history(sid).masks]
    assert [(b.id, b.label, b.score, b.source, b.role) for b in back] == [
        (m.id, m.label, m.score, m.source, m.role) for m in made
    ]
    assert all(np.array_equal(b.mask.array, m.mask.array) for b, m in zip(back, made, strict=True))


def test_hostile_text_is_stored_verbatim(mem):
    sid = mem.create_session(owner=SQL_TEXT, title=HTML_TEXT).id
    user = mem.add_user_turn(sid, SQL_TEXT, act=HTML_TEXT)
    intent = Intent(target=HTML_TEXT, exclusions=[SQL_TEXT], attributes={"text": SQL_TEXT})
    mem.complete_turn(
        user.id, act="explain", reply=HTML_TEXT, intent=intent,
        masks=[MaskOut(box_mask(0, 1, 0, 1), SQL_TEXT)],
        tool_calls=[ToolCallIn(HTML_TEXT, {"q": SQL_TEXT}, 1.0, status="failed", error=HTML_TEXT)],
        latency_ms=1.0,
    )
    mem.rename_session(sid, SQL_TEXT, owner=SQL_TEXT)
    hist = mem.history(sid, owner=SQL_TEXT)
    user_t, reply_t = hist.turns
    assert (user_t.text, user_t.act, reply_t.text) == (SQL_TEXT, "explain", HTML_TEXT)
    assert reply_t.masks[0].label == SQL_TEXT
    assert reply_t.intent.target == HTML_TEXT and reply_t.intent.exclusions == [SQL_TEXT]
    assert reply_t.tool_calls[0].args == {"q": SQL_TEXT} and reply_t.tool_calls[0].error == HTML_TEXT
    assert (hist.session.title, hist.session.owner) == (SQL_TEXT, SQL_TEXT)
    assert {"turns", "sessions"} <= set(sa.inspect(mem.engine).get_table_names())


def test_nul_characters_do_not_break_postgres(mem):
    sid = mem.create_session().id
    user = mem.add_user_turn(sid, "a\x00b")
    complete(mem, user.id, reply="c\x00d")
    assert [t.text for t in mem.history(sid).turns] == ["ab", "cd"]


def test_tool_call_args_are_made_json_safe(mem):
    sid = mem.create_session().id
    user = mem.add_user_turn(sid, "x")
    args = {"score": np.float64(0.5), "nan": float("nan"), "box": (1, 2), "big": np.zeros((50, 50))}
    reply = mem.complete_turn(
        user.id, act="chitchat", reply="y", intent=None, masks=[],
        tool_calls=[ToolCallIn("t", args, 1.0)], latency_ms=1.0,
    )
    stored = mem.history(sid).turns[1].tool_calls[0].args
    assert stored == reply.tool_calls[0].args
    assert stored["score"] == 0.5 and stored["nan"] is None and stored["box"] == [1, 2]
    assert stored["big"].startswith("<ndarray shape=[50, 50]")


def test_delete_cascades(mem):
    image = mem.put_image(make_image(4))
    doomed, kept = mem.create_session(owner="o").id, mem.create_session(owner="o").id
    for sid in (doomed, kept):
        user = mem.add_user_turn(sid, "go", image_sha=image.sha256)
        complete(mem, user.id, masks=[MaskOut(box_mask(0, 2, 0, 2), "m")], intent=Intent(target="m"))
    before = row_counts(mem, doomed)
    assert before == {"turns": 2, "masks": 1, "intents": 1, "tool_calls": 1}
    mem.delete_session(doomed, owner="o")
    with mem.engine.connect() as conn:
        for table in ("masks", "intents", "tool_calls"):
            assert conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT COUNT(*) FROM turns")).scalar_one() == 2
    assert row_counts(mem, kept) == before
    assert mem.image_bytes(image.sha256)
    with pytest.raises(UnknownSessionError):
        mem.history(doomed)


def test_enum_acts_and_numpy_ids(mem):
    sid = mem.create_session().id
    user = mem.add_user_turn(sid, "x", act=Act.SEGMENT_REQUEST)
    assert user.act == "segment_request" and type(user.act) is str
    out = MaskOut(box_mask(0, 2, 0, 2), "m")
    reply = mem.complete_turn(
        np.int64(user.id), act=Act.REFINE, reply="y", intent=None, masks=[out], tool_calls=[],
        latency_ms=1.0,
    )
    assert reply.act == "refine" and mem.history(sid).dialogue()[1].act is Act.REFINE
    assert mem.mask(np.int32(out.id)).id == out.id
    for bad in ("1", None, 1.5, True):
        with pytest.raises(UnknownMaskError):
            mem.mask(bad)
        with pytest.raises(UnknownTurnError):
            mem.fail_turn(bad, "e")


# --------------------------------------------------------------------------- conversions


def test_jsonable_makes_anything_a_tool_or_backend_hands_over_storable():
    class Opaque:
        def __repr__(self) -> str:
            return "Opaque(\x00" + "x" * 300 + ")"

    value = {
        "n": np.int64(3), "f": np.float32(0.5), "inf": float("inf"), "nan": float("nan"), "ok": True,
        "small": np.arange(4), "big": np.zeros((10, 10)), "tags": ("a", "b"), "set": {1},
        "path": PurePosixPath("/tmp/x.png"), "intent": Intent(target="cup"), "none": None,
        "text": "nul\x00here", "nested": [{"k\x00ey": [1.5, float("-inf")]}], "other": Opaque(),
    }  # fmt: skip
    out = jsonable(value)
    assert json.loads(json.dumps(out, allow_nan=False)) == out  # strictly JSON
    assert out["n"] == 3 and out["f"] == 0.5 and out["ok"] is True and out["none"] is None
    assert out["inf"] is None and out["nan"] is None and out["nested"] == [{"key": [1.5, None]}]
    assert out["small"] == [0, 1, 2, 3] and out["big"] == "<ndarray shape=[10, 10] dtype=float64>"
    assert out["tags"] == ["a", "b"] and out["set"] == [1] and out["path"] == "/tmp/x.png"
    assert out["intent"]["target"] == "cup" and out["text"] == "nulhere"
    assert out["other"].startswith("Opaque(x") and len(out["other"]) == 200


def test_text_is_made_storable_and_one_line():
    assert db_text("a\x00b") == "ab" and db_text("x\ud800y") == "xy" and db_text(7) == "7"
    assert opt_text(None) is None and opt_text(Act.EXPLAIN) == "explain"
    assert one_line("  two\n lines\x00 ", 20) == "two lines"
    assert one_line("abcdefghij", 5) == "abcd…" and one_line("abcde", 5) == "abcde"


def test_stored_times_come_back_as_aware_utc():
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert aware(naive) == naive.replace(tzinfo=UTC) and aware(naive).tzinfo is UTC
    paris = datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    assert aware(paris) == naive.replace(tzinfo=UTC) and aware(paris).tzinfo is UTC


def test_intent_values_are_json_native_and_nul_free():
    intent = Intent(target="the\x00 cup", relations=[Relation(kind="right_of", anchor="bowl")]).revised(turn=0, op=IntentOp.NEW)
    values = intent_values(intent, 5, 9)
    assert values["target"] == "the cup" and values["turn_id"] == 5 and values["mask_id"] == 9
    assert values["op"] == "new" and values["relations"] == [{"kind": "right_of", "anchor": "bowl"}]
    assert json.loads(json.dumps(values)) == values
    row = intent_row(intent, 5, 9)
    assert (row.target, row.op, row.mask_id) == ("the cup", "new", 9)
