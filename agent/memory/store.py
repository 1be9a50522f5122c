"""The :class:`Memory` store: sessions, images, turns, intents, masks and tool calls in SQL."""

from __future__ import annotations

import logging
import operator
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from agent.errors import BadInputError, UnknownSessionError
from agent.images import LoadedImage, sha256_hex
from agent.memory import convert, turns
from agent.memory.engine import WRITE_OPTION, make_engine
from agent.memory.exceptions import UnknownImageError, UnknownMaskError, UnknownTurnError
from agent.memory.lock import INTERRUPTED, PENDING, TurnLocks
from agent.memory.migrate import upgrade
from agent.memory.models import (
    ImageRow,
    IntentRow,
    MaskRow,
    SessionRow,
    ToolCallRow,
    TurnRow,
    utcnow,
)
from agent.memory.records import (
    MaskRecord,
    Recall,
    SessionHistory,
    SessionRecord,
    SessionSummary,
    ToolCallIn,
    TurnRecord,
)
from agent.types import ImageRef, Intent, MaskOut

log = logging.getLogger(__name__)

DEFAULT_TURN_LEASE_S = 30.0
"""How long a turn's session lock holds without renewal (a dead process frees it this late)."""
DEFAULT_TURN_WAIT_S = 10.0
"""How long a second turn of a busy session waits before it is refused."""


def _session_key(session_id: object) -> str:
    """Normalise a session id to 32 hex digits, or raise UnknownSessionError for anything else."""
    if isinstance(session_id, str) and len(session_id) <= 64:
        try:
            return uuid.UUID(session_id.strip()).hex
        except ValueError:
            pass
    shown = convert.one_line(session_id, 80)
    raise UnknownSessionError(f"unknown session id: {shown}")


def _as_id(value: object, error: type[LookupError], what: str) -> int:
    """Return ``value`` as an integer row id, or raise ``error`` for anything that is not one."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise error(f"unknown {what} id: {convert.one_line(value, 80)}") from None


class Memory:
    """SQL-backed conversation memory, safe to share between threads (one engine, short sessions).

    A session answers one turn at a time, across threads and processes (:mod:`agent.memory.lock`):
    storing a user message takes the session's turn lock, storing the answer or the failure
    releases it, and a second message waits up to ``turn_wait_s`` for it, then is refused with
    :class:`~agent.errors.SessionBusyError`.
    """

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        turn_lease_s: float = DEFAULT_TURN_LEASE_S,
        turn_wait_s: float = DEFAULT_TURN_WAIT_S,
    ) -> None:
        """Open the database at ``url``; by default migrate it and interrupt turns of dead processes."""
        self.url: str = (
            url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
        )
        self._engine = make_engine(self.url)
        self._read = sessionmaker(self._engine, expire_on_commit=False)
        self._write_engine = self._engine.execution_options(**{WRITE_OPTION: True})
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        self._settled = turns.SettledPrefixes()
        """Sessions' settled message prefixes, so a turn's recall reads only the newest messages."""
        self._locks = TurnLocks(self._write_engine, lease_s=turn_lease_s, wait_s=turn_wait_s)
        if migrate:
            try:
                upgrade(self._engine)
                self.recover()
            except BaseException:
                self._engine.dispose()
                raise

    @property
    def engine(self) -> sa.Engine:
        """The underlying SQLAlchemy engine (for tests and tooling)."""
        return self._engine

    @property
    def runner(self) -> str:
        """Who this memory's turn locks name as answering (machine scope, pid, token)."""
        return self._locks.runner

    def running_turns(self) -> list[int]:
        """Return the ids of the user turns this memory is answering now (stored, not yet settled)."""
        return self._locks.held()

    def close(self) -> None:
        """Interrupt the turns still running through this memory, then dispose the pool."""
        for turn_id in self._locks.close():
            try:
                self.interrupt_turn(turn_id)
            except Exception:  # noqa: BLE001 - closing must not fail; the lease frees it later
                log.warning("could not mark turn %s interrupted", turn_id, exc_info=True)
        self._engine.dispose()

    def recover(self, session_id: str | None = None) -> int:
        """Mark the turns left pending by dead or frozen processes interrupted; return how many.

        Runs when a memory opens (every session) and when the app opens a session; a new turn in
        a session does the same for that session.
        """
        return self._locks.recover(None if session_id is None else _session_key(session_id))

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Memory({self._engine.url.render_as_string(hide_password=True)!r})"

    # sessions ---------------------------------------------------------------------------------

    @staticmethod
    def _session_row(db: Session, session_id: object, owner: str | None) -> SessionRow:
        key = _session_key(session_id)
        return turns.owned_or_raise(db.get(SessionRow, key), key, owner)

    def create_session(
        self,
        *,
        owner: str | None = None,
        title: str | None = None,
        backend: str = "lite",
        session_id: str | None = None,
    ) -> SessionRecord:
        """Create an empty session and return it (``session_id``: a UUID to use, e.g. a LangGraph thread id)."""
        row = SessionRow(
            id=_session_key(session_id) if session_id is not None else None,
            owner=convert.opt_text(owner),
            title=convert.one_line(title, 200) if title else None,
            backend=str(backend),
        )
        with self._write.begin() as db:
            db.add(row)
            db.flush()
            return convert.session_record(row)

    def get_session(self, session_id: str, *, owner: str | None = None) -> SessionRecord:
        """Return a session, raising UnknownSessionError if missing or owned by someone else."""
        with self._read() as db:
            return convert.session_record(self._session_row(db, session_id, owner))

    def list_sessions(self, *, owner: str | None = None, limit: int = 200) -> list[SessionSummary]:
        """List sessions, most recently updated first (all owners when ``owner`` is None)."""
        turns = sa.alias(TurnRow.__table__, "t")
        turn_count = (
            sa.select(sa.func.count())
            .select_from(turns)
            .where(turns.c.session_id == SessionRow.id, turns.c.role == "user")
            .scalar_subquery()
        )
        thumbnail = (
            sa.select(turns.c.image_sha)
            .where(turns.c.session_id == SessionRow.id, turns.c.image_sha.is_not(None))
            .order_by(turns.c.index)
            .limit(1)
            .scalar_subquery()
        )
        stmt = sa.select(SessionRow, turn_count, thumbnail)
        if owner is not None:
            stmt = stmt.where(SessionRow.owner == convert.db_text(owner))
        stmt = stmt.order_by(
            SessionRow.updated_at.desc(), SessionRow.created_at.desc(), SessionRow.id
        ).limit(max(0, int(limit)))
        with self._read() as db:
            return [
                SessionSummary(
                    id=row.id,
                    title=row.title,
                    owner=row.owner,
                    backend=row.backend,
                    created_at=convert.aware(row.created_at),
                    updated_at=convert.aware(row.updated_at),
                    turn_count=int(count or 0),
                    thumbnail_sha=thumb,
                )
                for row, count, thumb in db.execute(stmt).all()
            ]

    def rename_session(self, session_id: str, title: str, *, owner: str | None = None) -> None:
        """Set a session's title (one line, at most 200 characters)."""
        clean = convert.one_line(title or "", 200)
        if not clean:
            raise BadInputError("a session title cannot be empty.")
        with self._write.begin() as db:
            self._session_row(db, session_id, owner).title = clean

    def delete_session(self, session_id: str, *, owner: str | None = None) -> list[str]:
        """Delete a session with its turns, intents, masks and tool calls, and its images (uploads,
        and pictures its extra tools returned) that no other session uses; return the hashes of
        the images removed."""
        with self._write.begin() as db:
            row = self._session_row(db, session_id, owner)
            used = (
                sa.select(TurnRow.image_sha)
                .where(TurnRow.session_id == row.id, TurnRow.image_sha.is_not(None))
                .distinct()
            )
            shas = list(db.scalars(used))
            pictures = self._tool_pictures(db, row.id)
            db.execute(sa.delete(SessionRow).where(SessionRow.id == row.id))
            orphans: list[str] = []
            if shas or pictures:
                still_used = sa.exists().where(TurnRow.image_sha == ImageRow.sha256)
                orphans = list(
                    db.scalars(
                        sa.select(ImageRow.sha256).where(
                            ImageRow.sha256.in_([*shas, *pictures]), ~still_used
                        )
                    )
                )
                # a picture another session's tool call also returned stays (rare: the same close-up)
                listed = sa.cast(ToolCallRow.args, sa.Text)
                orphans = [
                    sha for sha in orphans
                    if sha not in pictures or db.scalar(sa.select(sa.exists().where(listed.contains(sha)))) is False
                ]
                if orphans:
                    db.execute(sa.delete(ImageRow).where(ImageRow.sha256.in_(orphans)))
        self._settled.forget(row.id)
        return orphans

    @staticmethod
    def _tool_pictures(db: Session, session_key: str) -> list[str]:
        """Return the images a session's extra tools returned (tool-call ``args["pictures"]``)."""
        stmt = (
            sa.select(ToolCallRow.args)
            .join(TurnRow, TurnRow.id == ToolCallRow.turn_id)
            .where(TurnRow.session_id == session_key)
        )
        found: list[str] = []
        for args in db.scalars(stmt):
            items = args.get("pictures") if isinstance(args, dict) else None
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("sha256"), str):
                    found.append(item["sha256"])
        return found

    # images -----------------------------------------------------------------------------------

    def put_image(self, image: LoadedImage) -> ImageRef:
        """Store an image once per content hash and return its reference (idempotent)."""
        ref = image.ref
        if sha256_hex(image.data) != ref.sha256:
            raise BadInputError("the image bytes do not match their content hash.")
        exists = sa.select(ImageRow.sha256).where(ImageRow.sha256 == ref.sha256)
        try:
            with self._write.begin() as db:
                if db.scalar(exists) is None:
                    db.add(
                        ImageRow(
                            sha256=ref.sha256, width=ref.width, height=ref.height, data=image.data
                        )
                    )
        except IntegrityError:
            with self._read() as db:  # a concurrent writer stored the same image first
                if db.scalar(exists) is None:
                    raise
        return ref

    def stored_image(self, sha256: str) -> tuple[bytes, int, int]:
        """Return an image's bytes as uploaded and the (width, height) it was first decoded at."""
        stmt = sa.select(ImageRow.data, ImageRow.width, ImageRow.height).where(
            ImageRow.sha256 == str(sha256)
        )
        with self._read() as db:
            row = db.execute(stmt).first()
        if row is None:
            raise UnknownImageError(f"unknown image: {convert.one_line(sha256, 80)}")
        return bytes(row.data), int(row.width), int(row.height)

    def image_bytes(self, sha256: str) -> bytes:
        """Return an image's encoded bytes exactly as uploaded."""
        with self._read() as db:
            data = db.scalar(sa.select(ImageRow.data).where(ImageRow.sha256 == str(sha256)))
        if data is None:
            raise UnknownImageError(f"unknown image: {convert.one_line(sha256, 80)}")
        return bytes(data)

    # turns ------------------------------------------------------------------------------------

    def add_user_turn(
        self, session_id: str, text: str, *, image_sha: str | None = None, act: str | None = None
    ) -> TurnRecord:
        """Commit a user message as a pending turn (taking the session's turn lock) and return it."""
        key = _session_key(session_id)
        return self._locks.retry_while_busy(
            lambda: self._start_turn(key, None, text, image_sha, act, with_recall=False)
        )[0]

    def _start_turn(
        self,
        key: str,
        owner: str | None,
        text: str,
        image_sha: str | None,
        act: str | None,
        *,
        with_recall: bool,
    ) -> tuple[TurnRecord, Recall | None]:
        """Lock the session row, check its turn lock, and store the message as the new lock."""
        taken: int | None = None
        try:
            with self._write_engine.begin() as conn:
                now = utcnow()
                session = convert.session_record(turns.touch_session(conn, key, owner, text))
                before: Recall | None = None
                if with_recall:
                    before, pending = turns.recall_with_pending(conn, session, self._settled)
                    index = before.next_index
                else:
                    pending = list(conn.execute(PENDING.where(TurnRow.session_id == key)))
                    index = turns.next_index(conn, key)
                self._locks.check(conn, pending, now)
                turn = turns.insert_user_turn(
                    conn, session, text, image_sha, act, index, self._locks.lease_values(now)
                )
                self._locks.hold(turn.id)
                taken = turn.id
        except BaseException:
            if taken is not None:
                self._locks.forget(taken)
            raise
        return turn, before

    def _user_turn(self, db: Session, user_turn_id: int) -> TurnRow:
        turn = db.get(TurnRow, _as_id(user_turn_id, UnknownTurnError, "user turn"))
        if turn is None or turn.role != "user":
            raise UnknownTurnError(f"unknown user turn id: {user_turn_id}")
        return turn

    def complete_turn(
        self,
        user_turn_id: int,
        *,
        act: str,
        reply: str,
        intent: Intent | None,
        masks: Sequence[MaskOut],
        tool_calls: Sequence[ToolCallIn],
        latency_ms: float,
    ) -> TurnRecord:
        """Atomically write the assistant reply with its masks, intent and tool calls.

        The user turn becomes ``ok``; on any error nothing is written and the error propagates.
        After commit, each ``MaskOut.id`` is filled and, when it was None, ``intent.mask_id`` too.
        """
        key = _as_id(user_turn_id, UnknownTurnError, "user turn")
        with self._write_engine.begin() as conn:
            record = turns.complete_turn(
                conn,
                key,
                act=act,
                reply=reply,
                intent=intent,
                masks=masks,
                tool_calls=tool_calls,
                latency_ms=latency_ms,
            )
        self._locks.forget(key)
        for out, stored in zip(masks, record.masks, strict=True):
            out.id = stored.id
        if intent is not None and intent.mask_id is None and record.intent is not None:
            intent.mask_id = record.intent.mask_id
        return record

    def fail_turn(self, user_turn_id: int, error: str) -> None:
        """Mark a pending user turn failed with a one-line error and unlock its session.

        Settled turns (answered, failed or interrupted) are left as they are.
        """
        key = _as_id(user_turn_id, UnknownTurnError, "user turn")
        try:
            with self._write.begin() as db:
                turn = self._user_turn(db, key)
                if turn.status != "pending":
                    log.warning("fail_turn(%s) ignored: the turn is %s", turn.id, turn.status)
                    return
                turn.status = "failed"
                turn.error = convert.one_line(error, convert.MAX_ERROR_CHARS) or "failed"
        finally:
            self._locks.forget(key)

    def interrupt_turn(self, user_turn_id: int, error: str = INTERRUPTED) -> bool:
        """Mark a pending user turn interrupted (the app offers a retry); True if it was pending."""
        key = _as_id(user_turn_id, UnknownTurnError, "user turn")
        try:
            with self._write_engine.begin() as conn:
                reason = convert.one_line(error, convert.MAX_ERROR_CHARS) or INTERRUPTED
                return self._locks.interrupt(conn, [key], reason) == 1
        finally:
            self._locks.forget(key)

    # reading ----------------------------------------------------------------------------------

    def history(self, session_id: str, *, owner: str | None = None) -> SessionHistory:
        """Load a session with every turn, mask, intent and tool call in five flat queries.

        Plain Core rows (no ORM identity map) keep the cost per turn small; the query count does
        not grow with the number of turns.
        """
        turns_t = TurnRow.__table__
        in_session = sa.select(turns_t.c.id).where(turns_t.c.session_id == sa.bindparam("sid"))

        def children(model: type[MaskRow] | type[IntentRow] | type[ToolCallRow]) -> sa.Select:
            table = model.__table__
            return sa.select(table).where(table.c.turn_id.in_(in_session)).order_by(table.c.id)

        with self._read() as db:
            session = self._session_row(db, session_id, owner)
            params = {"sid": session.id}
            turns = db.execute(
                sa.select(turns_t)
                .where(turns_t.c.session_id == session.id)
                .order_by(turns_t.c.index)
            ).all()
            masks = db.execute(children(MaskRow), params).all()
            intents = db.execute(children(IntentRow), params).all()
            calls = db.execute(children(ToolCallRow), params).all()
            record = convert.session_record(session)
        return SessionHistory(
            session=record, turns=convert.turn_records(turns, masks, intents, calls)
        )

    def recall(self, session_id: str, *, owner: str | None = None) -> Recall:
        """Load what the next turn needs: the dialogue text and the current image, intent and mask.

        A few indexed queries whose cost does not grow with the session's masks and intent
        histories (unlike :meth:`history`, which rebuilds every turn's children).
        """
        with self._engine.connect() as conn, conn.begin():
            session = turns.read_session(conn, _session_key(session_id), owner)
            return turns.recall(conn, session, self._settled)

    def begin_turn(
        self, session_id: str, text: str, *, image_sha: str | None = None, owner: str | None = None
    ) -> tuple[TurnRecord, Recall]:
        """Commit the user's message (pending) and recall the session before it, in one transaction.

        The recall reflects the session's messages *before* this one, as the turn graph needs it.
        The message takes the session's turn lock; while another turn of the session runs, this
        waits up to ``turn_wait_s`` and then raises :class:`~agent.errors.SessionBusyError`.
        """
        key = _session_key(session_id)
        turn, before = self._locks.retry_while_busy(
            lambda: self._start_turn(key, owner, text, image_sha, None, with_recall=True)
        )
        assert before is not None
        return turn, before

    def mask(self, mask_id: int) -> MaskRecord:
        """Return one stored mask by id."""
        key = _as_id(mask_id, UnknownMaskError, "mask")
        stmt = sa.select(MaskRow, TurnRow.index).join(TurnRow).where(MaskRow.id == key)
        with self._read() as db:
            found = db.execute(stmt).first()
            if found is None:
                raise UnknownMaskError(f"unknown mask id: {key}")
            return convert.mask_record(found[0], found[1])

    def session_masks(self, session_id: str, owner: str | None = None) -> list[MaskRecord]:
        """Return every mask of a session in turn order."""
        stmt = sa.select(MaskRow, TurnRow.index).join(TurnRow).order_by(TurnRow.index, MaskRow.id)
        with self._read() as db:
            session = self._session_row(db, session_id, owner)
            rows = db.execute(stmt.where(TurnRow.session_id == session.id)).all()
            return [convert.mask_record(row, index) for row, index in rows]
