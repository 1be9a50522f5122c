"""``Memory.recall`` gives the same current state as ``Memory.history`` at bounded cost."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from agent.memory import Memory
from agent.types import Intent, IntentOp, Mask, MaskOut


def _mask(x: int) -> MaskOut:
    arr = np.zeros((8, 10), bool)
    arr[2:5, x : x + 2] = True
    return MaskOut(Mask(arr), label=f"thing {x}", score=0.5)


def test_recall_matches_history(db_url: str) -> None:
    memory = Memory(db_url)
    sid = memory.create_session().id
    intent = Intent()
    for i in range(6):
        user = memory.add_user_turn(sid, f"turn {i}")
        if i == 3:
            memory.fail_turn(user.id, "boom")
            continue
        intent = intent.revised(turn=user.index, op=IntentOp.NEW, target=f"thing {i}", mask_id=None)
        masks = [_mask(i)] if i % 2 == 0 else []
        keep = intent if masks else intent.model_copy(update={"mask_id": intent.mask_id})
        record = memory.complete_turn(user.id, act="new_target", reply=f"reply {i}", intent=keep, masks=masks, tool_calls=[], latency_ms=1.0)
        intent = record.intent or intent
    memory.add_user_turn(sid, "pending one")
    recall, history = memory.recall(sid), memory.history(sid)
    assert recall.dialogue == history.dialogue()
    assert recall.current_intent == history.current_intent
    assert recall.current_mask == history.current_mask
    assert recall.current_image_sha == history.current_image_sha
    assert recall.next_index == history.next_index
    memory.close()


def test_recall_query_count_is_constant(sqlite_url: str) -> None:
    memory = Memory(sqlite_url)
    counts = []
    statements: list[str] = []
    sa.event.listen(memory.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for n_turns in (2, 12):
        sid = memory.create_session().id
        for i in range(n_turns):
            user = memory.add_user_turn(sid, f"turn {i}")
            memory.complete_turn(user.id, act="new_target", reply="ok", intent=Intent(target="x"), masks=[_mask(1)], tool_calls=[], latency_ms=1.0)
        statements.clear()
        memory.recall(sid)
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1]
    memory.close()


def test_begin_turn_stores_the_message_and_recalls_the_session_before_it(db_url: str) -> None:
    memory = Memory(db_url)
    sid = memory.create_session(owner="ann").id
    first, before = memory.begin_turn(sid, "find the red cup", owner="ann")
    assert before.dialogue == [] and before.next_index == 0
    assert first.status == "pending" and first.index == 0
    memory.complete_turn(first.id, act="new_target", reply="found it", intent=Intent(target="cup"), masks=[_mask(3)], tool_calls=[], latency_ms=1.0)
    second, before = memory.begin_turn(sid, "what colour is it?", owner="ann")
    assert [d.text for d in before.dialogue] == ["find the red cup", "found it"]
    assert before.current_intent is not None and before.current_intent.target == "cup"
    assert before.current_mask is not None and second.index == 2
    assert memory.history(sid).turns[-1].status == "pending"
    import pytest

    from agent.errors import UnknownSessionError

    with pytest.raises(UnknownSessionError):
        memory.begin_turn(sid, "hi", owner="bob")
    assert len(memory.history(sid).turns) == 3
    memory.close()


def test_recall_reuses_only_settled_messages(db_url: str) -> None:
    # Two Memory objects on one database stand for two server processes: each caches the settled
    # start of a session, yet sees messages the other appended and pending turns that settled later.
    writer, reader = Memory(db_url), Memory(db_url)
    sid = writer.create_session().id
    first = writer.add_user_turn(sid, "find the cup")
    writer.complete_turn(first.id, act="new_target", reply="the red cup", intent=Intent(target="cup"), masks=[], tool_calls=[], latency_ms=1.0)
    assert [d.text for d in reader.recall(sid).dialogue] == ["find the cup", "the red cup"]

    pending = writer.add_user_turn(sid, "now the mug")
    assert [d.text for d in reader.recall(sid).dialogue] == ["find the cup", "the red cup"]  # pending: not yet said
    writer.complete_turn(pending.id, act="new_target", reply="the mug", intent=Intent(target="mug"), masks=[], tool_calls=[], latency_ms=1.0)
    failing = writer.add_user_turn(sid, "and the spoon")
    assert reader.recall(sid).dialogue[-1].text == "the mug"
    writer.fail_turn(failing.id, "boom")
    writer.add_user_turn(sid, "the plate then")
    recall = reader.recall(sid)
    history = reader.history(sid)
    assert recall.dialogue == history.dialogue() and recall.next_index == history.next_index == 6
    assert [d.text for d in recall.dialogue] == ["find the cup", "the red cup", "now the mug", "the mug"]
    reader.delete_session(sid)
    writer.close()
    reader.close()


def _answer(memory: Memory, sid: str, intent: Intent | None, masks: list[MaskOut]) -> None:
    user = memory.add_user_turn(sid, "turn")
    memory.complete_turn(user.id, act="new_target", reply="ok", intent=intent, masks=masks, tool_calls=[], latency_ms=1.0)


def test_recall_current_intent_and_mask_follow_the_history_rules(db_url: str) -> None:
    # The current intent is the latest *stored* one; the current mask is the intent's own mask only
    # when it belongs to this session, else the latest mask of a completed turn.
    memory = Memory(db_url)
    other = memory.create_session().id
    _answer(memory, other, Intent(target="elsewhere"), [_mask(1)])
    foreign_mask = memory.history(other).masks[0].id
    sid = memory.create_session().id
    empty = memory.recall(sid)
    assert empty.current_intent is None and empty.current_mask is None
    _answer(memory, sid, None, [_mask(2)])  # a mask but no intent yet
    recall = memory.recall(sid)
    assert recall.current_intent is None and recall.current_mask is not None and recall.current_mask.label == "thing 2"
    _answer(memory, sid, Intent(target="cup"), [_mask(3)])
    _answer(memory, sid, Intent(target="mug", mask_id=foreign_mask), [])  # points at another session's mask
    _answer(memory, sid, None, [])  # an answer without an intent keeps the previous one current
    recall, history = memory.recall(sid), memory.history(sid)
    assert recall.current_intent is not None and recall.current_intent.target == "mug"
    assert recall.current_intent.mask_id == foreign_mask
    assert recall.current_mask is not None and recall.current_mask.label == "thing 3"
    assert (recall.current_intent, recall.current_mask) == (history.current_intent, history.current_mask)
    first_mask = history.masks[0]
    _answer(memory, sid, Intent(target="cup", mask_id=first_mask.id), [])  # back to an older mask
    recall = memory.recall(sid)
    assert recall.current_mask == first_mask == memory.history(sid).current_mask
    memory.close()


def _several(memory: Memory, sid: str) -> None:
    """Answer with two things, each its own instance mask, and their union as the target."""
    from dataclasses import replace

    union, *parts = _mask(1), replace(_mask(1), role="instance"), replace(_mask(5), role="instance")
    _answer(memory, sid, Intent(target="cups"), [union, *parts])


def test_the_instances_of_several_targets_come_with_their_union_until_one_is_chosen(db_url: str) -> None:
    memory = Memory(db_url)
    sid = memory.create_session().id
    _several(memory, sid)
    recall, history = memory.recall(sid), memory.history(sid)
    assert recall.current_mask == history.current_mask and recall.current_mask.role == "target"
    assert recall.current_instances == history.current_instances
    assert [m.label for m in recall.current_instances] == ["thing 1", "thing 5"]
    assert [m.role for m in recall.current_instances] == ["instance", "instance"]
    _answer(memory, sid, Intent(target="cup"), [_mask(3)])  # one of them
    assert memory.recall(sid).current_instances == () == memory.history(sid).current_instances
    memory.close()


def test_the_instances_one_thing_was_picked_from_are_recalled_for_a_few_answers_on_one_image(db_url: str) -> None:
    from tests.test_memory import make_image

    memory = Memory(db_url)
    sid = memory.create_session().id
    _several(memory, sid)
    assert memory.recall(sid).picked_from == () == memory.history(sid).picked_from  # they are current
    _answer(memory, sid, Intent(target="cup"), [_mask(3)])  # "the left one": one of them
    recall, history = memory.recall(sid), memory.history(sid)
    assert recall.picked_from == history.picked_from
    assert [m.label for m in recall.picked_from] == ["thing 1", "thing 5"]
    _answer(memory, sid, Intent(target="cup"), [_mask(4)])  # "no, the other one": still picked from them
    assert [m.label for m in memory.recall(sid).picked_from] == ["thing 1", "thing 5"]
    assert memory.recall(sid).picked_from == memory.history(sid).picked_from
    for n in (6, 7):
        _answer(memory, sid, Intent(target="cup"), [_mask(n)])  # three answers later: too long ago
    assert memory.recall(sid).picked_from == () == memory.history(sid).picked_from
    _several(memory, sid)
    image = memory.put_image(make_image())
    user = memory.add_user_turn(sid, "the left one here", image_sha=image.sha256)  # a new image with the pick
    memory.complete_turn(user.id, act="refine", reply="ok", intent=Intent(target="cup"), masks=[_mask(2)], tool_calls=[], latency_ms=1.0)
    assert memory.recall(sid).picked_from == () == memory.history(sid).picked_from
    memory.close()


def test_a_turn_costs_four_plus_five_statements_and_bumps_the_session_once(sqlite_url: str) -> None:
    # begin_turn: bump+lock the session, new messages, current intent+mask, insert; complete_turn:
    # claim, reply, masks, intent, tool calls. The session row is written only by begin_turn.
    from agent.memory import ToolCallIn

    memory = Memory(sqlite_url)
    sid = memory.create_session().id
    _answer(memory, sid, Intent(target="cup"), [_mask(1)])
    statements: list[str] = []
    def record(*args: object) -> None:
        sql = " ".join(str(args[2]).split())
        if not sql.upper().startswith("BEGIN"):
            statements.append(sql)

    sa.event.listen(memory.engine, "before_cursor_execute", record)
    user, _ = memory.begin_turn(sid, "the red one")
    begun = len(statements)
    memory.complete_turn(user.id, act="refine", reply="ok", intent=Intent(target="cup"), masks=[_mask(2)], tool_calls=[ToolCallIn("segment", {}, 1.0)], latency_ms=1.0)
    assert begun == 4 and len(statements) - begun == 5, statements
    assert [s for s in statements if s.upper().startswith("UPDATE SESSIONS")] == statements[:1]
    memory.close()


def test_dialogue_keeps_answers_and_answered_user_turns_only() -> None:
    from agent.memory.records import dialogue_turn, in_dialogue
    from agent.types import Act, DialogueTurn

    kept = [(role, status) for role in ("user", "assistant") for status in ("ok", "pending", "failed") if in_dialogue(role, status)]
    assert kept == [("user", "ok"), ("assistant", "ok"), ("assistant", "pending"), ("assistant", "failed")]
    assert dialogue_turn("user", "hi", "explain") == DialogueTurn(role="user", text="hi", act=Act.EXPLAIN)
    assert dialogue_turn("assistant", "yes", "not-an-act") == DialogueTurn(role="assistant", text="yes")
