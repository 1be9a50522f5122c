"""One turn at a time per session, across threads and processes: a leased lock held in the database.

A session's pending user turn *is* its lock: the row names the process answering it (the
*runner*) and a lease that the process renews while the turn runs. A new message is stored in a
transaction whose first statement locks the session row (a row lock on PostgreSQL, the write
lock on SQLite), then reads the session's pending turns: a live one means the session is busy,
so two writers can never both find it free. Storing the answer or the failure settles the turn
and so releases the lock, with no extra statement on the hot path. A pending turn whose lease
ran out, or whose process is known to be gone (same machine, its pid no longer alive), is stale:
it is marked ``interrupted`` (on the next message, on :meth:`Memory.recover`, when a memory
opens) and the session goes on. A message that finds a live turn waits a bounded time, then is
refused with :class:`~agent.errors.SessionBusyError`. The only thing kept in process memory is
the set of turns this process is answering, to renew their leases.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from agent.errors import SessionBusyError
from agent.memory.convert import aware
from agent.memory.models import TurnRow, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

_turns = cast(sa.Table, TurnRow.__table__)

INTERRUPTED = "interrupted: the process answering this turn stopped before the answer was stored"
"""The error stored with a turn whose runner died or shut down."""

_PENDING_USER = (_turns.c.role == "user", _turns.c.status == "pending")
_RENEW = (
    sa.update(_turns)
    .where(
        _turns.c.id.in_(sa.bindparam("tids", expanding=True)),
        _turns.c.runner == sa.bindparam("me"),
        *_PENDING_USER,
    )
    .values(lease_until=sa.bindparam("until"))
)
_INTERRUPT = (
    sa.update(_turns)
    .where(_turns.c.id.in_(sa.bindparam("tids", expanding=True)), *_PENDING_USER)
    .values(status="interrupted", error=sa.bindparam("error"))
)
PENDING = sa.select(
    _turns.c.id, _turns.c.session_id, _turns.c.runner, _turns.c.lease_until
).where(*_PENDING_USER)
"""Pending user turns (the partial index ``ix_turns_pending`` serves it, by session too)."""


def _machine_scope() -> str | None:
    """Id of the pid namespace this process lives in (host, boot, namespace), or None if unknown.

    Two runners with the same scope see the same pids, so a dead pid means a dead runner; in
    another container or after a reboot the same pid means nothing and only the lease counts.
    """
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    seed = f"{socket.gethostname()}|{boot}|{namespace}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (on this machine's pid namespace)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TurnLocks:
    """The turn locks of one :class:`~agent.memory.Memory`: check, take, renew, interrupt, recover.

    Args:
        write_engine: the engine whose transactions take the write lock up front (SQLite).
        lease_s: how long a lock holds without renewal; a heartbeat thread renews held locks
            every third of it, so only a dead or frozen process lets a lease run out.
        wait_s: how long a second turn waits for the session's running turn before it is refused.
    """

    def __init__(self, write_engine: sa.Engine, *, lease_s: float, wait_s: float) -> None:
        if lease_s <= 0 or wait_s < 0:
            raise ValueError("lease_s must be positive and wait_s not negative")
        self._engine = write_engine
        self.lease = timedelta(seconds=lease_s)
        self.wait_s = wait_s
        self._scope = _machine_scope()
        self.runner = f"{self._scope or '-'}/{os.getpid()}/{uuid.uuid4().hex[:12]}"
        """Who answers this memory's turns: machine scope, pid and a per-memory token."""
        self._held: set[int] = set()
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # deciding -----------------------------------------------------------------------------------
    def is_stale(self, runner: str | None, lease_until: datetime | None, now: datetime) -> bool:
        """Whether a pending turn is abandoned: its lease ran out or its process is known dead."""
        if lease_until is None or aware(lease_until) <= now:
            return True
        scope, _, rest = (runner or "").partition("/")
        pid = rest.partition("/")[0]
        if self._scope is not None and scope == self._scope and pid.isdigit():
            return int(pid) != os.getpid() and not _pid_alive(int(pid))
        return False

    def check(self, conn: sa.Connection, pending: Iterable[Any], now: datetime) -> None:
        """Raise :class:`_Busy` if a pending turn of the (row-locked) session is live; interrupt stale ones."""
        stale = []
        for row in pending:
            if not self.is_stale(row.runner, row.lease_until, now):
                raise _Busy()
            stale.append(row)
        if stale:
            for row in stale:
                log.warning("turn %s was left pending by %s; marking it interrupted", row.id, row.runner)
            conn.execute(_INTERRUPT, {"tids": [r.id for r in stale], "error": INTERRUPTED})

    def lease_values(self, now: datetime) -> dict[str, Any]:
        """Column values that make a new pending turn this memory's lock."""
        return {"runner": self.runner, "lease_until": now + self.lease}

    def hold(self, turn_id: int) -> None:
        """Renew ``turn_id``'s lease from now on (it was just stored pending by this memory)."""
        with self._mutex:
            self._held.add(turn_id)
            self._ensure_heartbeat()

    def forget(self, turn_id: int) -> None:
        """Stop renewing ``turn_id``'s lease (it was settled, or its transaction rolled back)."""
        with self._mutex:
            self._held.discard(turn_id)

    def held(self) -> list[int]:
        """Return the turns this memory is answering now."""
        with self._mutex:
            return sorted(self._held)

    @staticmethod
    def interrupt(conn: sa.Connection, turn_ids: list[int], error: str = INTERRUPTED) -> int:
        """Mark pending user turns interrupted; return how many were pending."""
        if not turn_ids:
            return 0
        return int(conn.execute(_INTERRUPT, {"tids": turn_ids, "error": error}).rowcount or 0)

    # waiting --------------------------------------------------------------------------------------
    def retry_while_busy(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it does not raise :class:`_Busy`, for at most ``wait_s`` seconds."""
        deadline = time.monotonic() + self.wait_s
        pause = 0.02
        while True:
            try:
                return attempt()
            except _Busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SessionBusyError() from None
                time.sleep(min(pause, left))
                pause = min(pause * 2, 0.5)

    # recovery -----------------------------------------------------------------------------------
    def recover(self, session_id: str | None = None) -> int:
        """Interrupt the stale pending turns (of every session, or of one); return how many."""
        query = PENDING if session_id is None else PENDING.where(_turns.c.session_id == session_id)
        with self._engine.connect() as conn:
            pending = conn.execute(query).all()
        now = utcnow()
        stale = [r for r in pending if self.is_stale(r.runner, r.lease_until, now)]
        if not stale:
            return 0
        for row in stale:
            log.warning("turn %s was left pending by %s; marking it interrupted", row.id, row.runner)
        with self._engine.begin() as conn:
            # a lease renewed in between does not make the row stale any more: re-check it
            again = conn.execute(PENDING.where(_turns.c.id.in_([r.id for r in stale]))).all()
            ids = [r.id for r in again if self.is_stale(r.runner, r.lease_until, utcnow())]
            return self.interrupt(conn, ids)

    # heartbeat ----------------------------------------------------------------------------------
    def _ensure_heartbeat(self) -> None:
        """Start the lease-renewing thread on first use (the caller holds ``_mutex``)."""
        if self._heartbeat is None and not self._stop.is_set():
            self._heartbeat = threading.Thread(
                target=self._renew_loop, name="pixelrs-turn-lease", daemon=True
            )
            self._heartbeat.start()

    def _renew_loop(self) -> None:
        interval = self.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            self.renew()

    def renew(self) -> None:
        """Extend the leases of the turns this memory is answering."""
        held = self.held()
        if not held:
            return
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    _RENEW, {"tids": held, "me": self.runner, "until": utcnow() + self.lease}
                )
        except sa.exc.SQLAlchemyError:
            log.warning("could not renew the turn leases %s", held, exc_info=True)

    def close(self) -> list[int]:
        """Stop renewing; return the turns still held (the caller interrupts them)."""
        self._stop.set()
        if self._heartbeat is not None:
            with contextlib.suppress(RuntimeError):
                self._heartbeat.join(timeout=5)
        return self.held()


class _Busy(Exception):
    """The session runs a live turn (internal: :meth:`TurnLocks.retry_while_busy` waits on it)."""
