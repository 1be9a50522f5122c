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
from agent.memory.migrate import upgrade
from agent.memory.models import (
    ImageRow,
    IntentRow,
    MaskRow,
    SessionRow,
    ToolCallRow,
    TurnRow,
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

_INDEX_RETRIES = 3
"""Attempts at a user turn when a concurrent writer took the same index (PostgreSQL)."""


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
    """SQL-backed conversation memory, safe to share between threads (one engine, short sessions)."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        """Open (and by default migrate to the latest schema) the database at ``url``."""
        self.url: str = (
            url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
        )
        self._engine = make_engine(self.url)
        self._read = sessionmaker(self._engine, expire_on_commit=False)
        self._write_engine = self._engine.execution_options(**{WRITE_OPTION: True})
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        self._settled = turns.SettledPrefixes()
        """Sessions' settled message prefixes, so a turn's recall reads only the newest messages."""
        if migrate:
            try:
                upgrade(self._engine)
            except BaseException:
                self._engine.dispose()
                raise

    @property
    def engine(self) -> sa.Engine:
        """The underlying SQLAlchemy engine (for tests and tooling)."""
        return self._engine

    def close(self) -> None:
        """Dispose the engine's connection pool."""
        self._engine.dispose()

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

    def delete_session(self, session_id: str, *, owner: str | None = None) -> None:
        """Delete a session with its turns, intents, masks and tool calls (images are shared, kept)."""
        with self._write.begin() as db:
            row = self._session_row(db, session_id, owner)
            db.execute(sa.delete(SessionRow).where(SessionRow.id == row.id))
        self._settled.forget(row.id)

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
        """Commit a user message as a pending turn before any model runs, and return it."""
        for attempt in range(_INDEX_RETRIES):
            try:
                return self._insert_user_turn(session_id, text, image_sha, act)
            except IntegrityError:
                if attempt == _INDEX_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _insert_user_turn(
        self, session_id: str, text: str, image_sha: str | None, act: str | None
    ) -> TurnRecord:
        with self._write_engine.begin() as conn:
            session = turns.touch_session(conn, _session_key(session_id), None, text)
            return turns.insert_user_turn(
                conn, session, text, image_sha, act, turns.next_index(conn, session.id)
            )

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
        for out, stored in zip(masks, record.masks, strict=True):
            out.id = stored.id
        if intent is not None and intent.mask_id is None and record.intent is not None:
            intent.mask_id = record.intent.mask_id
        return record

    def fail_turn(self, user_turn_id: int, error: str) -> None:
        """Mark a user turn failed with a one-line error (completed turns are left as they are)."""
        with self._write.begin() as db:
            turn = self._user_turn(db, user_turn_id)
            if turn.status == "ok":
                log.warning("fail_turn(%s) ignored: the turn already completed", turn.id)
                return
            turn.status = "failed"
            turn.error = convert.one_line(error, convert.MAX_ERROR_CHARS) or "failed"

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
        """
        key = _session_key(session_id)
        for attempt in range(_INDEX_RETRIES):
            try:
                with self._write_engine.begin() as conn:
                    session = turns.touch_session(conn, key, owner, text)
                    before = turns.recall(conn, session, self._settled)
                    turn = turns.insert_user_turn(
                        conn, session, text, image_sha, None, before.next_index
                    )
                    return turn, before
            except IntegrityError:
                if attempt == _INDEX_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

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
