"""Find backends and extra tools through entry points (``pixelrs.backends``, ``pixelrs.tools``).

Third-party packages add a backend or a tool by declaring an entry point; nothing in the core
needs editing. Built-in backends are declared in pyproject.toml the same way, with a fallback
table so a source checkout that was not pip-installed still finds them.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from langchain_core.tools import BaseTool

from agent.errors import BadInputError
from tools.backends.base import Backend

BACKEND_GROUP = "pixelrs.backends"
TOOL_GROUP = "pixelrs.tools"

log = logging.getLogger(__name__)

BUILTIN_BACKENDS: dict[str, str] = {
    "lite": "tools.backends.lite:LiteBackend",
    "miras": "tools.backends.miras:MirasBackend",
    "lisa": "tools.backends.lisa:LisaBackend",
    "openvocab": "tools.backends.openvocab:OpenVocabBackend",
}


def _load_target(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def backend_names() -> list[str]:
    """All registered backend names, built-in ones first."""
    names = list(BUILTIN_BACKENDS)
    names += sorted(ep.name for ep in entry_points(group=BACKEND_GROUP) if ep.name not in BUILTIN_BACKENDS)
    return names


def backend_factory(name: str) -> Callable[..., Backend]:
    """Return the class (or factory) registered for ``name``; a one-line error for unknown names."""
    for ep in entry_points(group=BACKEND_GROUP):
        if ep.name == name:
            return ep.load()  # type: ignore[no-any-return]
    if name in BUILTIN_BACKENDS:
        return _load_target(BUILTIN_BACKENDS[name])  # type: ignore[no-any-return]
    raise BadInputError(f"unknown backend '{name}'; choose one of: {', '.join(backend_names())}")


def create_backend(name: str, **options: Any) -> Backend:
    """Build a backend by registry name with constructor keyword options (dropping ``None`` values)."""
    factory = backend_factory(name)
    return factory(**{k: v for k, v in options.items() if v is not None})


def tool_names() -> list[str]:
    """Names of the installed ``pixelrs.tools`` entry points."""
    return sorted({ep.name for ep in entry_points(group=TOOL_GROUP)})


def extra_tools(*, names: Sequence[str] | None = None, **context: Any) -> list[BaseTool]:
    """Instantiate the tools registered under ``pixelrs.tools`` (all of them, or those in ``names``).

    An entry point may name a ``BaseTool`` instance, a ``BaseTool`` subclass, or a factory
    called with ``context`` keyword arguments (e.g. ``backend=...``, ``memory=...``). A plug-in
    that fails to load is left out with a logged warning (the app still starts) unless it was
    asked for by name; an unknown name is a one-line error.
    """
    found = {ep.name: ep for ep in entry_points(group=TOOL_GROUP)}
    if names is not None:
        unknown = [n for n in names if n not in found]
        if unknown:
            installed = ", ".join(sorted(found)) or "none"
            raise BadInputError(f"unknown tool {unknown[0]!r}; installed pixelrs.tools: {installed}")
    tools: list[BaseTool] = []
    for name in names if names is not None else sorted(found):
        try:
            tools.append(_load_tool(found[name], context))
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not stop the app
            if names is not None:
                raise BadInputError(f"the tool {name!r} cannot be loaded: {' '.join(str(exc).split())[:200]}") from None
            log.warning("skipping the pixelrs.tools entry point %r: %s", name, exc)
    return tools


def _load_tool(ep: EntryPoint, context: dict[str, Any]) -> BaseTool:
    obj = ep.load()
    if isinstance(obj, BaseTool):
        return obj
    if isinstance(obj, type) and issubclass(obj, BaseTool):
        return obj()
    if callable(obj):
        made = obj(**context)
        if isinstance(made, BaseTool):
            return made
    raise TypeError(f"entry point {ep.name!r} in {TOOL_GROUP} did not give a BaseTool")
