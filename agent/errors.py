"""User-facing errors: each carries a one-line message that the CLI and the app show as is."""

from __future__ import annotations


class PixelrsError(Exception):
    """Base class for errors pixelrs reports to a person as one clear line."""

    def one_line(self) -> str:
        """Return the message collapsed to a single line."""
        return " ".join(str(self).split()) or self.__class__.__name__


class BadInputError(PixelrsError, ValueError):
    """The user's input (image, text, prompt) cannot be used; the session carries on."""


class UnknownSessionError(PixelrsError, LookupError):
    """No session with that id exists (or it belongs to another user)."""


class BackendError(PixelrsError, RuntimeError):
    """A model backend failed (out of memory, bad checkpoint, ...); the turn is marked failed."""


class CheckpointError(PixelrsError, RuntimeError):
    """A checkpoint directory is missing, incomplete or does not match the model."""


class TurnStopped(PixelrsError):
    """The person stopped a turn before its answer was stored; their message is kept."""

    def __init__(self, message: str = "stopped: you stopped this turn before its answer was stored; "
                 "your message is kept and you can go on.") -> None:
        super().__init__(message)


class SessionBusyError(PixelrsError):
    """Another turn of the same session is still running (in this process or another one)."""

    def __init__(self, message: str = "a turn is still running in this session; wait for its "
                 "answer, then send your message again.") -> None:
        super().__init__(message)
