"""Memory schema, engine and efficiency: migrations vs metadata, SQLite pragmas, threads, query counts."""

from __future__ import annotations

import threading

import numpy as np
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from agent.memory import Base, Memory, ToolCallIn, alembic_config, current_revision
from agent.types import Intent, IntentOp, Mask, MaskOut

TABLES = {"sessions", "images", "turns", "intents", "masks", "tool_calls"}


def _diffs(mem: Memory) -> list:
    with mem.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_migration_matches_metadata(db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no alembic.ini around: the package finds its own migrations
    with Memory(db_url) as mem:
        assert _diffs(mem) == []
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert current_revision(mem.engine) == head
        assert TABLES <= set(sa.inspect(mem.engine).get_table_names())
    with Memory(db_url) as again:  # upgrading an up-to-date database is a no-op
        assert _diffs(again) == []


def test_downgrade_then_upgrade(db_url):
    with Memory(db_url) as mem:
        cfg = alembic_config()
        with mem.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert not TABLES & set(sa.inspect(mem.engine).get_table_names())
    with Memory(db_url) as mem:
        assert _diffs(mem) == []


def test_migrate_false_leaves_database_alone(sqlite_url):
    with Memory(sqlite_url, migrate=False) as mem:
        assert sa.inspect(mem.engine).get_table_names() == []
        assert mem.url == sqlite_url


def test_sqlite_pragmas(sqlite_url):
    with Memory(sqlite_url) as mem, mem.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_in_memory_sqlite_works():
    with Memory("sqlite://") as mem:
        sid = mem.create_session().id
        mem.add_user_turn(sid, "hello")
        assert [t.text for t in mem.history(sid).turns] == ["hello"]


def _count_queries(engine: sa.Engine):
    counter = {"n": 0}

    def on_execute(*_args):
        counter["n"] += 1

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    return counter, lambda: sa.event.remove(engine, "before_cursor_execute", on_execute)


def _play_turns(mem: Memory, sid: str, n: int) -> None:
    arr = np.zeros((8, 10), bool)
    arr[1:4, 2:6] = True
    intent = Intent(target="cup")
    for i in range(n):
        user = mem.add_user_turn(sid, f"turn {i}")
        intent = intent.revised(turn=user.index, op=IntentOp.REFINE)
        intent.mask_id = None
        mem.complete_turn(
            user.id, act="refine", reply=f"reply {i}", intent=intent,
            masks=[MaskOut(Mask(arr), "cup", 0.5)],
            tool_calls=[ToolCallIn("segment", {"i": i}, 1.0)], latency_ms=1.0,
        )


def test_query_counts_stay_flat(db_url):
    with Memory(db_url) as mem:
        short, long = mem.create_session().id, mem.create_session().id
        _play_turns(mem, short, 2)
        _play_turns(mem, long, 20)
        counter, stop = _count_queries(mem.engine)
        try:
            counts = []
            for sid in (short, long):
                counter["n"] = 0
                hist = mem.history(sid)
                counts.append(counter["n"])
                assert len(hist.turns) in (4, 40)
            assert counts[0] == counts[1] <= 6
            adds = []
            for sid in (short, long):
                counter["n"] = 0
                mem.add_user_turn(sid, "one more")
                adds.append(counter["n"])
            assert adds[0] == adds[1] <= 6
        finally:
            stop()


def test_threads_share_one_memory(db_url):
    """Gradio serves requests on threads: concurrent turns must neither lock up nor collide.

    Four threads write turns into one shared session (the turn lock makes each wait for the
    other's answer) and into their own sessions; every message keeps its own answer.
    """
    with Memory(db_url) as mem:
        shared = mem.create_session().id
        errors: list[BaseException] = []

        def worker(k: int) -> None:
            try:
                own = mem.create_session(owner=f"user{k}").id
                for i in range(5):
                    asked = mem.add_user_turn(shared, f"w{k} msg {i}")
                    mem.complete_turn(
                        asked.id, act="chitchat", reply=f"re w{k} msg {i}", intent=None,
                        masks=[], tool_calls=[], latency_ms=0.1,
                    )
                    turn = mem.add_user_turn(own, f"mine {i}")
                    mem.complete_turn(
                        turn.id, act="chitchat", reply="ok", intent=None, masks=[],
                        tool_calls=[], latency_ms=0.1,
                    )
                    mem.history(own)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        shared_turns = mem.history(shared).turns
        assert [t.index for t in shared_turns] == list(range(40))
        pairs = list(zip(shared_turns[::2], shared_turns[1::2], strict=True))
        assert all(("re " + u.text, u.status) == (a.text, "ok") for u, a in pairs)
        assert sorted(u.text for u, _ in pairs) == sorted(f"w{k} msg {i}" for k in range(4) for i in range(5))
        for k in range(4):
            (own,) = mem.list_sessions(owner=f"user{k}")
            assert [t.index for t in mem.history(own.id).turns] == list(range(10))


def test_upgrading_a_populated_database_keeps_every_row(db_url):
    """0001 -> head rebuilds the turns table on SQLite: children must survive (no cascade on drop)."""
    from agent.memory import upgrade

    with Memory(db_url, migrate=False) as mem:
        upgrade(mem.engine, "0001")
        with mem.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO sessions (id, title, backend, created_at, updated_at) "
                "VALUES ('a' || '0000000000000000000000000000000', 't', 'lite', :t, :t)"), {"t": "2025-01-01"})
            for tid, index, role, status in ((1, 0, "user", "ok"), (2, 1, "assistant", "ok"), (3, 2, "user", "pending")):
                conn.execute(sa.text(
                    "INSERT INTO turns (id, session_id, \"index\", role, text, status, created_at) "
                    "VALUES (:i, 'a0000000000000000000000000000000', :x, :r, 'hi', :s, :t)"),
                    {"i": tid, "x": index, "r": role, "s": status, "t": "2025-01-01"})
            conn.execute(sa.text(
                "INSERT INTO masks (turn_id, label, rle, area, bbox, source, created_at) "
                "VALUES (2, 'cup', '{}', 1, '[0, 0, 1, 1]', 'model', :t)"), {"t": "2025-01-01"})
            conn.execute(sa.text(
                "INSERT INTO intents (turn_id, target, attributes, relations, exclusions, op, history) "
                "VALUES (2, 'cup', '{}', '[]', '[]', 'new', '[]')"))
        upgrade(mem.engine)
        with mem.engine.connect() as conn:
            counts = [conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in ("turns", "masks", "intents")]
            statuses = conn.execute(sa.text("SELECT id, status FROM turns ORDER BY id")).all()
        assert counts == [3, 1, 1]
        assert [tuple(r) for r in statuses] == [(1, "ok"), (2, "ok"), (3, "interrupted")]
        assert _diffs(mem) == []
