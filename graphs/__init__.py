"""How a turn flows: the LangGraph turn graph, the runtime that drives it, replay, scoring and export."""
