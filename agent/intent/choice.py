"""Building the tracker a user chose: ``rules`` (offline, the default) or ``llm``.

``llm`` takes a ``PROVIDER:MODEL`` spec read by LangChain's ``init_chat_model`` (the optional
``[llm]`` extra: an OpenAI-compatible endpoint, a local Ollama, or any provider package the user
installed), or ``backend``: the language model of the loaded MIRAS/LISA backend (a backend that
has one offers ``chat_model()``). The LLM tracker always falls back to the offline rules.
"""

from __future__ import annotations

import logging
from typing import Any

from agent.errors import BadInputError
from agent.intent.llm import LLMIntentTracker
from agent.intent.protocol import IntentTracker
from agent.intent.rules import RuleIntentTracker

logger = logging.getLogger(__name__)

TRACKERS = ("rules", "llm")
"""The tracker kinds a user can pick."""

BACKEND_LLM = "backend"
"""``--llm backend``: track with the loaded backend's own language model."""


def chat_model_from_spec(spec: str) -> Any:
    """Return a LangChain chat model for ``PROVIDER:MODEL`` (``init_chat_model``); one-line errors."""
    provider, sep, model = spec.strip().partition(":")
    if not sep or not provider or not model:
        raise BadInputError(
            f"--llm {spec!r}: expected PROVIDER:MODEL, e.g. openai:gpt-4o-mini or ollama:llama3.1"
        )
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise BadInputError("--llm needs LangChain's init_chat_model: pip install 'pixelrs[llm]'") from None
    try:
        return init_chat_model(model, model_provider=provider)
    except Exception as exc:  # noqa: BLE001 - missing provider package, key, unknown provider
        raise BadInputError(f"cannot build the chat model {spec!r}: {' '.join(str(exc).split())[:200]}") from None


def backend_chat_model(backend: Any) -> Any:
    """Return the loaded backend's language model as a LangChain chat model; one-line error if none."""
    make = getattr(backend, "chat_model", None)
    if not callable(make):
        name = getattr(backend, "name", type(backend).__name__)
        raise BadInputError(f"--llm backend: the {name} backend has no language model to track with")
    return make()


def build_tracker(
    kind: str = "rules",
    *,
    llm: str | None = None,
    timeout_s: float | None = 30.0,
    backend: Any = None,
    rules: IntentTracker | None = None,
) -> IntentTracker:
    """Build the tracker of ``kind`` (``rules`` or ``llm``); raise :class:`BadInputError` if unusable."""
    offline = rules or RuleIntentTracker()
    if kind == "rules":
        return offline
    if kind != "llm":
        raise BadInputError(f"unknown tracker {kind!r}; choose one of {', '.join(TRACKERS)}")
    if not llm:
        raise BadInputError("the llm tracker needs a model: --llm PROVIDER:MODEL (or --llm backend)")
    model = backend_chat_model(backend) if llm.strip() == BACKEND_LLM else chat_model_from_spec(llm)
    return LLMIntentTracker(model, fallback=offline, timeout_s=timeout_s, model_name=llm.strip())


def build_trackers(
    kind: str = "rules", *, llm: str | None = None, timeout_s: float | None = 30.0, backend: Any = None
) -> dict[str, IntentTracker]:
    """Every tracker this configuration offers, the chosen one first (the app lists them).

    ``rules`` is always there; ``llm`` when a model is configured. A configured model that
    cannot be built is an error only when it was chosen; otherwise it is left out (logged).
    """
    rules = RuleIntentTracker()
    out: dict[str, IntentTracker] = {}
    if kind not in TRACKERS:
        raise BadInputError(f"unknown tracker {kind!r}; choose one of {', '.join(TRACKERS)}")
    if llm:
        try:
            out["llm"] = build_tracker("llm", llm=llm, timeout_s=timeout_s, backend=backend, rules=rules)
        except BadInputError:
            if kind == "llm":
                raise
            logger.warning("the configured --llm %r cannot be used; the app offers the rules only", llm)
    elif kind == "llm":
        build_tracker("llm", llm=llm)  # raises the one-line "needs a model" error
    out["rules"] = rules
    return {kind: out[kind], **{k: v for k, v in out.items() if k != kind}}


__all__ = ["BACKEND_LLM", "TRACKERS", "backend_chat_model", "build_tracker", "build_trackers", "chat_model_from_spec"]
