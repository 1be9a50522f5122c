"""Checkpoint files: find shards, read names/shapes from headers, plan a strict load.

A MIRAS/LISA checkpoint directory holds ``config.json``, weights (``model.safetensors`` /
``pytorch_model.bin`` or shards with ``*.index.json``) and tokenizer files. Some towers may be
missing from it and come from their own locations ("components"):

* CLIP: an HF ``CLIPVisionModel``/``CLIPModel`` directory (``vision_model.*`` keys);
* ConvNeXt (MIRAS): the open_clip directory with ``open_clip_pytorch_model.bin``
  (``visual.trunk.stem.*`` / ``visual.trunk.stages.*`` keys). The authors' merge script drops
  these keys from the merged checkpoint (C.10), so this component is the normal case;
* SAM: ``sam_vit_h_4b8939.pth`` (``image_encoder.*``, ``prompt_encoder.*``, ``mask_decoder.*``).

Keys found in the main checkpoint always win; components only fill what it lacks. The union must
match the model exactly: a missing, unexpected or mis-shaped key is an error that names it.
Only ``safetensors`` and ``torch.load(weights_only=True)`` are used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open

from agent.errors import CheckpointError

CLIP_PREFIX = "model.vision_tower.vision_tower."
CONVNEXT_PREFIX = "model.vision_tower_aux."
SAM_PREFIX = "model.visual_model."

IGNORED_SUFFIXES = (".position_ids", "rotary_emb.inv_freq", "visual_model.pixel_mean", "visual_model.pixel_std")
"""Unexpected keys that are ignored: buffers that older library versions saved but that are
recomputed here (CLIP ``position_ids``, LLaMA ``inv_freq``, SAM's pixel mean/std)."""

_INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_SINGLE_FILES = ("model.safetensors", "pytorch_model.bin")


class IncompleteCheckpointError(CheckpointError):
    """A shard listed in the checkpoint's index json is missing."""


def weight_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Return the weight files of a checkpoint directory (shards listed by an index first).

    Raises:
      CheckpointError: the directory is missing, has no weights, or an indexed shard is missing.
    """
    path = Path(directory)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint directory {str(path)!r} does not exist")
    for name in _INDEX_FILES:
        index = path / name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, ValueError, KeyError) as exc:
                raise CheckpointError(f"cannot read shard index {index}: {exc}") from exc
            shards = sorted(set(weight_map.values()))
            missing = [s for s in shards if not (path / s).is_file()]
            if missing:
                raise IncompleteCheckpointError(
                    f"{str(path)!r} is incomplete: shard(s) {', '.join(missing)} listed in {name} are missing"
                )
            return [path / s for s in shards]
    for name in _SINGLE_FILES:
        if (path / name).is_file():
            return [path / name]
    raise CheckpointError(
        f"{str(path)!r} has no weights (expected {' or '.join(_INDEX_FILES + _SINGLE_FILES)})"
    )


def _load_torch(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:
        # Legacy (non-zip) files cannot be memory-mapped.
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, unsafe globals, truncated files
        raise CheckpointError(f"cannot read {path} with torch.load(weights_only=True): {exc}") from exc
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} does not hold a state dict")
    return obj


def read_shapes(path: str | os.PathLike[str]) -> dict[str, tuple[int, ...]]:
    """Names and shapes in one weight file, from its header (safetensors) or a memory map (.bin)."""
    p = Path(path)
    if p.suffix == ".safetensors":
        try:
            with safe_open(str(p), framework="pt") as f:
                return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        except Exception as exc:
            raise CheckpointError(f"cannot read safetensors header of {p}: {exc}") from exc
    return {k: tuple(v.shape) for k, v in _load_torch(p).items() if isinstance(v, torch.Tensor)}


def iter_tensors(path: str | os.PathLike[str], names: set[str]) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield (name, tensor) for ``names`` found in one weight file."""
    p = Path(path)
    if p.suffix == ".safetensors":
        with safe_open(str(p), framework="pt") as f:
            for k in f.keys():
                if k in names:
                    yield k, f.get_tensor(k)
        return
    for k, v in _load_torch(p).items():
        if k in names:
            yield k, v


@dataclass
class Component:
    """A tower loaded from outside the main checkpoint.

    Arguments:
      group: human name ("CLIP", "ConvNeXt", "SAM").
      prefix: our state-dict prefix the component fills.
      files: its weight files.
      rename: maps a key of those files to our name, or ``None`` to skip it.
      option: the CLI option that sets its location (for messages).
    """

    group: str
    prefix: str
    files: list[Path]
    rename: Callable[[str], str | None]
    option: str


def clip_component(location: str | os.PathLike[str]) -> Component:
    """CLIP from an HF directory (``CLIPVisionModel`` or ``CLIPModel`` weights)."""
    files = weight_files(location)

    def rename(key: str) -> str | None:
        if key.startswith("vision_model."):
            return CLIP_PREFIX + key
        return None

    return Component("CLIP", CLIP_PREFIX, files, rename, "--clip DIR")


def convnext_component(location: str | os.PathLike[str]) -> Component:
    """ConvNeXt from an open_clip directory (or the ``open_clip_pytorch_model.bin`` file itself)."""
    path = Path(location)
    if path.is_dir():
        for name in ("open_clip_pytorch_model.bin", "open_clip_model.safetensors"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise CheckpointError(
                f"ConvNeXt directory {str(location)!r} has no open_clip_pytorch_model.bin or open_clip_model.safetensors"
            )
    elif not path.is_file():
        raise CheckpointError(f"ConvNeXt weights {str(location)!r} do not exist")

    def rename(key: str) -> str | None:
        for src, dst in (("visual.trunk.stem.", "vision_stem."), ("visual.trunk.stages.", "vision_stages.")):
            if key.startswith(src):
                return CONVNEXT_PREFIX + dst + key[len(src):]
        return None

    return Component("ConvNeXt", CONVNEXT_PREFIX, [path], rename, "--convnext DIR")


def sam_component(location: str | os.PathLike[str]) -> Component:
    """SAM from ``sam_vit_h_4b8939.pth`` (or a directory holding one ``.pth``/safetensors file)."""
    path = Path(location)
    if path.is_dir():
        found = sorted(path.glob("sam*.pth")) + sorted(path.glob("*.pth")) + sorted(path.glob("*.safetensors"))
        if not found:
            raise CheckpointError(f"SAM directory {str(location)!r} has no .pth or .safetensors file")
        path = found[0]
    elif not path.is_file():
        raise CheckpointError(f"SAM checkpoint {str(location)!r} does not exist")

    def rename(key: str) -> str | None:
        if key.startswith(("image_encoder.", "prompt_encoder.", "mask_decoder.")):
            return SAM_PREFIX + key
        return None

    return Component("SAM", SAM_PREFIX, [path], rename, "--sam PATH")


@dataclass
class LoadPlan:
    """Where each expected tensor comes from, and what does not fit."""

    sources: dict[Path, dict[str, str]] = field(default_factory=dict)
    """file -> {key in the file: our name}."""
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    """(name, shape in the checkpoint, shape expected)."""
    hints: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the load is strict-clean."""
        return not (self.missing or self.unexpected or self.mismatched)

    def report(self, limit: int = 20) -> str:
        """Multi-line description of the problems (names, capped at ``limit`` per kind)."""
        lines = []
        for title, items in (("missing", self.missing), ("unexpected", self.unexpected)):
            if items:
                shown = ", ".join(items[:limit]) + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")
                lines.append(f"{len(items)} {title} key(s): {shown}")
        if self.mismatched:
            shown = ", ".join(f"{n} {list(a)} (expected {list(b)})" for n, a, b in self.mismatched[:limit])
            lines.append(f"{len(self.mismatched)} mis-shaped key(s): {shown}")
        lines.extend(self.hints)
        return "\n".join(lines)


def plan_load(
    expected: dict[str, tuple[int, ...]],
    main_files: list[Path],
    components: list[Component],
    missing_hints: dict[str, str] | None = None,
) -> LoadPlan:
    """Match checkpoint headers against ``expected`` names/shapes (no tensor data is read).

    Arguments:
      expected: our state-dict names and shapes.
      main_files: the main checkpoint's weight files.
      components: towers loaded from their own locations (fill what the main one lacks).
      missing_hints: per prefix, a hint added when keys under it are missing.
    """
    plan = LoadPlan()
    taken: dict[str, tuple[int, ...]] = {}

    def take(path: Path, key: str, name: str, shape: tuple[int, ...]) -> None:
        if name in taken:
            return
        want = expected[name]
        if tuple(shape) != tuple(want):
            plan.mismatched.append((name, tuple(shape), tuple(want)))
        plan.sources.setdefault(path, {})[key] = name
        taken[name] = shape

    for path in main_files:
        for key, shape in read_shapes(path).items():
            if key in expected:
                take(path, key, key, shape)
            elif not key.endswith(IGNORED_SUFFIXES):
                plan.unexpected.append(key)
    for comp in components:
        if all(name in taken for name in expected if name.startswith(comp.prefix)):
            continue
        for path in comp.files:
            for key, shape in read_shapes(path).items():
                name = comp.rename(key)
                if name is None or name.endswith(IGNORED_SUFFIXES):
                    continue
                if name in expected:
                    take(path, key, name, shape)
                elif name not in taken:
                    plan.unexpected.append(f"{name} (from {path.name})")
    plan.missing = sorted(n for n in expected if n not in taken)
    for prefix, hint in (missing_hints or {}).items():
        if any(n.startswith(prefix) for n in plan.missing):
            plan.hints.append(hint)
    return plan
