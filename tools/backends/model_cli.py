"""``pixelrs model keys|check``: what a MIRAS/LISA checkpoint must contain, and whether it does.

``keys`` prints ``NAME<TAB>SHAPE`` for every parameter and persistent buffer of the full-size
model built on the ``meta`` device (no memory). ``check`` compares a checkpoint directory's
headers (safetensors metadata, or a memory-mapped ``torch.load`` for ``.bin``) with that list
without loading weights, and also checks the tokenizer against the model (vocabulary size,
``[SEG]`` id). Exit status: 0 clean, 1 problems found (listed), 2 unusable directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from agent.errors import CheckpointError

BACKENDS = ("miras", "lisa")


def add_model_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``model keys`` and ``model check`` on an argparse ``subparsers`` object.

    Each leaf parser gets ``handler=run_model_command`` as a default.
    """
    model = subparsers.add_parser("model", help="checkpoint tooling for the miras/lisa backends")
    sub = model.add_subparsers(dest="model_command", required=True)
    keys = sub.add_parser("keys", help="print NAME<TAB>SHAPE of every tensor a checkpoint must contain")
    keys.add_argument("--backend", choices=BACKENDS, required=True, help="which model's checkpoint layout")
    keys.set_defaults(handler=run_model_command)
    check = sub.add_parser("check", help="list missing, unexpected and mis-shaped keys of a checkpoint directory")
    check.add_argument("--backend", choices=BACKENDS, required=True, help="which model the checkpoint is for")
    check.add_argument("--model-dir", required=True, help="checkpoint directory (config.json, weights, tokenizer)")
    check.add_argument("--clip", default=None, help="HF CLIP directory (when CLIP is not in the checkpoint)")
    check.add_argument("--convnext", default=None, help="open_clip ConvNeXt directory (MIRAS)")
    check.add_argument("--sam", default=None, help="SAM checkpoint, e.g. sam_vit_h_4b8939.pth")
    check.add_argument("--im-start-end", choices=["on", "off"], default=None,
                       help="image start/end tokens (default: on, the authors' runtime value)")
    check.set_defaults(handler=run_model_command)
    return model


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(d)) for d in shape) + "]"


def run_model_command(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``model keys`` / ``model check``; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.model_command == "check":  # before importing torch (seconds) for a mistyped path
        for flag, value in (("--model-dir", args.model_dir), ("--clip", args.clip),
                            ("--convnext", args.convnext), ("--sam", args.sam)):
            if value is not None and not Path(value).exists():
                err.write(f"error: {flag} {value} does not exist\n")
                return 2
    from .vlm_common.checkpoint import IncompleteCheckpointError
    from .vlm_common.config import SegVLMConfig
    from .vlm_common.loader import build_meta_model, expected_shapes, load_tokenizer, plan_for_dir

    if args.model_command == "keys":
        model = build_meta_model(SegVLMConfig.full_size(args.backend))
        for name, shape in expected_shapes(model).items():
            out.write(f"{name}\t{_shape(shape)}\n")
        return 0

    try:
        config = SegVLMConfig.from_dir(args.model_dir, variant=args.backend, clip_dir=args.clip,
                                       convnext_dir=args.convnext,
                                       im_start_end={"on": True, "off": False}.get(args.im_start_end or ""))
        _, plan = plan_for_dir(args.model_dir, config, clip=args.clip, convnext=args.convnext, sam=args.sam)
    except IncompleteCheckpointError as exc:
        out.write(f"incomplete\t{exc.one_line()}\n")
        return 1
    except CheckpointError as exc:
        err.write(f"error: {exc.one_line()}\n")
        return 2
    problems = 0
    for name in plan.missing:
        out.write(f"missing\t{name}\n")
    for name in plan.unexpected:
        out.write(f"unexpected\t{name}\n")
    for name, got, want in plan.mismatched:
        out.write(f"mis-shaped\t{name}\t{_shape(got)}\texpected {_shape(want)}\n")
    problems += len(plan.missing) + len(plan.unexpected) + len(plan.mismatched)
    try:
        load_tokenizer(args.model_dir, config)
    except CheckpointError as exc:
        out.write(f"tokenizer\t{exc.one_line()}\n")
        problems += 1
    for hint in plan.hints if plan.missing else []:
        err.write(f"hint: {hint}\n")
    total = sum(len(v) for v in plan.sources.values())
    if problems:
        err.write(f"{problems} problem(s) in {args.model_dir} ({total} tensors matched)\n")
        return 1
    out.write(f"ok\t{total} tensors match the {args.backend} model\n")
    return 0
