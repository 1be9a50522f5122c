"""The :class:`Memory` store: sessions, images, turns, intents, masks and tool calls in SQL."""

from __future__ import annotations

import logging
import operator
import uuid
from collections.abc import Sequence
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from agent.errors import BadInputError, UnknownSessionError
from agent.images import LoadedImage, sha256_hex
from agent.memory import convert
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
    parse_act,
)
from agent.types import DialogueTurn, ImageRef, Intent, MaskOut

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


def _opt_str(value: object) -> str | None:
    """Plain ``str`` (e.g. an :class:`Act` becomes its value), NUL-free, or None."""
    return None if value is None else convert.db_text(value)


def _mask_values(out: MaskOut) -> dict[str, object]:
    """Encode one produced mask as column values (raises if the mask cannot be encoded)."""
    mask = out.mask
    return {
        "label": convert.db_text(out.label), "rle": mask.to_rle(), "area": mask.area,
        "bbox": list(mask.bbox), "score": None if out.score is None else float(out.score),
        "source": out.source, "created_at": utcnow(),
    }


def _tool_call_values(turn_id: int, call: ToolCallIn) -> dict[str, object]:
    """Build one tool-call row's values with JSON-safe arguments."""
    return {
        "turn_id": turn_id, "tool": convert.db_text(call.tool), "args": convert.jsonable(dict(call.args)),
        "duration_ms": float(call.duration_ms), "status": convert.db_text(call.status),
        "error": None if call.error is None else convert.one_line(call.error, convert.MAX_ERROR_CHARS),
    }


class Memory:
    """SQL-backed conversation memory, safe to share between threads (one engine, short sessions)."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        """Open (and by default migrate to the latest schema) the database at ``url``."""
        self.url: str = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url)
        self._engine = make_engine(self.url)
        self._read = sessionmaker(self._engine, expire_on_commit=False)
        self._write = sessionmaker(
            self._engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )
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
    def _session_row(
        db: Session, session_id: object, owner: str | None, *, lock: bool = False
    ) -> SessionRow:
        key = _session_key(session_id)
        row = db.get(SessionRow, key, with_for_update=lock or None)
        if row is None or (owner is not None and row.owner != owner):
            raise UnknownSessionError(f"unknown session id: {key}")
        return row

    def create_session(
        self, *, owner: str | None = None, title: str | None = None, backend: str = "lite"
    ) -> SessionRecord:
        """Create an empty session and return it."""
        row = SessionRow(
            owner=_opt_str(owner), title=convert.one_line(title, 200) if title else None,
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
                    id=row.id, title=row.title, owner=row.owner, backend=row.backend,
                    created_at=convert.aware(row.created_at), updated_at=convert.aware(row.updated_at),
                    turn_count=int(count or 0), thumbnail_sha=thumb,
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
                        ImageRow(sha256=ref.sha256, width=ref.width, height=ref.height, data=image.data)
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
        with self._write.begin() as db:
            # Row lock (PostgreSQL) serialises index assignment per session; SQLite's
            # BEGIN IMMEDIATE already does.
            session = self._session_row(db, session_id, None, lock=True)
            next_index = db.scalar(
                sa.select(sa.func.coalesce(sa.func.max(TurnRow.index), -1) + 1).where(
                    TurnRow.session_id == session.id
                )
            )
            return self._insert_turn_row(db, session, text, image_sha, act, int(next_index or 0))

    @staticmethod
    def _insert_turn_row(
        db: Session, session: SessionRow, text: str, image_sha: str | None, act: str | None, index: int
    ) -> TurnRecord:
        turns_t, images_t = cast(sa.Table, TurnRow.__table__), cast(sa.Table, ImageRow.__table__)
        if image_sha is not None and db.scalar(
            sa.select(images_t.c.sha256).where(images_t.c.sha256 == str(image_sha))
        ) is None:
            raise UnknownImageError(f"unknown image: {convert.one_line(image_sha, 80)}")
        now = utcnow()
        row = db.execute(
            sa.insert(turns_t)
            .values(
                session_id=session.id, index=index, role="user", text=convert.db_text(text),
                act=_opt_str(act), status="pending", image_sha=image_sha, created_at=now,
            )
            .returning(*turns_t.c)
        ).one()
        changes: dict[str, object] = {"updated_at": now}
        if not session.title:
            changes["title"] = convert.title_from(text) or None
        db.execute(sa.update(SessionRow).where(SessionRow.id == session.id).values(**changes))
        return convert.turn_record(row)  # type: ignore[arg-type]

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
        turns_t, masks_t = cast(sa.Table, TurnRow.__table__), cast(sa.Table, MaskRow.__table__)
        intents_t, calls_t = cast(sa.Table, IntentRow.__table__), cast(sa.Table, ToolCallRow.__table__)
        key = _as_id(user_turn_id, UnknownTurnError, "user turn")
        mask_values = [_mask_values(out) for out in masks]  # encode before writing anything
        # Core statements with RETURNING: one round trip per table, no unit-of-work bookkeeping.
        with self._write.begin() as db:
            user = db.execute(
                sa.select(turns_t.c.id, turns_t.c.role, turns_t.c.status, turns_t.c.index, turns_t.c.session_id)
                .where(turns_t.c.id == key)
            ).first()
            if user is None or user.role != "user":
                raise UnknownTurnError(f"unknown user turn id: {user_turn_id}")
            if user.status != "pending":
                raise ValueError(f"turn {user.id} is {user.status}, not pending; cannot complete it")
            now = utcnow()
            db.execute(sa.update(turns_t).where(turns_t.c.id == key).values(status="ok", act=_opt_str(act)))
            reply_row = db.execute(
                sa.insert(turns_t)
                .values(
                    session_id=user.session_id, index=user._mapping["index"] + 1, role="assistant",
                    text=convert.db_text(reply), act=_opt_str(act), status="ok",
                    latency_ms=float(latency_ms), created_at=now,
                )
                .returning(*turns_t.c)
            ).one()
            mask_rows = []
            if mask_values:
                mask_rows = list(
                    db.execute(
                        sa.insert(masks_t).returning(*masks_t.c, sort_by_parameter_order=True),
                        [{"turn_id": reply_row.id, **values} for values in mask_values],
                    ).all()
                )
            intent_row = None
            if intent is not None:
                mask_id = intent.mask_id
                if mask_id is None and mask_rows:
                    mask_id = mask_rows[0].id
                values = convert.intent_values(intent, reply_row.id, mask_id)
                intent_row = db.execute(sa.insert(intents_t).values(**values).returning(*intents_t.c)).one()
            call_rows = []
            if tool_calls:
                call_rows = list(
                    db.execute(
                        sa.insert(calls_t).returning(*calls_t.c, sort_by_parameter_order=True),
                        [_tool_call_values(reply_row.id, call) for call in tool_calls],
                    ).all()
                )
            db.execute(sa.update(SessionRow).where(SessionRow.id == user.session_id).values(updated_at=now))
            record = convert.turn_record(reply_row, mask_rows, intent_row, call_rows)  # type: ignore[arg-type]
        for out, row in zip(masks, mask_rows, strict=True):
            out.id = row.id
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
                sa.select(turns_t).where(turns_t.c.session_id == session.id).order_by(turns_t.c.index)
            ).all()
            masks = db.execute(children(MaskRow), params).all()
            intents = db.execute(children(IntentRow), params).all()
            calls = db.execute(children(ToolCallRow), params).all()
            record = convert.session_record(session)
        return SessionHistory(session=record, turns=convert.turn_records(turns, masks, intents, calls))

    def recall(self, session_id: str, *, owner: str | None = None) -> Recall:
        """Load what the next turn needs: the dialogue text and the current image, intent and mask.

        Four indexed queries whose cost does not grow with the session's masks and intent
        histories (unlike :meth:`history`, which rebuilds every turn's children).
        """
        with self._read() as db:
            return self._recall(db, self._session_row(db, session_id, owner))

    def begin_turn(
        self, session_id: str, text: str, *, image_sha: str | None = None, owner: str | None = None
    ) -> tuple[TurnRecord, Recall]:
        """Commit the user's message (pending) and recall the session before it, in one transaction.

        The recall reflects the session *before* this message, as the turn graph needs it.
        """
        for attempt in range(_INDEX_RETRIES):
            try:
                with self._write.begin() as db:
                    session = self._session_row(db, session_id, owner, lock=True)
                    before = self._recall(db, session)
                    turn = self._insert_turn_row(db, session, text, image_sha, None, before.next_index)
                    return turn, before
            except IntegrityError:
                if attempt == _INDEX_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _recall(db: Session, session: SessionRow) -> Recall:
        turns_t, intents_t, masks_t = TurnRow.__table__, IntentRow.__table__, MaskRow.__table__
        rows = db.execute(
            sa.select(turns_t.c.index, turns_t.c.role, turns_t.c.text, turns_t.c.act, turns_t.c.status, turns_t.c.image_sha)
            .where(turns_t.c.session_id == session.id)
            .order_by(turns_t.c.index)
        ).all()
        intent_row = db.execute(
            sa.select(intents_t)
            .join(turns_t, turns_t.c.id == intents_t.c.turn_id)
            .where(turns_t.c.session_id == session.id, turns_t.c.role == "assistant", turns_t.c.status == "ok")
            .order_by(turns_t.c.index.desc())
            .limit(1)
        ).first()
        intent = convert.intent_from_row(intent_row) if intent_row is not None else None  # type: ignore[arg-type]
        mask_stmt = sa.select(masks_t, turns_t.c.index).join(turns_t, turns_t.c.id == masks_t.c.turn_id)
        mask_row = None
        if intent is not None and intent.mask_id is not None:
            mask_row = db.execute(
                mask_stmt.where(masks_t.c.id == intent.mask_id, turns_t.c.session_id == session.id)
            ).first()
        if mask_row is None:
            mask_row = db.execute(
                mask_stmt.where(turns_t.c.session_id == session.id, turns_t.c.status == "ok")
                .order_by(turns_t.c.index.desc(), masks_t.c.id.desc())
                .limit(1)
            ).first()
        dialogue = [
            DialogueTurn(role="user" if r.role == "user" else "assistant", text=r.text, act=parse_act(r.act))
            for r in rows
            if r.role == "assistant" or r.status == "ok"
        ]
        image_sha = next((r.image_sha for r in reversed(rows) if r.role == "user" and r.image_sha), None)
        return Recall(
            session=convert.session_record(session),
            dialogue=dialogue,
            current_image_sha=image_sha,
            current_intent=intent,
            current_mask=convert.mask_record(mask_row, mask_row.index) if mask_row is not None else None,  # type: ignore[arg-type]
            next_index=(int(rows[-1]._mapping["index"]) + 1) if rows else 0,
        )

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


