"""Load a MIRAS/LISA checkpoint directory strictly, without building random weights first.

The model is built on the ``meta`` device (no memory), every tensor is read once from its file
(safetensors or ``torch.load(weights_only=True)``), cast and placed on its device, and the few
non-persistent buffers (rotary frequencies, CLIP position ids, SAM pixel statistics) are
recomputed. Devices come only from ``device`` / ``device_map`` (never hard-coded).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import AutoTokenizer, PreTrainedTokenizerBase
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.utils import logging as hf_logging

from agent.errors import CheckpointError

from .checkpoint import (
    CLIP_PREFIX,
    CONVNEXT_PREFIX,
    SAM_PREFIX,
    Component,
    LoadPlan,
    clip_component,
    convnext_component,
    iter_tensors,
    plan_load,
    sam_component,
    weight_files,
)
from .config import SegVLMConfig, Variant
from .modeling import SegVLMForCausalLM

logger = logging.getLogger(__name__)

SEG_TOKEN = "[SEG]"
_DTYPES = {
    "fp32": torch.float32, "float32": torch.float32, "float": torch.float32,
    "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
    "fp16": torch.float16, "float16": torch.float16, "half": torch.float16,
}


def parse_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """Map ``"fp32"|"bf16"|"fp16"`` (or a torch dtype) to a torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise CheckpointError(f"unknown dtype {dtype!r}; use fp32, bf16 or fp16") from None


def build_meta_model(config: SegVLMConfig) -> SegVLMForCausalLM:
    """Build the module tree on the ``meta`` device (names and shapes only, no memory)."""
    with torch.device("meta"):
        return SegVLMForCausalLM(config)


def expected_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """State-dict names and shapes of ``model`` (persistent parameters and buffers)."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def components_for(
    config: SegVLMConfig,
    *,
    clip: str | os.PathLike[str] | None = None,
    convnext: str | os.PathLike[str] | None = None,
    sam: str | os.PathLike[str] | None = None,
) -> tuple[list[Component], dict[str, str]]:
    """Resolve the tower locations: explicit arguments, else the paths stored in config.json when
    they exist on this machine. Returns the components and hints for missing keys."""
    raw = config.extra
    comps: list[Component] = []
    hints: dict[str, str] = {}

    def stored(*keys: str) -> str | None:
        for key in keys:
            val = raw.get(key)
            if isinstance(val, str) and val and Path(val).exists():
                return val
        return None

    def named(*keys: str) -> str:
        vals = [raw.get(k) for k in keys if isinstance(raw.get(k), str) and raw.get(k)]
        return f" (config.json points to {vals[0]!r}, which does not exist here)" if vals else ""

    clip_loc = clip or stored("mm_vision_tower", "vision_tower")
    if clip_loc:
        comps.append(clip_component(clip_loc))
    hints[CLIP_PREFIX] = "CLIP tower weights not in the checkpoint: pass --clip DIR (an HF CLIP directory)" + (
        "" if clip_loc else named("mm_vision_tower", "vision_tower"))
    if config.aux is not None:
        conv_loc = convnext or stored("mm_vision_tower_aux", "vision_tower_aux")
        if conv_loc:
            comps.append(convnext_component(conv_loc))
        hints[CONVNEXT_PREFIX] = (
            "ConvNeXt tower weights are not in merged MIRAS checkpoints: pass --convnext DIR "
            "(the open_clip CLIP-convnext_large_d_320 directory with open_clip_pytorch_model.bin)"
            + ("" if conv_loc else named("mm_vision_tower_aux", "vision_tower_aux"))
        )
    sam_loc = sam or stored("vision_pretrained", "sam_checkpoint")
    if sam_loc:
        comps.append(sam_component(sam_loc))
    hints[SAM_PREFIX] = "SAM weights not in the checkpoint: pass --sam PATH (sam_vit_h_4b8939.pth)"
    return comps, hints


def plan_for_dir(
    model_dir: str | os.PathLike[str],
    config: SegVLMConfig,
    *,
    clip: str | os.PathLike[str] | None = None,
    convnext: str | os.PathLike[str] | None = None,
    sam: str | os.PathLike[str] | None = None,
) -> tuple[SegVLMForCausalLM, LoadPlan]:
    """Build the meta model and match the directory's headers against it (reads no tensor data)."""
    model = build_meta_model(config)
    comps, hints = components_for(config, clip=clip, convnext=convnext, sam=sam)
    plan = plan_load(expected_shapes(model), weight_files(model_dir), comps, hints)
    return model, plan


def load_tokenizer(model_dir: str | os.PathLike[str], config: SegVLMConfig) -> tuple[PreTrainedTokenizerBase, int]:
    """Load the tokenizer and check it against the model: ``[SEG]`` id, vocabulary size, image tokens.

    Returns:
      the tokenizer and the ``[SEG]`` token id.
    """
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # config.json's model_type ("mgm", "llava") is unknown to AutoConfig
    try:
        tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot load the tokenizer from {str(model_dir)!r}: {exc}") from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    vocab = int(config.llm.vocab_size)
    if len(tok) > vocab:
        raise CheckpointError(
            f"tokenizer has {len(tok)} tokens but the model's vocabulary has {vocab} rows; "
            "tokenizer and weights come from different checkpoints"
        )
    seg_id = tok.convert_tokens_to_ids(SEG_TOKEN)
    if seg_id is None or seg_id == tok.unk_token_id or not isinstance(seg_id, int):
        raise CheckpointError(f"the tokenizer in {str(model_dir)!r} has no {SEG_TOKEN} token")
    if config.seg_token_idx is not None and int(config.seg_token_idx) != seg_id:
        raise CheckpointError(
            f"config.json says seg_token_idx={config.seg_token_idx} but the tokenizer maps {SEG_TOKEN} to {seg_id}"
        )
    if config.use_im_start_end:
        for special in ("<im_start>", "<im_end>"):
            sid = tok.convert_tokens_to_ids(special)
            if sid is None or sid == tok.unk_token_id:
                raise CheckpointError(f"mm_use_im_start_end is set but the tokenizer has no {special} token")
    if tok.eos_token_id is None:
        raise CheckpointError("the tokenizer has no end-of-sequence token")
    return tok, int(seg_id)


def resolve_device_map(
    model: SegVLMForCausalLM, device: str | torch.device, device_map: str | dict[str, str] | None
) -> dict[str, torch.device]:
    """Turn ``device``/``device_map`` into a prefix -> device table (longest prefix wins).

    ``device_map="auto"`` splits the decoder layers evenly over all visible CUDA devices (towers,
    SAM and embeddings on the first, final norm and ``lm_head`` on the last). A dict maps
    state-dict prefixes (``"model.layers.16"``) to devices; unlisted modules go to ``device``.
    """
    table: dict[str, torch.device] = {"": torch.device(device)}
    if device_map is None:
        return table
    if isinstance(device_map, dict):
        table.update({k.rstrip("."): torch.device(v) for k, v in device_map.items()})
        return table
    if device_map not in ("auto", "balanced"):
        raise CheckpointError(f"device_map must be 'auto', 'balanced' or a dict, not {device_map!r}")
    count = torch.cuda.device_count()
    if count == 0:
        raise CheckpointError("device_map='auto' needs CUDA devices; none is visible")
    devices = [torch.device("cuda", i) for i in range(count)]
    table[""] = devices[0]
    layers = len(model.model.layers)
    for i in range(layers):
        table[f"model.layers.{i}"] = devices[min(i * count // layers, count - 1)]
    table["model.norm"] = devices[-1]
    table["lm_head"] = devices[-1]
    return table


def _device_of(name: str, table: dict[str, torch.device]) -> torch.device:
    best = ""
    for prefix in table:
        if (name == prefix or name.startswith(prefix + ".") or prefix == "") and len(prefix) >= len(best):
            best = prefix
    return table[best]


def _set_tensor(model: nn.Module, name: str, tensor: torch.Tensor) -> None:
    module_name, _, attr = name.rpartition(".")
    module = model.get_submodule(module_name) if module_name else model
    if attr in module._parameters:
        module._parameters[attr] = nn.Parameter(tensor, requires_grad=False)
    elif attr in module._buffers:
        module._buffers[attr] = tensor
    else:
        raise CheckpointError(f"no parameter or buffer named {name}")


def _materialize_buffers(model: SegVLMForCausalLM, table: dict[str, torch.device]) -> None:
    rope_dev = _device_of("model.layers.0", table)
    if any(b.is_meta for b in model.model.rotary_emb.buffers()):
        model.model.rotary_emb = LlamaRotaryEmbedding(config=model.config.llm).to(rope_dev)
    for name, buf in list(model.named_buffers()):
        if not buf.is_meta:
            continue
        dev = _device_of(name, table)
        if name.endswith("embeddings.position_ids"):
            value = torch.arange(buf.shape[-1], device=dev).expand(buf.shape)
        elif name.endswith("pixel_mean"):
            value = torch.tensor([123.675, 116.28, 103.53], device=dev).view(-1, 1, 1)
        elif name.endswith("pixel_std"):
            value = torch.tensor([58.395, 57.12, 57.375], device=dev).view(-1, 1, 1)
        else:
            continue
        _set_tensor(model, name, value)
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta]
    if left:
        raise CheckpointError(f"tensors left uninitialised after loading: {', '.join(left[:10])}")


def _quantize(model: SegVLMForCausalLM, bits: int, dtype: torch.dtype, table: dict[str, torch.device]) -> None:
    """Replace the decoder layers' linears with bitsandbytes ones (towers, SAM, lm_head stay)."""
    try:
        import bitsandbytes as bnb
    except ImportError:
        raise CheckpointError(
            f"load_in_{bits}bit needs bitsandbytes: pip install 'pixelrs[quant]' (bitsandbytes>=0.43)"
        ) from None
    for name, module in list(model.model.layers.named_modules()):
        if not isinstance(module, nn.Linear):
            continue
        full = f"model.layers.{name}"
        dev = _device_of(full, table)
        if dev.type != "cuda":
            raise CheckpointError(f"{bits}-bit loading needs a CUDA device, got {dev}")
        w = module.weight.data
        if bits == 8:
            new = bnb.nn.Linear8bitLt(module.in_features, module.out_features, bias=module.bias is not None,
                                      has_fp16_weights=False, threshold=6.0)
            new.weight = bnb.nn.Int8Params(w.cpu(), requires_grad=False, has_fp16_weights=False)
        else:
            new = bnb.nn.Linear4bit(module.in_features, module.out_features, bias=module.bias is not None,
                                    compute_dtype=dtype, quant_type="nf4")
            new.weight = bnb.nn.Params4bit(w.cpu(), requires_grad=False, quant_type="nf4")
        if module.bias is not None:
            new.bias = nn.Parameter(module.bias.data.cpu(), requires_grad=False)
        parent_name, _, attr = full.rpartition(".")
        setattr(model.get_submodule(parent_name), attr, new.to(dev))


@dataclass
class LoadedModel:
    """A loaded model with its tokenizer and the resolved ``[SEG]`` id."""

    model: SegVLMForCausalLM
    tokenizer: PreTrainedTokenizerBase
    config: SegVLMConfig
    seg_token_idx: int


def load_model(
    model_dir: str | os.PathLike[str],
    *,
    variant: Variant,
    clip: str | os.PathLike[str] | None = None,
    convnext: str | os.PathLike[str] | None = None,
    sam: str | os.PathLike[str] | None = None,
    dtype: str | torch.dtype = "fp32",
    device: str | torch.device = "cpu",
    device_map: str | dict[str, str] | None = None,
    load_in_8bit: bool = False,
    load_in_4bit: bool = False,
    progress: bool = True,
    config_overrides: dict[str, Any] | None = None,
    im_start_end: bool | None = None,
    aux_image_size: int | None = None,
    config: SegVLMConfig | None = None,
) -> LoadedModel:
    """Load a MIRAS (``variant="miras"``) or LISA checkpoint directory strictly.

    ``im_start_end`` and ``aux_image_size`` override the authors' runtime values that are used
    instead of config.json's (:mod:`.runtime_values`). ``config`` replaces the configuration read
    from config.json (for towers whose sizes config.json cannot state, e.g. the parity harness's
    tiny ones); the weights and tokenizer still come from ``model_dir``.

    Raises:
      CheckpointError: wrong/incomplete directory, missing shard, missing/unexpected/mis-shaped
        keys (named), tokenizer/vocabulary/``[SEG]`` mismatch, bitsandbytes unavailable.
    """
    if load_in_8bit and load_in_4bit:
        raise CheckpointError("choose one of load_in_8bit and load_in_4bit")
    torch_dtype = parse_dtype(dtype)
    if config is None:
        config = SegVLMConfig.from_dir(model_dir, variant=variant, clip_dir=clip, convnext_dir=convnext,
                                       im_start_end=im_start_end, aux_image_size=aux_image_size)
    for key, value in (config_overrides or {}).items():
        setattr(config, key, value)
    tokenizer, seg_id = load_tokenizer(model_dir, config)
    model, plan = plan_for_dir(model_dir, config, clip=clip, convnext=convnext, sam=sam)
    if not plan.ok:
        raise CheckpointError(f"checkpoint {str(model_dir)!r} does not match the {variant} model:\n{plan.report()}")
    table = resolve_device_map(model, device, device_map)
    total = sum(len(v) for v in plan.sources.values())
    with tqdm(total=total, desc=f"Loading {variant} weights", unit="tensor", disable=not progress) as bar:
        for path, mapping in plan.sources.items():
            bar.set_postfix_str(Path(path).name)
            for key, tensor in iter_tensors(path, set(mapping)):
                name = mapping[key]
                if tensor.is_floating_point():
                    tensor = tensor.to(torch_dtype)
                _set_tensor(model, name, tensor.to(_device_of(name, table)).contiguous())
                bar.update(1)
    _materialize_buffers(model, table)
    if load_in_8bit or load_in_4bit:
        _quantize(model, 8 if load_in_8bit else 4, torch_dtype, table)
    model.eval()
    model.requires_grad_(False)
    logger.info("loaded %s from %s (%d tensors, dtype %s)", variant, model_dir, total, torch_dtype)
    return LoadedModel(model=model, tokenizer=tokenizer, config=config, seg_token_idx=seg_id)
