"""The ``explain`` tool: streams a grounded explanation of the current mask from the backend."""

from collections.abc import Callable
from typing import Annotated, Any, Literal

from langchain_core.tools import BaseTool, InjectedToolArg
from pydantic import BaseModel, ConfigDict, Field

from tools.backends.base import Backend, ExplainRequest


class ExplainInput(BaseModel):
    """Arguments of ``explain``; ``request`` and ``on_chunk`` are injected and hidden from LLMs."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    question: str = Field(description="What the user asked about the current target.")
    request: Annotated[ExplainRequest, InjectedToolArg] = Field(
        description="Turn context (injected)."
    )
    on_chunk: Annotated[Callable[[str], None] | None, InjectedToolArg] = Field(
        default=None, description="Called with each text chunk as it is produced (injected)."
    )


class ExplainTool(BaseTool):
    """Explain the current target in words that cite what the backend saw (artifact: full text)."""

    name: str = "explain"
    description: str = (
        "Explain the currently segmented target: what it is, what it says, where it is, and why it"
        " matches the conversation."
    )
    args_schema: type[BaseModel] = ExplainInput
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    backend: Any = Field(exclude=True)

    def _run(
        self,
        question: str,
        request: ExplainRequest,
        on_chunk: Callable[[str], None] | None = None,
        **_: Any,
    ) -> tuple[str, str]:
        backend: Backend = self.backend
        parts: list[str] = []
        chunks = iter(backend.explain(request))
        try:
            for chunk in chunks:
                parts.append(chunk)
                if on_chunk is not None:
                    on_chunk(chunk)
        finally:
            # when on_chunk raises (a stopped turn), the backend's generator runs its clean-up
            # now (a model releases its decoder and caches), not whenever it is garbage-collected
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        text = "".join(parts).strip()
        return (text[:200] + ("…" if len(text) > 200 else "")), text
