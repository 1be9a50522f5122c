"""Replay stored sessions through a runtime (any backend) and compare the masks turn by turn.

``pixelrs replay`` calls :func:`replay_session` or :func:`replay_all`. A replay re-sends the
stored user messages (with their images) in order into a **new** session, titled
``"[replay] <title>"``, so the stored session is never changed. For each turn whose stored
reply had a mask, the replay's best mask is scored against the stored best mask (the stored
mask is the reference; a replay turn that produced no mask counts as an empty prediction).

User-edit turns (clicks/boxes) cannot be re-run: memory keeps their resulting mask but not the
clicks or box. They are skipped and listed. Their stored masks are what the user corrected the
model to, so they are the closest thing to ground truth a session has: each is scored
separately against the replay's current mask at that point (``user_edit_replay``) and against
the stored session's mask just before the edit (``user_edit_stored``). With
``copy_user_edits=True`` the stored edit mask is also written into the replay session as a
user-edit turn, so the turns after it start from the same corrected mask as the original.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from agent.errors import PixelrsError
from agent.memory import MaskRecord, Memory, SessionHistory, TurnRecord
from agent.memory.records import parse_act
from agent.types import Act, Intent, IntentOp, Mask, MaskOut
from graphs.metrics import MaskScores

if TYPE_CHECKING:
    from graphs.runtime import Runtime

REPLAY_TITLE_PREFIX = "[replay] "
"""Title prefix of sessions created by a replay (``replay_all`` skips them by default)."""


@dataclass
class ReplayResult:
    """The outcome of replaying one stored session."""

    session_id: str
    replay_session_id: str | None
    backend: str
    """Backend that produced the stored session."""
    replay_backend: str
    turns: list[dict[str, Any]] = field(default_factory=list)
    """One entry per stored user turn: texts, acts, mask ids, IoU, file, error or skip reason."""
    scores: MaskScores = field(default_factory=MaskScores)
    """Replay best mask vs stored best mask, over the stored segmenting turns."""
    user_edits: list[dict[str, Any]] = field(default_factory=list)
    user_edit_replay: MaskScores = field(default_factory=MaskScores)
    """Replay's current mask at each user edit vs the stored edit mask."""
    user_edit_stored: MaskScores = field(default_factory=MaskScores)
    """Stored mask just before each user edit vs the stored edit mask."""
    skipped: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    out_dir: Path | None = None

    @property
    def ious(self) -> list[float]:
        """Per-turn IoUs of the compared turns, in turn order."""
        return [s.iou for s in self.scores.samples]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (what ``replay.json`` holds)."""
        return {
            "session_id": self.session_id,
            "replay_session_id": self.replay_session_id,
            "backend": self.backend,
            "replay_backend": self.replay_backend,
            "overall": self.scores.summary(),
            "user_edits": {
                "replay_vs_edit": self.user_edit_replay.summary(),
                "stored_vs_edit": self.user_edit_stored.summary(),
                "turns": self.user_edits,
            },
            "turns": self.turns,
            "skipped": self.skipped,
            "notes": self.notes,
        }


def _resolve(runtime: Any, memory: Memory) -> tuple[Runtime, bool]:
    """Return the runtime and whether this module must close it (a factory's runtime on its own DB)."""
    if hasattr(runtime, "run_turn_sync"):
        return runtime, False
    if callable(runtime):
        made = runtime()
        return made, made.memory is not memory
    raise TypeError("runtime must be a Runtime or a callable returning one")


def _current_after(history: SessionHistory, reply: TurnRecord, previous: MaskRecord | None) -> MaskRecord | None:
    """Return the stored session's current mask after ``reply`` (what its intent points at)."""
    if reply.intent is not None:
        if reply.intent.mask_id is None:
            return None if parse_act(reply.act) is Act.RESET else (reply.masks[0] if reply.masks else previous)
        return next((m for m in history.masks if m.id == reply.intent.mask_id), previous)
    return reply.masks[0] if reply.masks else previous


def _inject_user_edit(rt: Runtime, session_id: str, user: TurnRecord, reply: TurnRecord, owner: str | None) -> None:
    """Write the stored user-edit turn (its text and mask) into the replay session."""
    current = rt.history(session_id, owner=owner).current_intent or Intent()
    turn = rt.memory.add_user_turn(session_id, user.text)
    intent = current.revised(turn=turn.index, op=IntentOp.CORRECT).model_copy(update={"mask_id": None})
    masks = [
        MaskOut(mask=m.mask(), label=m.label, score=m.score, source="user-edit") for m in reply.masks
    ]
    rt.memory.complete_turn(
        turn.id, act=Act.USER_EDIT.value, reply=reply.text, intent=intent, masks=masks, tool_calls=[], latency_ms=0.0
    )


def replay_session(
    memory: Memory,
    session_id: str,
    runtime: Runtime | Callable[[], Runtime],
    *,
    owner: str | None = None,
    out_dir: str | Path,
    copy_user_edits: bool = False,
    plot: bool = True,
) -> ReplayResult:
    """Replay one stored session from ``memory`` through ``runtime`` into a new session.

    ``runtime`` may use another backend and another database than ``memory``; a factory is
    called once (and its runtime closed afterwards unless it shares ``memory``). Writes
    ``out_dir/<session>/turnNNN.png`` (the replay's best mask for each compared turn, ``NNN``
    = the stored reply's turn index, as in the session export), ``replay.json`` and, with
    ``plot``, ``replay.png``. Raises UnknownSessionError for an unknown session.
    """
    history = memory.history(session_id, owner=owner)
    rt, owned = _resolve(runtime, memory)
    try:
        return _replay(memory, history, rt, owner, Path(out_dir), copy_user_edits, plot)
    finally:
        if owned:
            rt.close()


def _replay(
    memory: Memory, history: SessionHistory, rt: Runtime, owner: str | None, out_root: Path, copy_user_edits: bool, plot: bool
) -> ReplayResult:
    sid = history.session.id
    out = out_root / sid
    out.mkdir(parents=True, exist_ok=True)
    result = ReplayResult(
        session_id=sid, replay_session_id=None, backend=history.session.backend, replay_backend=rt.backend_name, out_dir=out
    )
    by_index = {t.index: t for t in history.turns}
    users = [t for t in history.turns if t.role == "user"]
    if not users:
        result.notes.append("the session has no user turns; nothing to replay")
    else:
        title = history.session.title or sid
        result.replay_session_id = rt.new_session(owner=owner, title=f"{REPLAY_TITLE_PREFIX}{title}"[:200])
    stored_current: MaskRecord | None = None
    replay_current: np.ndarray | None = None
    for user in users:
        reply = by_index.get(user.index + 1)
        entry: dict[str, Any] = {"turn": user.index, "text": user.text, "stored_act": user.act}
        result.turns.append(entry)
        if user.status != "ok" or reply is None or reply.role != "assistant":
            reason = f"stored turn is {user.status}" + (f" ({user.error})" if user.error else "")
            entry.update(skipped=reason)
            result.skipped.append({"turn": user.index, "text": user.text, "reason": reason})
            continue
        assert result.replay_session_id is not None
        entry["stored_mask_id"] = reply.masks[0].id if reply.masks else None
        entry["stored_latency_ms"] = reply.latency_ms
        entry["reply_turn"] = reply.index
        if parse_act(user.act) is Act.USER_EDIT:
            _user_edit(result, entry, user, reply, stored_current, replay_current)
            if copy_user_edits and reply.masks:
                _inject_user_edit(rt, result.replay_session_id, user, reply, owner)
                replay_current = reply.masks[0].mask().array
            stored_current = _current_after(history, reply, stored_current)
            continue
        image = memory.image_bytes(user.image_sha) if user.image_sha else None
        try:
            summary = rt.run_turn_sync(result.replay_session_id, user.text, image=image, owner=owner)
        except PixelrsError as exc:
            entry.update(replay_act=None, error=exc.one_line())
            new_best = None
        else:
            entry.update(replay_act=summary.act.value, error=None, latency_ms=summary.latency_ms)
            new_best = summary.masks[0].mask.array if summary.masks else None
            entry["replay_mask_id"] = summary.masks[0].id if summary.masks else None
        current = rt.history(result.replay_session_id, owner=owner).current_mask
        replay_current = current.mask().array if current is not None else None
        name = f"turn{reply.index:03d}.png"
        if new_best is not None:
            (out / name).write_bytes(Mask(new_best).to_png())
            entry["file"] = name
        if reply.masks:
            stored = reply.masks[0].mask().array
            pred = new_best if new_best is not None else np.zeros_like(stored)
            try:
                entry["iou"] = result.scores.add(pred, stored, name=name).iou
            except ValueError as exc:
                entry["iou"] = None
                entry["error"] = f"cannot compare: {exc}"
        elif new_best is not None:
            entry["iou"] = None
            entry["note"] = "the replay segmented where the stored turn did not"
        stored_current = _current_after(history, reply, stored_current)
    if result.skipped and any(s.get("reason", "").startswith("user edit") for s in result.skipped):
        result.notes.append(
            "user-edit turns were not re-run: memory stores their mask but not the clicks or box"
            + ("; their stored masks were copied into the replay" if copy_user_edits else "")
        )
    (out / "replay.json").write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    if plot:
        from graphs import report

        compared = [t for t in result.turns if "iou" in t]
        report.plot_replay_ious(
            [f"turn{t['reply_turn']:03d}" for t in compared],
            [t["iou"] for t in compared], out / "replay.png",
            title=f"{result.replay_backend} replay vs stored ({result.backend})",
        )
    return result


def _user_edit(
    result: ReplayResult,
    entry: dict[str, Any],
    user: TurnRecord,
    reply: TurnRecord,
    stored_current: MaskRecord | None,
    replay_current: np.ndarray | None,
) -> None:
    reason = "user edit: memory stores its mask but not the clicks/box, so it cannot be re-run"
    entry.update(skipped=reason)
    result.skipped.append({"turn": user.index, "text": user.text, "reason": reason})
    if not reply.masks:
        return
    edit = reply.masks[0].mask().array
    record: dict[str, Any] = {"turn": user.index, "edit_mask_id": reply.masks[0].id}
    name = f"turn{reply.index:03d}"
    for key, before, scores in (
        ("replay_iou", replay_current, result.user_edit_replay),
        ("stored_iou", stored_current.mask().array if stored_current is not None else None, result.user_edit_stored),
    ):
        pred = before if before is not None and before.shape == edit.shape else np.zeros_like(edit)
        record[key] = scores.add(pred, edit, name=name).iou
    result.user_edits.append(record)
    entry["user_edit"] = record


def replay_all(
    memory: Memory,
    runtime: Runtime | Callable[[], Runtime],
    *,
    owner: str | None = None,
    out_dir: str | Path,
    include_replays: bool = False,
    copy_user_edits: bool = False,
    limit: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Replay every stored session (of ``owner``, or all) with a progress bar.

    Sessions are listed once before starting, so the new replay sessions are not replayed;
    earlier replays (title ``"[replay] ..."``) and sessions without user turns are skipped
    unless ``include_replays``. Writes each session's files (see :func:`replay_session`),
    ``out_dir/replay_all.json`` (pooled metrics and one line per session) and
    ``out_dir/replay_ious.png``; returns the ``replay_all.json`` dict.
    """
    from graphs import report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rt, owned = _resolve(runtime, memory)
    try:
        sessions = [
            s for s in memory.list_sessions(owner=owner, limit=10**9)
            if s.turn_count > 0 and (include_replays or not (s.title or "").startswith(REPLAY_TITLE_PREFIX))
        ]
        if limit is not None:
            sessions = sessions[: max(0, int(limit))]
        pooled, edit_replay, edit_stored = MaskScores(), MaskScores(), MaskScores()
        rows: list[dict[str, Any]] = []
        for summary in tqdm(sessions, desc="replay", unit="session", disable=not progress):
            try:
                res = replay_session(memory, summary.id, rt, owner=owner, out_dir=out, copy_user_edits=copy_user_edits)
            except PixelrsError as exc:
                rows.append({"session_id": summary.id, "error": exc.one_line()})
                continue
            pooled.extend(res.scores)
            edit_replay.extend(res.user_edit_replay)
            edit_stored.extend(res.user_edit_stored)
            rows.append({
                "session_id": res.session_id, "replay_session_id": res.replay_session_id, "title": summary.title,
                "backend": res.backend, "compared_turns": len(res.scores), "giou": res.scores.giou,
                "ciou": res.scores.ciou, "skipped_turns": len(res.skipped),
                "errors": sum(1 for t in res.turns if t.get("error")),
            })
        document = {
            "replay_backend": rt.backend_name,
            "sessions": len(sessions),
            "overall": pooled.summary(),
            "user_edits": {"replay_vs_edit": edit_replay.summary(), "stored_vs_edit": edit_stored.summary()},
            "per_session": rows,
        }
        (out / "replay_all.json").write_text(json.dumps(document, indent=2, ensure_ascii=False))
        report.plot_iou_histogram(
            [s.iou for s in pooled.samples], out / "replay_ious.png", title=f"{rt.backend_name} replay vs stored, per turn"
        )
        return document
    finally:
        if owned:
            rt.close()
