"""One turn at a time per session, across threads and real processes, on SQLite and PostgreSQL.

A second turn waits for the running one, or is refused with "a turn is still running in this
session" after the bounded wait; nothing is lost, nothing collides; turns of a dead process
are marked interrupted when a memory opens or the session's next turn starts.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from _data import HDMI_JPG, REPO

from agent.errors import PixelrsError, SessionBusyError
from agent.images import load_image_file
from agent.memory import Memory
from agent.memory.models import utcnow
from graphs.runtime import Runtime
from tools.backends.base import ExplainRequest, SegmentRequest, SegmentResult

BUSY = "a turn is still running in this session"


def _answer(mem: Memory, user_id: int, reply: str = "ok") -> None:
    mem.complete_turn(user_id, act="chitchat", reply=reply, intent=None, masks=[], tool_calls=[], latency_ms=1.0)


def _statuses(mem: Memory, sid: str) -> list[tuple[str, str]]:
    return [(t.role, t.status) for t in mem.history(sid).turns]


def test_second_turn_waits_then_is_refused_and_nothing_is_stored(db_url: str) -> None:
    with Memory(db_url, turn_wait_s=0.3) as mem:
        sid = mem.create_session().id
        first, _ = mem.begin_turn(sid, "find the cup")
        with pytest.raises(SessionBusyError) as refused:
            mem.begin_turn(sid, "and the plate")
        assert refused.value.one_line().startswith(BUSY)
        with pytest.raises(SessionBusyError):
            mem.add_user_turn(sid, "and the plate")
        assert [t.text for t in mem.history(sid).turns] == ["find the cup"]
        _answer(mem, first.id, "the cup")
        second, recall = mem.begin_turn(sid, "and the plate")  # free again at once
        assert (second.index, [d.text for d in recall.dialogue]) == (2, ["find the cup", "the cup"])
        mem.fail_turn(second.id, "backend crashed")
        third, _ = mem.begin_turn(sid, "try again")  # a failed turn frees the session too
        assert third.index == 3


def test_a_waiting_turn_goes_on_when_the_running_one_answers(db_url: str) -> None:
    with Memory(db_url, turn_wait_s=10) as mem:
        sid = mem.create_session().id
        first, _ = mem.begin_turn(sid, "first")
        timer = threading.Timer(0.3, _answer, args=(mem, first.id, "first answer"))
        timer.start()
        second, recall = mem.begin_turn(sid, "second")  # waits for the answer, then runs
        timer.join()
        assert [d.text for d in recall.dialogue] == ["first", "first answer"]
        assert second.index == 2


def test_other_sessions_are_not_blocked(db_url: str) -> None:
    with Memory(db_url, turn_wait_s=0) as mem:
        a, b = mem.create_session().id, mem.create_session().id
        mem.begin_turn(a, "busy")
        turn, _ = mem.begin_turn(b, "free")
        assert turn.status == "pending"


class _SlowLite:
    """The lite backend with a pause inside ``segment``, so that turns overlap for real."""

    name = "slow-lite"

    def __init__(self, inner: Any, pause_s: float) -> None:
        self.inner, self.pause_s = inner, pause_s

    def segment(self, request: SegmentRequest) -> SegmentResult:
        time.sleep(self.pause_s)
        return self.inner.segment(request)

    def explain(self, request: ExplainRequest) -> Iterator[str]:
        return self.inner.explain(request)

    def forget_session(self, session_id: str) -> None:
        self.inner.forget_session(session_id)


def test_threads_running_turns_on_one_session_lose_nothing(db_url: str, lite: Any) -> None:
    """Three threads (two tabs and an API client) send 4 turns each into one session at once."""
    runtime = Runtime(memory=Memory(db_url, turn_wait_s=30), backend=_SlowLite(lite, 0.05))
    try:
        sid = runtime.new_session()
        runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
        errors: list[BaseException] = []
        start = threading.Barrier(3)

        def client(k: int) -> None:
            start.wait()
            for i in range(4):
                try:
                    runtime.run_turn_sync(sid, f"find the HDMI label, client {k} turn {i}")
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        turns = runtime.history(sid).turns
        assert [t.index for t in turns] == list(range(26))
        assert [(t.role, t.status) for t in turns] == [("user", "ok"), ("assistant", "ok")] * 13
        asked = sorted(t.text for t in turns[2::2])
        assert asked == sorted(f"find the HDMI label, client {k} turn {i}" for k in range(3) for i in range(4))
        assert all(len(t.masks) >= 1 for t in turns[3::2])  # every answer segmented
    finally:
        runtime.close()


_WRITER = """
import sys, time
from agent.memory import Memory
from agent.memory.models import utcnow
url, sid, name, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with Memory(url, turn_wait_s=60) as mem:
    for i in range(n):
        turn, recall = mem.begin_turn(sid, f"{name} {i}")
        time.sleep(0.01)  # the model's time: another process tries to write now
        mem.complete_turn(turn.id, act="chitchat", reply=f"re {name} {i}", intent=None, masks=[],
                          tool_calls=[], latency_ms=1.0)
print("done", name)
"""


def _python(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, *args], cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs,
    )


def test_processes_writing_one_session_lose_nothing(db_url: str) -> None:
    """Three processes write 15 turns each into one session, all at once."""
    with Memory(db_url) as mem:
        sid = mem.create_session().id
    procs = [_python("-c", _WRITER, db_url, sid, f"p{k}", "15") for k in range(3)]
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    with Memory(db_url) as mem:
        turns = mem.history(sid).turns
    assert [t.index for t in turns] == list(range(90))
    pairs = list(zip(turns[::2], turns[1::2], strict=True))
    assert all((u.role, u.status, a.role, a.text) == ("user", "ok", "assistant", f"re {u.text}") for u, a in pairs)
    assert sorted(u.text for u, _ in pairs) == sorted(f"p{k} {i}" for k in range(3) for i in range(15))


def test_two_cli_processes_chatting_in_one_session_lose_nothing(db_url: str, tmp_path: Any) -> None:
    """The issue's case: two ``pixelrs chat --session`` writers on one session, each 5 turns."""
    with Memory(db_url) as mem:
        sid = mem.create_session().id
        _answer(mem, mem.add_user_turn(sid, "hello").id, "hello")
    lines = "\n".join(f"find the HDMI label, writer {{k}} turn {i}" for i in range(5)) + "\n"
    procs = []
    for k in range(2):
        proc = _python("app.py", "chat", "--session", sid, "--db", db_url, "--image", str(HDMI_JPG), "--json",
                       stdin=subprocess.PIPE)
        assert proc.stdin is not None
        proc.stdin.write(lines.format(k=k))
        proc.stdin.close()
        procs.append(proc)
    outputs = [(p.stdout.read() if p.stdout else "", p.stderr.read() if p.stderr else "") for p in procs]
    codes = [p.wait(timeout=300) for p in procs]
    assert codes == [0, 0], outputs
    assert all(out.count("\n") == 5 for out, _ in outputs), outputs
    with Memory(db_url) as mem:
        turns = mem.history(sid).turns
    assert [(t.role, t.status) for t in turns] == [("user", "ok"), ("assistant", "ok")] * 11
    assert sorted(t.text for t in turns[2::2]) == sorted(
        f"find the HDMI label, writer {k} turn {i}" for k in range(2) for i in range(5)
    )


_HOLDER = """
import sys, time
from agent.memory import Memory
from agent.memory.models import utcnow
mem = Memory(sys.argv[1])
turn, _ = mem.begin_turn(sys.argv[2], "a turn that never ends")
print(turn.id, flush=True)
time.sleep(600)
"""


def test_a_killed_process_turn_is_interrupted_on_next_open(db_url: str) -> None:
    with Memory(db_url) as mem:
        sid = mem.create_session().id
    holder = _python("-c", _HOLDER, db_url, sid)
    assert holder.stdout is not None
    turn_id = int(holder.stdout.readline())
    with Memory(db_url, turn_wait_s=0.2) as mem:  # the holder is alive: busy, not stale
        assert _statuses(mem, sid) == [("user", "pending")]
        with pytest.raises(SessionBusyError):
            mem.begin_turn(sid, "me too")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with Memory(db_url, turn_wait_s=0) as mem:  # opening recovers: the pid is gone
        (turn,) = mem.history(sid).turns
        assert (turn.id, turn.status) == (turn_id, "interrupted")
        assert turn.error is not None and turn.error.startswith("interrupted")
        nxt, recall = mem.begin_turn(sid, "again")
        assert nxt.index == 1 and recall.dialogue == []  # interrupted turns are not dialogue


def _set_lock(mem: Memory, turn_id: int, runner: str, lease_in_s: float) -> None:
    until = utcnow() + timedelta(seconds=lease_in_s)
    with mem.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE turns SET runner = :r, lease_until = :u WHERE id = :i"),
            {"r": runner, "u": until, "i": turn_id},
        )


def test_a_lock_held_on_another_machine_counts_until_its_lease_runs_out(db_url: str) -> None:
    with Memory(db_url, turn_wait_s=0.1) as mem:
        sid = mem.create_session().id
        turn = mem.add_user_turn(sid, "on another machine")
        mem._locks.forget(turn.id)  # noqa: SLF001 - this memory stops renewing it, as if elsewhere
        _set_lock(mem, turn.id, "another-machine/1/abc", 60)
        assert mem.recover() == 0
        with pytest.raises(SessionBusyError):
            mem.begin_turn(sid, "wait for it")
        _set_lock(mem, turn.id, "another-machine/1/abc", -1)  # its lease ran out
        nxt, _ = mem.begin_turn(sid, "take over")
        assert nxt.index == 1
        assert _statuses(mem, sid) == [("user", "interrupted"), ("user", "pending")]


def test_the_heartbeat_renews_a_long_turn(db_url: str) -> None:
    with Memory(db_url, turn_lease_s=0.6) as mem, Memory(db_url, turn_wait_s=0, migrate=False) as other:
        sid = mem.create_session().id
        turn, _ = mem.begin_turn(sid, "a long turn")
        time.sleep(1.5)  # more than two leases: alive only because it was renewed
        assert other.recover() == 0
        with pytest.raises(SessionBusyError):
            other.begin_turn(sid, "not yet")
        _answer(mem, turn.id)
        assert _statuses(mem, sid) == [("user", "ok"), ("assistant", "ok")]


def test_closing_a_memory_interrupts_its_running_turns(db_url: str) -> None:
    mem = Memory(db_url)
    sid = mem.create_session().id
    turn, _ = mem.begin_turn(sid, "still running at shutdown")
    mem.close()
    with Memory(db_url, turn_wait_s=0) as again:
        assert _statuses(again, sid) == [("user", "interrupted")]
        assert again.begin_turn(sid, "next")[0].index == 1


def test_internal_errors_reach_the_user_as_one_plain_line(sqlite_url: str, lite: Any, caplog: Any) -> None:
    class Broken(_SlowLite):
        def segment(self, request: SegmentRequest) -> SegmentResult:
            raise sa.exc.IntegrityError(
                "INSERT INTO turns (session_id, index) VALUES (?, ?)", (1, 2),
                Exception("UNIQUE constraint failed: turns.session_id, turns.index"),
            )

    runtime = Runtime(memory=Memory(sqlite_url), backend=Broken(lite, 0))
    try:
        sid = runtime.new_session()
        with caplog.at_level(logging.ERROR, logger="graphs.runtime"), pytest.raises(PixelrsError) as failed:
            runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
        message = failed.value.one_line()
        assert message.startswith("this turn failed because of an internal error (reference ")
        for leak in ("UNIQUE", "INSERT", "IntegrityError", "turns.session_id", "\n"):
            assert leak not in message
        reference = message.split("reference ")[1][:8]
        (record,) = [r for r in caplog.records if reference in r.getMessage()]
        assert record.exc_info is not None and "UNIQUE constraint failed" in str(record.exc_info[1])
        (turn,) = runtime.history(sid).turns
        assert (turn.status, turn.error) == ("failed", message)  # stored as shown: no SQL
    finally:
        runtime.close()
