"""Resolving and loading torch weights (SAM, detectors), with one-line errors for everything that can go wrong.

Every error names the backend that asked (``backend="lite"`` -> ``lite: SAM 'x.pth' does not
exist``), so one helper serves each backend that loads weights. Nothing here imports torch at
module level: a mistyped path is reported before any model library is imported.

A location is a local directory or a Hugging Face model id. Ids resolve the way transformers
resolves them on the user's machine (the local Hugging Face cache, ``HF_HOME``), and nothing is
downloaded unless the user allows it (``allow_download``, the CLI's ``--allow-download``): a
missing model is a one-line message naming how to get it, never a network call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import CheckpointError

if TYPE_CHECKING:
    import torch

DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}  # fmt: skip
"""Accepted dtype names -> torch attribute names (torch is imported only when a model loads)."""
SAM_TYPES = ("vit_b", "vit_l", "vit_h")
"""The published SAM sizes a ``sam_type`` may name (any other size loads from its weights' shapes)."""


def failure(backend: str, message: str) -> CheckpointError:
    """Return the one-line error ``"<backend>: <message>"``."""
    return CheckpointError(f"{backend}: {message}")


def torch_dtype(dtype: str | torch.dtype, *, backend: str) -> torch.dtype:
    """Map ``"fp32"|"bf16"|"fp16"`` (or a torch dtype) to a torch dtype; a one-line error otherwise."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return getattr(torch, DTYPES[str(dtype).lower()])  # type: ignore[no-any-return]
    except KeyError:
        raise failure(backend, f"unknown dtype {dtype!r}; use fp32, bf16 or fp16") from None


def torch_device(device: str | torch.device, *, backend: str) -> torch.device:
    """Parse a device string and check that it exists here ("cpu", "cuda", "cuda:1", "mps")."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise failure(backend, f"unknown device {device!r} ({exc})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise failure(backend, f"device {device!r} asked for but CUDA is not available here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise failure(
                backend, f"device {device!r} does not exist ({torch.cuda.device_count()} CUDA devices)"
            )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise failure(backend, f"device {device!r} asked for but MPS is not available here")
    return dev


def _looks_like_path(location: str) -> bool:
    """Whether a location that does not exist was meant as a path (a model id is "name" or "org/name")."""
    return (
        location.startswith(("/", ".", "~"))
        or location.count("/") > 1
        or "\\" in location
        or location.endswith((".pth", ".pt", ".bin", ".safetensors", ".json"))
    )


def model_source(
    location: str | os.PathLike[str], *, what: str, flag: str, backend: str
) -> tuple[str, bool]:
    """Return (what to pass to ``from_pretrained``, whether it is a local directory).

    A path that does not exist, or a directory without ``config.json``, is a one-line error; a
    string that is not a path is taken as a model id. Needs no torch, so a mistyped path is
    reported before any model library is imported.
    """
    text = str(location).strip()
    if not text:
        raise failure(backend, f"{flag} is empty; give a model directory or a model id")
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise failure(
                backend,
                f"{what} directory {text!r} has no config.json (not a transformers model "
                f"directory); pass {flag} a directory saved by save_pretrained or a model id",
            )
        return str(path), True
    if path.exists():
        raise failure(backend, f"{what} {text!r} is a file; {flag} needs a model directory or a model id")
    if _looks_like_path(text):
        raise failure(backend, f"{what} {text!r} does not exist")
    return text, False


def check_sam_location(sam: str | os.PathLike[str], *, backend: str) -> None:
    """Fail fast, before torch is imported, on a SAM location that cannot be loaded: a checkpoint
    file, a folder holding one, a transformers SAM directory or a model id."""
    path = Path(str(sam)).expanduser()
    if path.is_file():
        return
    if path.is_dir() and not (path / "config.json").exists():
        if not any(path.glob("*.pth")) and not any(path.glob("*.safetensors")):
            raise failure(
                backend, f"SAM directory {str(sam)!r} has no .pth or .safetensors file and no config.json"
            )
        return
    model_source(sam, what="SAM", flag="--sam", backend=backend)


def from_pretrained(
    load: Callable[..., Any],
    source: str,
    *,
    local: bool,
    what: str,
    flag: str,
    allow_download: bool,
    backend: str,
    **kwargs: Any,
) -> Any:
    """Call a ``from_pretrained`` with ``local_files_only`` unless downloads are allowed,
    turning every failure into a one-line :class:`CheckpointError`."""
    try:
        return load(source, local_files_only=not allow_download, **kwargs)
    except OSError as exc:
        if not local and not allow_download:
            raise failure(
                backend,
                f"{what} {source!r} is not a local directory and not in the local Hugging "
                f"Face cache; download it once (hf download {source}), pass --allow-download, or "
                f"give {flag} a local directory",
            ) from exc
        raise failure(backend, f"cannot load {what} from {source!r}: {_first_line(exc)}") from exc
    except (ValueError, KeyError, RuntimeError, TypeError, AttributeError) as exc:
        raise failure(backend, f"{what} {source!r} could not be loaded: {_first_line(exc)}") from exc


def check_loading_info(info: dict[str, Any], *, what: str, source: str, backend: str) -> None:
    """Refuse a checkpoint that lacks weights of the model (transformers would initialise them randomly)."""
    missing = list(info.get("missing_keys") or [])
    mismatched = list(info.get("mismatched_keys") or [])
    if missing or mismatched:
        names = ", ".join(str(k if isinstance(k, str) else k[0]) for k in (missing + mismatched)[:3])
        raise failure(
            backend,
            f"{what} {source!r} does not match its config: {len(missing)} missing and "
            f"{len(mismatched)} mis-shaped weights (e.g. {names})",
        )


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "…") if len(text) > 300 else (text or type(exc).__name__)
