"""The per-turn hot path of memory: commit a user message with the recall, then the answer.

These run twice per chat turn, so they use a Core connection and statements built once (no ORM
unit of work, no per-call statement construction): the SQL work is well under a millisecond
and Python overhead is what a turn would otherwise pay for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, TypeVar, cast

import sqlalchemy as sa

from agent.cache import ByteLRU
from agent.errors import UnknownSessionError
from agent.memory import convert
from agent.memory.exceptions import UnknownImageError, UnknownTurnError
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
    PICKED_WITHIN,
    MaskRecord,
    Recall,
    SessionRecord,
    ToolCallIn,
    ToolCallRecord,
    TurnRecord,
    dialogue_turn,
    in_dialogue,
)
from agent.types import DialogueTurn, Intent, MaskOut


class _HasOwner(Protocol):
    """A session row, ORM or Core: all the owner check needs."""

    @property
    def owner(self) -> str | None: ...


_Owned = TypeVar("_Owned", bound=_HasOwner)

_sessions = cast(sa.Table, SessionRow.__table__)
_images = cast(sa.Table, ImageRow.__table__)
_turns = cast(sa.Table, TurnRow.__table__)
_intents = cast(sa.Table, IntentRow.__table__)
_masks = cast(sa.Table, MaskRow.__table__)
_calls = cast(sa.Table, ToolCallRow.__table__)

# Statements are immutable SQL, built once at import; parameters are bound per call.
_TOUCH_SESSION = (
    sa.update(_sessions)
    .where(_sessions.c.id == sa.bindparam("sid"))
    .values(
        updated_at=sa.bindparam("touched_at"),
        title=sa.func.coalesce(
            sa.func.nullif(_sessions.c.title, ""), sa.bindparam("first_title", type_=sa.Text)
        ),
    )
    .returning(*_sessions.c)
)
"""Bump the session (taking its row lock on PostgreSQL) and title it from its first message."""

_SESSION_BY_ID = sa.select(_sessions).where(_sessions.c.id == sa.bindparam("sid"))
_MESSAGES_AFTER = (
    sa.select(
        _turns.c.index,
        _turns.c.role,
        _turns.c.text,
        _turns.c.act,
        _turns.c.status,
        _turns.c.image_sha,
        _turns.c.id,
        _turns.c.runner,
        _turns.c.lease_until,
    )
    .where(_turns.c.session_id == sa.bindparam("sid"), _turns.c.index > sa.bindparam("after"))
    .order_by(_turns.c.index)
)
"""The session's messages after a settled prefix (all of them after index -1)."""
_NEXT_INDEX = sa.select(sa.func.coalesce(sa.func.max(_turns.c.index), -1) + 1).where(
    _turns.c.session_id == sa.bindparam("sid")
)
_CURRENT_INTENT = (
    sa.select(_intents)
    .join(_turns, _turns.c.id == _intents.c.turn_id)
    .where(
        _turns.c.session_id == sa.bindparam("sid"),
        _turns.c.role == "assistant",
        _turns.c.status == "ok",
    )
    .order_by(_turns.c.index.desc())
    .limit(1)
    .subquery("cur")
)
"""The intent of the session's latest completed answer that stored one (zero or one row)."""


def _current_state() -> sa.Select[Any]:
    """Build the one-row query of the current intent (``i_*``) and current mask (``m_*``, with
    ``m_image_sha``, the image it was made on).

    ``m_instances`` counts the masks of the mask's turn that are one of several targets.
    Either side is all NULL when missing. The mask is the current intent's own mask when it is
    in this session, else the latest mask of a completed turn (the rule of
    :attr:`SessionHistory.current_mask`). Every lookup is an index search; the mask is found by
    primary key from a value computed once, so no plan scans the masks table.
    """
    sid: sa.BindParameter[str] = sa.bindparam("sid")
    own_m, own_t = _masks.alias(), _turns.alias()
    intent_mask = (
        sa.select(own_m.c.id)
        .join(own_t, own_t.c.id == own_m.c.turn_id)
        .where(
            own_t.c.session_id == sid,
            own_m.c.id == sa.select(_CURRENT_INTENT.c.mask_id).scalar_subquery(),
        )
        .scalar_subquery()
    )
    last_m, last_t = _masks.alias(), _turns.alias()
    latest_mask = (
        sa.select(last_m.c.id)
        .join(last_t, last_t.c.id == last_m.c.turn_id)
        .where(last_t.c.session_id == sid, last_t.c.status == "ok")
        .order_by(last_t.c.index.desc(), last_m.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    mask_turn, image_turn = _turns.alias("mt"), _turns.alias("it")
    image_at_mask = (  # the image in effect at the mask's turn: the last one attached up to it
        sa.select(image_turn.c.image_sha)
        .where(
            image_turn.c.session_id == sid,
            image_turn.c.role == "user",
            image_turn.c.image_sha.is_not(None),
            image_turn.c.index <= mask_turn.c.index,
        )
        .order_by(image_turn.c.index.desc())
        .limit(1)
        .correlate(mask_turn)
        .scalar_subquery()
    )
    siblings = _masks.alias("sib")
    instances_beside = (  # masks of the same turn, each one of several targets
        sa.select(sa.func.count())
        .where(siblings.c.turn_id == _masks.c.turn_id, siblings.c.role == "instance")
        .correlate(_masks)
        .scalar_subquery()
    )
    before, prior, prior_user = _masks.alias("bef"), _turns.alias("pt"), _turns.alias("pu")
    shown_index = (  # the latest of the few answers before the mask's that showed several things
        sa.select(sa.func.max(prior.c.index))
        .select_from(prior.join(before, before.c.turn_id == prior.c.id))
        .where(
            prior.c.session_id == mask_turn.c.session_id,
            prior.c.index.between(mask_turn.c.index - 2 * PICKED_WITHIN, mask_turn.c.index - 2),
            before.c.role == "instance",
        )
        .correlate(mask_turn)
        .scalar_subquery()
    )
    image_since = (  # images attached since then (the masks shown were of another photo)
        sa.select(sa.func.count())
        .where(
            prior_user.c.session_id == mask_turn.c.session_id,
            prior_user.c.image_sha.is_not(None),
            prior_user.c.index > sa.func.coalesce(shown_index, mask_turn.c.index),
            prior_user.c.index <= mask_turn.c.index,
        )
        .correlate(mask_turn)
        .scalar_subquery()
    )
    mask = (
        sa.select(
            _masks,
            mask_turn.c.index.label("turn_index"),
            image_at_mask.label("image_sha"),
            instances_beside.label("instances"),
            shown_index.label("shown_index"),
            image_since.label("image_since"),
        )
        .join(mask_turn, mask_turn.c.id == _masks.c.turn_id)
        .where(_masks.c.id == sa.func.coalesce(intent_mask, latest_mask))
        .subquery("cm")
    )
    one_row = sa.select(sa.literal_column("1").label("one")).subquery("one")
    return sa.select(
        *(c.label(f"i_{c.name}") for c in _CURRENT_INTENT.c),
        *(c.label(f"m_{c.name}") for c in mask.c),
    ).select_from(one_row.outerjoin(_CURRENT_INTENT, sa.true()).outerjoin(mask, sa.true()))


_CURRENT_STATE = _current_state()
_INSTANCES_AT_INDEX = (
    sa.select(_masks)
    .join(_turns, _turns.c.id == _masks.c.turn_id)
    .where(
        _turns.c.session_id == sa.bindparam("sid"),
        _turns.c.index == sa.bindparam("index"),
        _masks.c.role == "instance",
    )
    .order_by(_masks.c.id)
)
"""The masks of the session's turn at one index that are each one of several targets, in the
order they were given (the current mask's own, or those it was picked from)."""
_IMAGE_EXISTS = sa.select(_images.c.sha256).where(_images.c.sha256 == sa.bindparam("sha"))
_INSERT_TURN = sa.insert(_turns).returning(*_turns.c)
_CLAIM_USER_TURN = (
    sa.update(_turns)
    .where(
        _turns.c.id == sa.bindparam("turn_id"),
        _turns.c.role == "user",
        _turns.c.status == "pending",
    )
    .values(status="ok", act=sa.bindparam("new_act"))
    .returning(_turns.c.session_id, _turns.c.index)
)
"""Mark a pending user turn answered; returns nothing for a missing, assistant or settled turn."""
_TURN_STATE = sa.select(_turns.c.id, _turns.c.role, _turns.c.status).where(
    _turns.c.id == sa.bindparam("turn_id")
)
# Children return only their ids: the record is built from the values in hand, so a turn does
# not decode its own RLE and intent-history JSON back from the database.
_INSERT_MASKS = sa.insert(_masks).returning(_masks.c.id, sort_by_parameter_order=True)
_INSERT_INTENT = sa.insert(_intents)
_INSERT_CALLS = sa.insert(_calls).returning(_calls.c.id, sort_by_parameter_order=True)


def owned_or_raise(row: _Owned | None, key: str, owner: str | None) -> _Owned:
    """Return a session row, or raise if it is missing or (with ``owner``) someone else's."""
    if row is None or (owner is not None and row.owner != owner):
        raise UnknownSessionError(f"unknown session id: {key}")
    return row


def mask_values(out: MaskOut) -> dict[str, object]:
    """Encode one produced mask as column values (raises if the mask cannot be encoded)."""
    rle, area, bbox = out.mask.encode()
    return {
        "label": convert.db_text(out.label),
        "rle": rle,
        "area": area,
        "bbox": list(bbox),
        "score": None if out.score is None else float(out.score),
        "source": out.source,
        "role": out.role,
        "created_at": utcnow(),
    }


def tool_call_values(turn_id: int, call: ToolCallIn) -> dict[str, object]:
    """Build one tool-call row's values with JSON-safe arguments."""
    return {
        "turn_id": turn_id,
        "tool": convert.db_text(call.tool),
        "args": convert.jsonable(dict(call.args)),
        "duration_ms": float(call.duration_ms),
        "status": convert.db_text(call.status),
        "error": None
        if call.error is None
        else convert.one_line(call.error, convert.MAX_ERROR_CHARS),
    }


def touch_session(conn: sa.Connection, key: str, owner: str | None, first_text: str) -> Any:
    """Bump and lock the session row for a new user turn and return it (with its turn-lock columns).

    Raises if the session is missing or not ``owner``'s; raising rolls the caller's transaction
    back, bump included.
    """
    row = conn.execute(
        _TOUCH_SESSION,
        {"sid": key, "touched_at": utcnow(), "first_title": convert.title_from(first_text) or None},
    ).first()
    return owned_or_raise(row, key, owner)  # type: ignore[type-var]


def read_session(conn: sa.Connection, key: str, owner: str | None) -> SessionRecord:
    """Return the session, raising if it is missing or not ``owner``'s."""
    row = conn.execute(_SESSION_BY_ID, {"sid": key}).first()
    return convert.session_record(owned_or_raise(row, key, owner))  # type: ignore[arg-type]


@dataclass(frozen=True)
class SettledPrefix:
    """The start of a session's messages in which no turn is pending, so none can change again.

    Turns are append-only and only a pending user turn changes (to ok or failed), so a recall
    may reuse a settled prefix and read just the messages after it.
    """

    upto_index: int = -1
    """Index of the prefix's last message (-1: empty)."""
    dialogue: tuple[DialogueTurn, ...] = ()
    image_sha: str | None = None
    """The last image a user turn in the prefix attached."""


class SettledPrefixes:
    """Settled prefixes by session id, LRU-bounded by bytes (shared by threads; values immutable)."""

    def __init__(self, max_bytes: int = 32 * 2**20) -> None:
        self._prefixes = ByteLRU(max_bytes, sizeof=_prefix_bytes)

    def get(self, session_id: str) -> SettledPrefix:
        """Return the cached prefix of a session (empty when unknown)."""
        found = self._prefixes.get(session_id)
        return found if isinstance(found, SettledPrefix) else SettledPrefix()

    def put(self, session_id: str, prefix: SettledPrefix) -> None:
        """Keep a session's longest known settled prefix."""
        self._prefixes.put(session_id, prefix)

    def forget(self, session_id: str) -> None:
        """Drop a (deleted) session's prefix."""
        self._prefixes.pop(session_id)


def _prefix_bytes(prefix: SettledPrefix) -> int:
    """Rough memory held by a prefix (its texts plus per-message objects)."""
    return 200 + sum(len(turn.text) + 120 for turn in prefix.dialogue)


def recall(
    conn: sa.Connection, session: SessionRecord, prefixes: SettledPrefixes | None = None
) -> Recall:
    """Load what the next turn needs, reading only the messages after the session's settled prefix."""
    return recall_with_pending(conn, session, prefixes)[0]


def recall_with_pending(
    conn: sa.Connection, session: SessionRecord, prefixes: SettledPrefixes | None = None
) -> tuple[Recall, list[Any]]:
    """Like :func:`recall`, and also return the session's pending user turns (its turn lock).

    Every pending turn lies after the settled prefix, so the rows read anyway contain them all.
    """
    cached = prefixes.get(session.id) if prefixes is not None else SettledPrefix()
    rows = conn.execute(_MESSAGES_AFTER, {"sid": session.id, "after": cached.upto_index}).all()
    dialogue, image_sha = list(cached.dialogue), cached.image_sha
    # (index, messages, image) at the last settled row, if any
    settled: tuple[int, int, str | None] | None = None
    still_settled = prefixes is not None
    for r in rows:
        if in_dialogue(r.role, r.status):
            dialogue.append(dialogue_turn(r.role, r.text, r.act))
        if r.role == "user" and r.image_sha:
            image_sha = r.image_sha
        still_settled = still_settled and r.status != "pending"
        if still_settled:
            settled = (int(r._mapping["index"]), len(dialogue), image_sha)
    if prefixes is not None and settled is not None:
        upto, count, settled_image = settled
        prefixes.put(session.id, SettledPrefix(upto, tuple(dialogue[:count]), settled_image))
    state = conn.execute(_CURRENT_STATE, {"sid": session.id}).one()._mapping
    intent = _intent_from_state(state) if state["i_id"] is not None else None
    mask = _mask_from_state(state) if state["m_id"] is not None else None
    mask_image = state["m_image_sha"] if mask is not None else None
    instances: tuple[MaskRecord, ...] = ()
    picked_from: tuple[MaskRecord, ...] = ()
    shown_at = state["m_shown_index"]
    if mask is not None and mask.role == "target" and state["m_instances"]:
        instances = _instances_at(conn, session.id, mask.turn_index)
    elif mask is not None and mask.role == "target" and shown_at is not None and not state["m_image_since"]:
        picked_from = _instances_at(conn, session.id, shown_at)
    last_index = int(rows[-1]._mapping["index"]) if rows else cached.upto_index
    pending = [r for r in rows if r.role == "user" and r.status == "pending"]
    return Recall(
        session=session,
        dialogue=dialogue,
        current_image_sha=image_sha,
        current_intent=intent,
        current_mask=mask,
        current_mask_image_sha=mask_image,
        next_index=last_index + 1,
        current_instances=instances,
        picked_from=picked_from,
    ), pending


def _instances_at(conn: sa.Connection, session_id: str, index: int) -> tuple[MaskRecord, ...]:
    """Return the instance masks of the session's turn at ``index`` (:data:`_INSTANCES_AT_INDEX`)."""
    rows = conn.execute(_INSTANCES_AT_INDEX, {"sid": session_id, "index": index})
    return tuple(convert.mask_record(row, index) for row in rows)  # type: ignore[arg-type]


def next_index(conn: sa.Connection, session_id: str) -> int:
    """Return the index of the session's next turn (without loading its messages)."""
    return int(conn.execute(_NEXT_INDEX, {"sid": session_id}).scalar_one())


def insert_user_turn(
    conn: sa.Connection,
    session: SessionRecord,
    text: str,
    image_sha: str | None,
    act: str | None,
    index: int,
    lease: dict[str, Any] | None = None,
) -> TurnRecord:
    """Insert the user's message as a pending turn at ``index`` (the session row is already locked).

    ``lease`` (runner, lease_until) makes the turn the session's turn lock.
    """
    if (
        image_sha is not None
        and conn.execute(_IMAGE_EXISTS, {"sha": str(image_sha)}).first() is None
    ):
        raise UnknownImageError(f"unknown image: {convert.one_line(image_sha, 80)}")
    row = conn.execute(
        _INSERT_TURN,
        {
            "session_id": session.id,
            "index": index,
            "role": "user",
            "text": convert.db_text(text),
            "act": convert.opt_text(act),
            "status": "pending",
            "image_sha": image_sha,
            "created_at": utcnow(),
            "runner": None,
            "lease_until": None,
            **(lease or {}),
        },
    ).one()
    return convert.turn_record(row)  # type: ignore[arg-type]


def complete_turn(
    conn: sa.Connection,
    user_turn_id: int,
    *,
    act: str,
    reply: str,
    intent: Intent | None,
    masks: Sequence[MaskOut],
    tool_calls: Sequence[ToolCallIn],
    latency_ms: float,
) -> TurnRecord:
    """Write the answer with its masks, intent and tool calls; the caller owns the transaction.

    The session row is left alone: :func:`touch_session` bumped it when the user's message was
    stored, and the answer belongs to that message (taking the session lock here too could
    deadlock on PostgreSQL with the next message's insert).
    """
    mask_params = [mask_values(out) for out in masks]  # encode before writing anything
    claimed = conn.execute(
        _CLAIM_USER_TURN, {"turn_id": user_turn_id, "new_act": convert.opt_text(act)}
    ).first()
    if claimed is None:
        _raise_unclaimable(conn, user_turn_id)
    session_id, index = claimed.session_id, int(claimed._mapping["index"])
    reply_row = conn.execute(
        _INSERT_TURN,
        {
            "session_id": session_id,
            "index": index + 1,
            "role": "assistant",
            "text": convert.db_text(reply),
            "act": convert.opt_text(act),
            "status": "ok",
            "image_sha": None,
            "latency_ms": float(latency_ms),
            "created_at": utcnow(),
        },
    ).one()
    turn_id, turn_index = int(reply_row.id), int(reply_row._mapping["index"])
    mask_ids: list[int] = []
    if mask_params:
        rows = conn.execute(_INSERT_MASKS, [{"turn_id": turn_id, **v} for v in mask_params]).all()
        mask_ids = [int(r.id) for r in rows]
    stored_intent = None
    if intent is not None:
        mask_id = (
            intent.mask_id if intent.mask_id is not None else (mask_ids[0] if mask_ids else None)
        )
        conn.execute(_INSERT_INTENT, convert.intent_values(intent, turn_id, mask_id))
        stored_intent = intent.model_copy(update={"mask_id": mask_id})
    call_params = [tool_call_values(turn_id, c) for c in tool_calls]
    call_ids: list[int] = []
    if call_params:
        call_ids = [int(r.id) for r in conn.execute(_INSERT_CALLS, call_params).all()]
    return TurnRecord(
        id=turn_id,
        session_id=session_id,
        index=turn_index,
        role="assistant",
        text=reply_row.text,
        act=reply_row.act,
        status="ok",
        error=None,
        image_sha=None,
        latency_ms=reply_row.latency_ms,
        created_at=convert.aware(reply_row.created_at),
        masks=[
            _stored_mask(i, turn_id, turn_index, v)
            for i, v in zip(mask_ids, mask_params, strict=True)
        ],
        intent=stored_intent,
        tool_calls=[ToolCallRecord(id=i, **v) for i, v in zip(call_ids, call_params, strict=True)],  # type: ignore[arg-type]
    )


def _stored_mask(mask_id: int, turn_id: int, turn_index: int, values: dict[str, Any]) -> MaskRecord:
    """Build the record of a mask just inserted from the column values written."""
    x, y, w, h = values["bbox"]
    return MaskRecord(
        id=mask_id,
        turn_id=turn_id,
        turn_index=turn_index,
        label=values["label"],
        rle=values["rle"],
        area=values["area"],
        bbox=(x, y, w, h),
        score=values["score"],
        source=values["source"],
        role=values["role"],
    )


def _raise_unclaimable(conn: sa.Connection, user_turn_id: int) -> NoReturn:
    """Say why a turn cannot be completed: it does not exist, is not a user turn, or is settled."""
    row = conn.execute(_TURN_STATE, {"turn_id": user_turn_id}).first()
    if row is None or row.role != "user":
        raise UnknownTurnError(f"unknown user turn id: {user_turn_id}")
    raise ValueError(f"turn {row.id} is {row.status}, not pending; cannot complete it")


def _intent_from_state(state: Any) -> Intent:
    """Rebuild the current intent from the ``i_*`` columns of :data:`_CURRENT_STATE`."""
    return convert.intent_from_row(_Prefixed(state, "i_"))  # type: ignore[arg-type]


def _mask_from_state(state: Any) -> MaskRecord:
    """Build the current mask's record from the ``m_*`` columns of :data:`_CURRENT_STATE`."""
    return convert.mask_record(_Prefixed(state, "m_"), state["m_turn_index"])  # type: ignore[arg-type]


class _Prefixed:
    """Attribute access to the columns of a row mapping that share a label prefix."""

    __slots__ = ("_mapping", "_prefix")

    def __init__(self, mapping: Any, prefix: str) -> None:
        self._mapping, self._prefix = mapping, prefix

    def __getattr__(self, name: str) -> Any:
        return self._mapping[self._prefix + name]
