"""The only edits made to the authors' code before a parity run: what it needs to run on a CPU in fp32.

Each patch is an exact text replacement in a copy of the checkout; a patch whose text is not found
exactly as many times as expected stops the run (the checkout is not the one these were written for).
The README lists them with the reasons.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` by ``new`` in ``path`` (``count`` occurrences); ``why`` is for the README."""

    path: str
    old: str
    new: str
    count: int
    why: str


PATCHES: dict[str, list[Patch]] = {
    "miras": [
        Patch("MIRAS/MIRAS/model/MGMSA.py", ".bool().cuda()", ".bool()", 3,
              "training-path [SEG] mask built on the GPU (MGMSA.py:204, 210; a third is commented out)"),
        Patch("MIRAS/MIRAS/model/MGMSA.py", "torch.zeros(1).long().cuda()", "torch.zeros(1).long()", 2,
              "evaluate() offsets built on the GPU (MGMSA.py:524; a second is commented out)"),
        Patch("MIRAS/MIRAS/model/segment_anything/modeling/transformer.py",
              "        q = q.to(torch.bfloat16)\n        k = k.to(torch.bfloat16)\n        v = v.to(torch.bfloat16)\n",
              "        q = q.to(self.q_proj.weight.dtype)\n        k = k.to(self.k_proj.weight.dtype)\n"
              "        v = v.to(self.v_proj.weight.dtype)\n", 1,
              "SAM attention casts q/k/v to bf16 unconditionally (transformer.py:232-234), which fails "
              "against fp32 weights; cast to the weights' dtype instead (the same thing in their bf16 runs)"),
        Patch("MIRAS/merge_lora_weights_and_save_hf_model.py", "vision_tower_aux.to(dtype=torch_dtype, device=args.local_rank)",
              "vision_tower_aux.to(dtype=torch_dtype, device='cpu')", 1,
              "merge script moves ConvNeXt to cuda:<local_rank> (merge…py:149)"),
        Patch("MIRAS/merge_lora_weights_and_save_hf_model.py", "model.load_state_dict(state_dict, strict=True,assign=True)",
              "model.load_state_dict(state_dict, strict=True)", 1,
              "load_state_dict(assign=True) needs torch >= 2.1 but their requirements pin torch 2.0.1 "
              "(merge…py:209); without it the same values are copied in"),
    ],
    "lisa": [
        Patch("model/LISA.py", ".bool().cuda()", ".bool()", 3,
              "[SEG] masks built on the GPU (LISA.py:191, 197, 371)"),
        Patch("model/LISA.py", "torch.zeros(1).long().cuda()", "torch.zeros(1).long()", 2,
              "[SEG] offsets built on the GPU (LISA.py:258, 388)"),
    ],
}


def apply_patches(src: Path, dst: Path, model: str) -> list[Patch]:
    """Copy the checkout ``src`` to ``dst`` (replaced) and apply ``PATCHES[model]``; returns them."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.pyc"))
    for patch in PATCHES[model]:
        file = dst / patch.path
        text = file.read_text()
        found = text.count(patch.old)
        if found != patch.count:
            raise SystemExit(f"patch for {patch.path} expects {patch.count} occurrence(s) of {patch.old!r}, "
                             f"found {found}: is this the checkout the harness was written for?")
        file.write_text(text.replace(patch.old, patch.new))
    return PATCHES[model]
