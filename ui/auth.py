"""Login for the app: ``--auth user:pass`` (repeatable) or an auth file of ``user:pass`` lines."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from pathlib import Path

from agent.errors import BadInputError


def parse_credential(text: str) -> tuple[str, str]:
    """Split ``user:pass`` (the password may contain ':'); raise a one-line error when malformed."""
    user, sep, password = text.strip().partition(":")
    user = user.strip()
    if not sep or not user or not password:
        raise BadInputError("an auth entry must look like user:password (both non-empty)")
    if any(ch.isspace() for ch in user):
        raise BadInputError(f"user name {user!r} must not contain spaces")
    return user, password


def read_auth_file(path: str | Path) -> list[tuple[str, str]]:
    """Read ``user:pass`` lines; blank lines and ``#`` comments are skipped."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"cannot read auth file {p}: {exc.strerror or exc}") from exc
    creds: list[tuple[str, str]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            creds.append(parse_credential(line))
        except BadInputError as exc:
            raise BadInputError(f"{p}:{number}: {exc.one_line()}") from exc
    if not creds:
        raise BadInputError(f"auth file {p} has no user:password lines")
    return creds


def load_auth(entries: Iterable[str] = (), auth_file: str | Path | None = None) -> list[tuple[str, str]] | None:
    """Combine ``--auth`` entries and an auth file; None when neither is given (no login)."""
    creds = [parse_credential(e) for e in entries]
    if auth_file is not None:
        creds.extend(read_auth_file(auth_file))
    if not creds:
        return None
    users = [u for u, _ in creds]
    duplicates = sorted({u for u in users if users.count(u) > 1})
    if duplicates:
        raise BadInputError(f"user(s) listed twice in auth: {', '.join(duplicates)}")
    return creds


def resolve_auth(
    auth: str | Iterable[str] | Iterable[tuple[str, str]] | None, auth_file: str | Path | None = None
) -> list[tuple[str, str]] | None:
    """Credentials from ``--auth`` values: ``user:pass``, an auth-file path, or ``(user, pass)`` pairs.

    A string that names an existing file is read as an auth file (``pixelrs serve --auth FILE``);
    otherwise it must be ``user:pass``. Returns None when no credentials were given.
    """
    entries: list[str | tuple[str, str]] = [auth] if isinstance(auth, str) else list(auth or [])
    strings: list[str] = []
    pairs: list[tuple[str, str]] = []
    files: list[str | Path] = [auth_file] if auth_file is not None else []
    for entry in entries:
        if isinstance(entry, str):
            if ":" not in entry and Path(entry).is_file():
                files.append(entry)
            else:
                strings.append(entry)
        else:
            user, password = entry
            pairs.append(parse_credential(f"{user}:{password}"))
    creds: list[tuple[str, str]] = [*pairs, *(parse_credential(s) for s in strings)]
    for path in files:
        creds.extend(read_auth_file(path))
    return load_auth([f"{u}:{p}" for u, p in creds]) if creds else None


class Authenticator:
    """Callable ``(user, password) -> bool`` for ``Blocks.launch(auth=...)``, constant-time compare."""

    def __init__(self, credentials: Iterable[tuple[str, str]]) -> None:
        self._passwords = {u: p.encode() for u, p in credentials}

    def __call__(self, username: str, password: str) -> bool:
        """Return True when the password matches the user's."""
        expected = self._passwords.get(username)
        if expected is None:
            hmac.compare_digest(password.encode(), b"-" * 16)  # same work for unknown users
            return False
        return hmac.compare_digest(password.encode(), expected)

    @property
    def users(self) -> list[str]:
        """Known user names."""
        return sorted(self._passwords)
