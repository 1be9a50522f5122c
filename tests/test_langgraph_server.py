"""``langgraph.json``: the graph LangGraph's server and Studio load resolves, compiles and runs turns,
built from configuration alone, with pixelrs sessions as LangGraph threads."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from agent.memory import Memory

REPO = Path(__file__).resolve().parents[1]
COFFEE = REPO / "data" / "photos" / "coffee.png"


def load_factory(graph_id: str = "pixelrs") -> Any:
    """Resolve a graph of langgraph.json the way the server does: ``./file.py:attr`` from the file's folder."""
    config = json.loads((REPO / "langgraph.json").read_text())
    assert config["dependencies"] == ["."] and config["python_version"] == "3.11"
    path, _, attr = config["graphs"][graph_id].partition(":")
    spec = importlib.util.spec_from_file_location(f"langgraph_json_{graph_id}", REPO / path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return getattr(module, attr)


@pytest.fixture
def server_config(sqlite_url: str) -> dict[str, Any]:
    thread = str(uuid.uuid4())
    return {"configurable": {"thread_id": thread, "db_url": sqlite_url, "tools": ["measure"], "planner": "rules"}}


def test_langgraph_json_names_a_factory_that_builds_and_runs_the_graph(
    server_config: dict[str, Any], sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _register_measure(monkeypatch, tmp_path)
    make_graph = load_factory()
    graph = make_graph(server_config)
    assert isinstance(graph, CompiledStateGraph) and graph.name == "pixelrs"
    assert make_graph(server_config) is graph  # one compile per configuration
    assert set(graph.get_context_jsonschema()["properties"]) >= {"backend", "db_url", "tools", "planner", "llm"}
    assert set(graph.get_input_jsonschema()["properties"]) == {"message", "image"}

    graph = graph.copy(update={"checkpointer": InMemorySaver()})  # what the server does with its own saver
    image = base64.b64encode(COFFEE.read_bytes()).decode()
    chunks = list(graph.stream({"message": "find the cup", "image": image}, server_config, stream_mode=["custom", "values"]))
    events = [payload["type"] for mode, payload in chunks if mode == "custom"]
    assert events[0] == "stored" and "mask" in events and "token" in events
    first = chunks[-1][1]
    thread = server_config["configurable"]["thread_id"]
    assert first["session_id"] == uuid.UUID(thread).hex and first["act"] == "new_target" and first["masks"]
    assert first["error"] is None and first["image"] is None  # the upload is not kept in the thread's state

    second = graph.invoke({"message": "how big is it?"}, server_config)
    assert second["session_id"] == first["session_id"] and second["turn"] == 2
    assert second["reply"].startswith("It covers ")  # the measure plug-in, loaded from the configuration
    state = graph.get_state(server_config).values
    json.dumps(state)  # the thread's checkpoints hold JSON only

    bad = graph.invoke({"message": "find the cup", "image": "../../etc/passwd"}, server_config)
    assert bad["error"] == "image must be base64 bytes, a data: URL, or a file under the server's working folder"
    assert graph.invoke({"message": "what colour is it?"}, server_config)["act"] == "explain"

    memory = Memory(sqlite_url)
    try:
        history = memory.history(thread)
        assert [t.role for t in history.turns] == ["user", "assistant"] * 3
        assert [c.tool for c in history.turns[3].tool_calls] == ["measure"]
    finally:
        memory.close()


def test_a_thread_id_that_is_not_a_uuid_is_one_line(sqlite_url: str) -> None:
    graph = load_factory()({"configurable": {"db_url": sqlite_url}})
    out = graph.invoke({"message": "hello"}, {"configurable": {"thread_id": "my-thread"}})
    assert out["error"] == "thread id 'my-thread' is not a UUID; pixelrs sessions need one"
    out = graph.invoke({"message": "hello"})  # no thread: a session of its own
    assert out["error"] is None and len(out["session_id"]) == 32


def _register_measure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dist = tmp_path / "site" / "pixelrs_measure_under_test-0.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pixelrs-measure-under-test\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text("[pixelrs.tools]\nmeasure = pixelrs_measure:MeasureTool\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
