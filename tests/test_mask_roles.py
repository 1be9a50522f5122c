"""Mask roles (target / instance / alternative) through memory, migration, export and the turn graph."""

from __future__ import annotations

import io

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from PIL import Image

from agent.memory import Memory, ToolCallIn, alembic_config
from agent.types import Intent, Mask, MaskOut, shown_masks
from graphs.export import coco_annotations
from graphs.runtime import Runtime
from tools.backends.base import SegmentRequest, SegmentResult


def box(x0: int, x1: int) -> Mask:
    m = np.zeros((8, 10), bool)
    m[2:6, x0:x1] = True
    return Mask(m)


def several() -> list[MaskOut]:
    """What a several-target answer stores: the union (target), each instance, no alternative."""
    return [
        MaskOut(Mask(box(0, 3).array | box(6, 9).array), "people", 0.8),
        MaskOut(box(0, 3), "person 1", 0.9, role="instance"),
        MaskOut(box(6, 9), "person 2", 0.8, role="instance"),
    ]


@pytest.fixture
def mem(db_url):
    memory = Memory(db_url)
    yield memory
    memory.close()


def test_roles_round_trip_and_the_union_is_current(mem):
    sid = mem.create_session().id
    user = mem.add_user_turn(sid, "all the people")
    record = mem.complete_turn(
        user.id, act="new_target", reply="I found 2 of them.", intent=Intent(target="people"),
        masks=several(), tool_calls=[ToolCallIn("segment", {}, 1.0)], latency_ms=1.0,
    )  # fmt: skip
    assert [m.role for m in record.masks] == ["target", "instance", "instance"]
    history = mem.history(sid)
    assert [m.role for m in history.masks] == ["target", "instance", "instance"]
    assert history.current_mask is not None and history.current_mask.label == "people"
    assert [m.label for m in shown_masks(history.masks)] == ["person 1", "person 2"]
    assert history.masks[1].to_mask_out().role == "instance"
    annotations = coco_annotations(history)["annotations"]
    assert [(a["role"], a["shown"]) for a in annotations] == [
        ("target", False), ("instance", True), ("instance", True),
    ]  # fmt: skip


def test_shown_masks_are_the_instances_else_the_first_target_else_the_first_mask():
    def out(label: str, role: str) -> MaskOut:
        return MaskOut(box(0, 3), label, role=role)  # type: ignore[arg-type]

    union, one, two = out("people", "target"), out("person 1", "instance"), out("person 2", "instance")
    runner_up, other = out("runner-up", "alternative"), out("other", "target")
    assert shown_masks([runner_up, union, one, two]) == [one, two]
    assert shown_masks([runner_up, union, other]) == [union]
    assert shown_masks([runner_up, out("second", "alternative")]) == [runner_up]
    assert shown_masks([]) == []

def test_an_alternative_is_stored_but_not_shown(mem):
    sid = mem.create_session().id
    user = mem.add_user_turn(sid, "the cup")
    mem.complete_turn(
        user.id, act="new_target", reply="Here is the cup.", intent=Intent(target="cup"),
        masks=[MaskOut(box(0, 3), "cup", 0.9), MaskOut(box(6, 9), "cup", 0.4, role="alternative")],
        tool_calls=[], latency_ms=1.0,
    )  # fmt: skip
    annotations = coco_annotations(mem.history(sid))["annotations"]
    assert [(a["role"], a["shown"]) for a in annotations] == [
        ("target", True), ("alternative", False),
    ]  # fmt: skip


def test_the_database_refuses_an_unknown_role(mem):
    sid = mem.create_session().id
    user = mem.add_user_turn(sid, "x")
    mem.complete_turn(
        user.id, act="new_target", reply="y", intent=None, masks=[MaskOut(box(0, 3), "cup")],
        tool_calls=[], latency_ms=1.0,
    )  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError), mem.engine.begin() as conn:
        conn.execute(sa.text("UPDATE masks SET role = 'best'"))


def test_migration_marks_later_masks_of_old_turns_as_alternatives(sqlite_url):
    with Memory(sqlite_url) as mem:
        sid = mem.create_session().id
        for text in ("one", "two"):
            user = mem.add_user_turn(sid, text)
            mem.complete_turn(
                user.id, act="new_target", reply="r", intent=None,
                masks=[MaskOut(box(0, 3), "a"), MaskOut(box(6, 9), "b"), MaskOut(box(3, 6), "c")],
                tool_calls=[], latency_ms=1.0,
            )  # fmt: skip
        cfg = alembic_config()
        with mem.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
            assert "role" not in {c["name"] for c in sa.inspect(conn).get_columns("masks")}
            command.upgrade(cfg, "head")
        roles = [m.role for m in mem.history(sid).masks]
    assert roles == ["target", "alternative", "alternative"] * 2


class AbsentBackend:
    """A backend at the edge of the graph: it judges every requested thing absent."""

    name = "absent"

    def segment(self, request: SegmentRequest) -> SegmentResult:
        if request.intent.target and "dog" in request.intent.target:
            return SegmentResult(masks=[], evidence={"absent": "no dog was detected"}, absent=True)
        return SegmentResult(masks=[MaskOut(box(0, 3), request.intent.target or "x", 0.9)])

    def explain(self, request):  # type: ignore[no-untyped-def]
        yield "Here it is."

    def forget_session(self, session_id: str) -> None:
        pass


def png_bytes(shape: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((*shape, 3), 200, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_an_absent_target_keeps_the_previous_mask_and_intent(sqlite_url):
    with Memory(sqlite_url) as memory:
        runtime = Runtime(memory=memory, backend=AbsentBackend())
        sid = runtime.new_session()
        first = runtime.run_turn_sync(sid, "segment the cup", image=png_bytes((8, 10)))
        absent = runtime.run_turn_sync(sid, "segment the dog")
        assert absent.masks == [] and absent.reply.startswith("I don't see a dog in this image.")
        assert "No dog was detected." in absent.reply and "current mask stays" in absent.reply
        history = runtime.history(sid)
        assert history.current_mask is not None and history.current_mask.id == first.masks[0].id
        assert history.current_intent is not None and history.current_intent.target == "cup"
        segment_calls = [c for t in history.turns for c in t.tool_calls if c.tool == "segment"]
        assert [c.status for c in segment_calls] == ["ok", "absent"]
        after = runtime.run_turn_sync(sid, "what colour is it?")
        assert after.act.value == "explain" and after.intent.target == "cup"
        runtime.close()


@pytest.mark.parametrize(
    ("phrase", "plural", "said"),
    [
        ("dog", False, "a dog"),
        ("open book on the right", False, "an open book on the right"),
        ("all scissors", True, "any scissors"),
        ("both cups", False, "any cups"),
        ("cups", True, "any cups"),
        ("the flag", False, "the flag"),
        ("The big dog", False, "The big dog"),
        ("a red cup", False, "a red cup"),
        ("an apple", False, "an apple"),
        ("any cups", True, "any cups"),
        ("every cup", False, "any cup"),
        ("each bird", False, "any bird"),
        ("Umbrella", False, "an Umbrella"),
        ("two cups", True, "two cups"),  # a number is the determiner: not "any two cups"
        ("13 dogs", True, "13 dogs"),
        ("eyes of the cat", True, "any eyes of the cat"),
    ],
)
def test_an_absent_thing_takes_its_article(phrase, plural, said):
    from graphs.turn import _indefinite

    assert _indefinite(phrase, plural=plural) == said
