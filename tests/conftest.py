"""Shared fixtures: database URLs for SQLite (a temp file) and PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'pixelrs.db'}"


@pytest.fixture(scope="session")
def _postgres_admin() -> Iterator[tuple[sa.URL, sa.Engine]]:
    url = make_url(os.environ.get("PIXELRS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    shown = url.render_as_string(hide_password=True)
    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        engine.dispose()
        reason = " ".join(str(getattr(exc, "orig", exc)).split())[:200]
        pytest.skip(f"PostgreSQL not reachable at {shown}: {reason}")
    yield url, engine
    engine.dispose()


@pytest.fixture
def postgres_url(_postgres_admin) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    url, engine = _postgres_admin
    schema = f"t_{uuid.uuid4().hex}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    test_url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield test_url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(scope="session")
def lite():
    """One lite backend for the whole run (thread-safe; its per-image caches are content-keyed)."""
    from tools.backends.lite import LiteBackend

    return LiteBackend()


@pytest.fixture
def lite_runtime(sqlite_url: str, lite):
    """A real runtime: fresh SQLite memory, the shared lite backend, the rule tracker."""
    from agent.memory import Memory
    from graphs.runtime import Runtime

    rt = Runtime(memory=Memory(sqlite_url), backend=lite)
    yield rt
    rt.close()
