"""Random-weight SAM checkpoints saved to disk (tests, benchmarks); nothing is downloaded.

:func:`save_sam_checkpoint` writes a segment-anything state dict (``.pth``), tiny or at ViT-B's
published size (for timing); :func:`save_transformers_sam` a tiny transformers ``SamModel``
directory with its processor. Both load through :func:`tools.backends.promptable.sam.load_sam`.
:class:`CallCounter` counts a module's forward calls (how tests and benchmarks see that an image
encoder ran once per image).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import torch

Size = Literal["tiny", "full"]


class CallCounter:
    """Counts the forward calls of a module (a forward hook)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.n = 0
        module.register_forward_hook(lambda *_: self._hit())

    def _hit(self) -> None:
        self.n += 1


def save_sam_checkpoint(path: str | os.PathLike[str], *, size: Size = "tiny", seed: int = 0) -> Path:
    """Save a segment-anything SAM state dict (``.pth``): tiny, or ViT-B's architecture."""
    from tools.backends.vlm_common.config import SAM_REGISTRY, SamSpec
    from tools.backends.vlm_common.modeling import build_sam

    if size == "tiny":
        spec = SamSpec(
            encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=(1,),
            image_size=64, patch_size=8, window_size=4, prompt_embed_dim=32, mask_in_chans=8,
            decoder_mlp_dim=64, decoder_num_heads=8, iou_head_hidden_dim=32,
        )  # fmt: skip
    else:
        spec = SamSpec(**SAM_REGISTRY["vit_b"])
    torch.manual_seed(seed)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(build_sam(spec).state_dict(), out)
    return out


def save_transformers_sam(folder: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Save a tiny transformers ``SamModel`` with its processor (64-px input)."""
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    config = SamConfig(
        vision_config=dict(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=64, patch_size=8,
            output_channels=32, window_size=4, global_attn_indexes=[1], mlp_dim=64, num_pos_feats=16,
        ),
        prompt_encoder_config=dict(hidden_size=32, image_size=64, patch_size=8, mask_input_channels=4),
        mask_decoder_config=dict(
            hidden_size=32, mlp_dim=64, num_hidden_layers=2, num_attention_heads=2, iou_head_hidden_dim=32
        ),
    )  # fmt: skip
    torch.manual_seed(seed)
    SamModel(config).save_pretrained(out)
    SamProcessor(
        image_processor=SamImageProcessor(size={"longest_edge": 64}, pad_size={"height": 64, "width": 64})
    ).save_pretrained(out)
    return out
