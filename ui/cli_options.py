"""Options several ``pixelrs`` sub-commands share (database, backend, tracker) and the settings they make.

The flags override the ``PIXELRS_*`` environment (:class:`agent.settings.Settings`); a bad value
there is reported as one line (:class:`~ui.cli_errors.CliError`), like a bad flag.
"""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from agent.settings import Settings
from ui.cli_errors import CliError


def add_db_option(p: argparse.ArgumentParser) -> None:
    """Add ``--db`` (the memory's SQLAlchemy URL)."""
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the memory (default: ~/.pixelrs/pixelrs.db)")


def add_backend_options(p: argparse.ArgumentParser) -> None:
    """Add the backend and model flags (``--backend``, ``--model-dir``, ...) and the tracker flags."""
    p.add_argument("--backend", default=None, help="backend name: lite (default), miras, lisa, openvocab, or a plugin")
    p.add_argument("--model-dir", help="checkpoint directory (miras/lisa)")
    p.add_argument("--model", help="openvocab detector: a local directory or a Hugging Face model id")
    p.add_argument("--threshold", type=float, help="openvocab: raw detector score at which a thing counts as present")
    p.add_argument("--allow-download", action="store_true", default=None,
                   help="openvocab, lite --sam: let transformers download a model id that is not in the local cache")
    p.add_argument("--clip", help="CLIP vision tower directory (overrides the checkpoint config)")
    p.add_argument("--convnext", help="ConvNeXt (open_clip) directory for MIRAS")
    p.add_argument("--sam", help="SAM checkpoint: ViT-H .pth (miras/lisa); openvocab and lite: any segment-anything "
                   ".pth or a transformers SAM directory / model id (lite: SAM masks the detected objects; "
                   "needs pixelrs[miras])")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], help="model dtype (miras/lisa/openvocab, lite --sam)")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda:0 (miras/lisa/openvocab, lite --sam)")
    p.add_argument("--decode", choices=["auto", "eager", "graphs"],
                   help="token decoding (miras/lisa): CUDA graphs on one GPU by default, else eager")
    p.add_argument("--load-in-4bit", action="store_true", default=None, help="4-bit weights via bitsandbytes")
    p.add_argument("--load-in-8bit", action="store_true", default=None, help="8-bit weights via bitsandbytes")
    p.add_argument("--im-start-end", choices=["on", "off"],
                   help="image start/end tokens (miras/lisa; default: on, as the authors' runtime, whatever config.json says)")
    p.add_argument("--aux-size", type=int, metavar="N",
                   help="ConvNeXt input side for miras (default: 768, the authors' runtime value)")
    add_tracker_options(p)


def add_tracker_options(p: argparse.ArgumentParser) -> None:
    """Add ``--tracker``, ``--llm`` and ``--planner``."""
    p.add_argument("--tracker", choices=["rules", "llm"], default=None,
                   help="intent tracker: rules (offline, default) or llm (needs --llm)")
    p.add_argument("--llm", metavar="PROVIDER:MODEL",
                   help="chat model of the llm tracker (LangChain init_chat_model, e.g. openai:gpt-4o-mini, "
                        "ollama:llama3.1; needs pixelrs[llm]), or 'backend' for the MIRAS/LISA model")
    p.add_argument("--planner", choices=["rules", "llm"], default=None,
                   help="who picks the tool that answers a turn: rules (acts and triggers, default) or llm "
                        "(a tool-calling model: the same --llm; the rules stay its fallback)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Return the settings: the environment's, overridden by the flags that were given."""
    options = {
        "model_dir": getattr(args, "model_dir", None),
        "model": getattr(args, "model", None),
        "threshold": getattr(args, "threshold", None),
        "allow_download": getattr(args, "allow_download", None),
        "clip": getattr(args, "clip", None),
        "convnext": getattr(args, "convnext", None),
        "sam": getattr(args, "sam", None),
        "dtype": getattr(args, "dtype", None),
        "device": getattr(args, "device", None),
        "load_in_4bit": getattr(args, "load_in_4bit", None),
        "load_in_8bit": getattr(args, "load_in_8bit", None),
        "decode": getattr(args, "decode", None),
        "im_start_end": {"on": True, "off": False}.get(getattr(args, "im_start_end", None) or ""),
        "aux_image_size": getattr(args, "aux_size", None),
    }
    values: dict[str, Any] = {"backend_options": {k: v for k, v in options.items() if v is not None}}
    if getattr(args, "db", None):
        values["db_url"] = args.db
    if getattr(args, "backend", None):
        values["backend"] = args.backend
    if getattr(args, "tracker", None):
        values["tracker"] = args.tracker
    if getattr(args, "planner", None):
        values["planner"] = args.planner
    if getattr(args, "llm", None):
        values["llm"] = args.llm
        values.setdefault("tracker", "llm")
    try:
        return Settings(**values)
    except ValidationError as exc:  # a bad PIXELRS_* variable: one line, not a traceback
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "settings"
        raise CliError(f"bad setting {where} (PIXELRS_{where.upper()}): {err['msg']}") from None


def open_memory(args: argparse.Namespace) -> Any:
    """Open the memory (SQL) that ``--db`` or the settings name."""
    from agent.memory import Memory

    return Memory(settings_from_args(args).resolved_db_url())
