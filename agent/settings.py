"""Typed run configuration: one pydantic-settings object, overridable by ``PIXELRS_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.images import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, WORKING_PIXELS, ImageLimits


def default_home() -> Path:
    """Where pixelrs keeps its SQLite database and exports unless told otherwise."""
    return Path.home() / ".pixelrs"


class Settings(BaseSettings):
    """Settings shared by the CLI, the app and the runtime."""

    model_config = SettingsConfigDict(env_prefix="PIXELRS_", extra="ignore")

    db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the memory database; default is a SQLite file under home.",
    )
    home: Path = Field(default_factory=default_home, description="Folder for the default database.")
    backend: str = Field(default="lite", description="Backend registry name: lite, miras, lisa, ...")
    backend_options: dict[str, object] = Field(
        default_factory=dict, description="Keyword arguments for the backend's constructor."
    )
    owner: str | None = Field(default=None, description="Owner of new sessions (the logged-in user).")
    tracker: Literal["rules", "llm"] = Field(
        default="rules", description="Intent tracker: rules (offline, spaCy) or llm (needs llm)."
    )
    llm: str | None = Field(
        default=None,
        description="Chat model of the llm tracker: PROVIDER:MODEL for LangChain's init_chat_model "
        "(e.g. openai:gpt-4o-mini, ollama:llama3.1), or 'backend' for the MIRAS/LISA model.",
    )
    llm_timeout_s: float = Field(
        default=30.0, gt=0, description="Longest wait for the llm tracker (or planner) before the rules answer."
    )
    planner: Literal["rules", "llm"] = Field(
        default="rules",
        description="Who picks the tool that answers a turn: rules (acts and triggers) or llm (a "
        "tool-calling model, the same --llm; the rules remain its fallback).",
    )
    tools: list[str] | None = Field(
        default=None,
        description="Names of the pixelrs.tools entry points to load (None: every installed one).",
    )
    turn_wait_s: float = Field(
        default=10.0, ge=0, description="How long a second turn of a busy session waits before it is refused."
    )
    turn_lease_s: float = Field(
        default=30.0, gt=0, description="How long a turn's session lock holds unless its process renews it."
    )
    image_max_bytes: int = Field(default=MAX_IMAGE_BYTES, gt=0, description="Largest encoded image accepted.")
    image_max_pixels: int = Field(
        default=MAX_IMAGE_PIXELS, gt=0, description="Images with more pixels are refused before decoding."
    )
    image_working_pixels: int = Field(
        default=WORKING_PIXELS,
        ge=64 * 64,
        description="Images with more pixels are reduced to this many while decoding (JPEG: in the decoder).",
    )

    def image_limits(self) -> ImageLimits:
        """Return the per-image cost limits these settings ask for."""
        return ImageLimits(
            max_bytes=self.image_max_bytes,
            max_pixels=self.image_max_pixels,
            working_pixels=self.image_working_pixels,
        )

    def resolved_db_url(self) -> str:
        """Return the database URL, creating the home folder for the default SQLite file."""
        if self.db_url:
            return self.db_url
        self.home.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.home / 'pixelrs.db'}"
