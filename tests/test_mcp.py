"""MCP: a live app with ``mcp=True`` on a free port, driven by the MCP client library (streamable HTTP)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from agent.memory import Memory
from graphs.runtime import Runtime
from ui.app import ChatUI
from ui.mcp_tools import MCP_OWNER, MCP_TOOLS
from ui.testing import running_app

pytest.importorskip("mcp", reason="the MCP tests need pixelrs[mcp] (the mcp package)")

from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamablehttp_client  # noqa: E402

COFFEE = Path(__file__).resolve().parents[1] / "data" / "photos" / "coffee.png"


async def _session_calls(url: str, calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[Any], list[Any]]:
    """List the tools, then make ``calls`` in order; a call's ``"$sid"`` argument is the first result's session."""
    async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        listed = (await session.list_tools()).tools
        results: list[Any] = []
        sid = ""
        for name, args in calls:
            filled = {k: (sid if v == "$sid" else v) for k, v in args.items()}
            result = await session.call_tool(name, filled)
            results.append(result)
            if not sid and not result.isError:
                sid = json.loads(result.content[0].text).get("session_id", "")
        return listed, results


def test_mcp_lists_the_tools_and_segments(tmp_path: Path, lite: Any) -> None:
    runtime = Runtime(memory=Memory(f"sqlite:///{tmp_path / 'mcp.db'}"), backend=lite)
    ui = ChatUI(runtime, mcp=True)
    image = base64.b64encode(COFFEE.read_bytes()).decode()
    try:
        with running_app(ui) as url:
            listed, results = asyncio.run(
                _session_calls(
                    f"{url}/gradio_api/mcp/",
                    [
                        ("pixelrs_segment", {"image": image, "request": "find the cup"}),
                        ("pixelrs_explain", {"session_id": "$sid", "question": "what colour is it?"}),
                        ("pixelrs_session", {"session_id": "$sid"}),
                        ("pixelrs_explain", {"session_id": "not-a-session", "question": "what is it?"}),
                        ("pixelrs_segment", {"image": "%%% not base64", "request": "find the cup"}),
                    ],
                )
            )
    finally:
        ui.close()
        runtime.close()
    assert sorted(t.name for t in listed) == sorted(MCP_TOOLS)  # the chat's own endpoints are not tools
    segment = next(t for t in listed if t.name == "pixelrs_segment")
    assert set(segment.inputSchema["properties"]) == {"image", "request", "session_id"}
    assert "Segment what the request names" in (segment.description or "")

    found = json.loads(results[0].content[0].text)
    assert not results[0].isError and found["act"] == "new_target" and found["target"] == "cup"
    best = found["masks"][0]
    assert best["role"] == "target" and best["area"] > 1000 and best["rle"]["size"] == [400, 600]
    explained = json.loads(results[1].content[0].text)
    assert explained["session_id"] == found["session_id"] and explained["act"] == "explain" and explained["reply"]
    transcript = json.loads(results[2].content[0].text)
    assert transcript["session"]["owner"] == MCP_OWNER and len(transcript["turns"]) == 4
    assert results[3].isError and "unknown session id" in results[3].content[0].text
    assert results[4].isError and "base64" in results[4].content[0].text

    memory = Memory(f"sqlite:///{tmp_path / 'mcp.db'}")
    try:
        history = memory.history(found["session_id"], owner=MCP_OWNER)
        assert history.current_mask is not None and history.masks[0].id == best["id"]
    finally:
        memory.close()


def test_check_mcp_refuses_login() -> None:
    from agent.errors import BadInputError
    from ui.mcp_tools import check_mcp

    with pytest.raises(BadInputError, match="cannot be combined with --auth"):
        check_mcp(auth=[("alice", "secret")])
    check_mcp()
