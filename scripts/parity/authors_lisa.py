"""Authors' side of the LISA parity run (runs in the venv from ``setup_venv.sh lisa``).

With LISA's own classes (dvlab-research/LISA, CPU patches applied by ``run.py``) and tiny widths at
the real geometry (CLIP ViT-L/14 at 224 px = 256 image tokens, SAM at 1024), it:

1. builds the CLIP directory and SAM ``.pth`` their config points to, and a LLaVA-Lightning style base
   (LLaMA + linear projector) with a LLaMA-style sentencepiece tokenizer;
2. runs their ``merge_lora_weights_and_save_hf_model.py`` unmodified (its ``--weight`` is its own
   LoRA-wrapped model with seeded random values), giving the merged layout (CLIP dropped);
3. loads it the way their ``chat.py`` does and also saves it whole (``full``: CLIP included);
4. records preprocessing, prompt ids, image tokens, logits, and runs their ``evaluate()`` -- LISA's
   own inference path and ``[SEG]`` rule -- with a ``[SEG]`` forced at one step, keeping the tokens,
   the ``[SEG]`` embedding it feeds SAM and the mask; plus a second turn's logits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authors_common import GEOMETRY, add_paths, randomize_, save_exchange, train_tokenizer, versions  # noqa: E402

Q1 = "What is the label on the laptop next to the port?"
A1 = "Sure, it is [SEG]. It is the HDMI label."
Q2 = "Please segment the HDMI port on the left side of the laptop."
N_NEW = 8
SEG_STEP = 3


def setup():
    import model.LISA as lisa
    from model.segment_anything.build_sam import _build_sam

    lisa.build_sam_vit_h = lambda checkpoint=None: _build_sam(**GEOMETRY["sam"], checkpoint=checkpoint)


def make_towers(work: Path, seed: int) -> tuple[Path, Path]:
    from model.segment_anything.build_sam import _build_sam
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    clip_dir = work / "towers" / "clip-vit-large-patch14"
    clip = CLIPVisionModel(CLIPVisionConfig(**GEOMETRY["clip"], image_size=224))
    clip.load_state_dict(randomize_(clip.state_dict(), seed + 1))
    clip.save_pretrained(str(clip_dir))
    CLIPImageProcessor(
        size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}, do_center_crop=True, resample=3,
        image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711],
    ).save_pretrained(str(clip_dir))
    sam_path = work / "towers" / "sam_parity_tiny.pth"
    torch.save(randomize_(_build_sam(**GEOMETRY["sam"]).state_dict(), seed + 3), sam_path)
    return clip_dir, sam_path


def make_base(work: Path, clip_dir: Path, seed: int) -> Path:
    """Build a LLaVA-Lightning-style base (LISA's ``--version``): LLaMA + linear projector from CLIP-224."""
    from model.llava.model.language_model.llava_llama import LlavaConfig, LlavaLlamaForCausalLM
    from transformers import AutoTokenizer

    base = work / "base"
    train_tokenizer(base, legacy=None)  # LLaVA-Lightning's tokenizer_config has no "legacy" key
    n_vocab = len(AutoTokenizer.from_pretrained(str(base), use_fast=False))
    cfg = LlavaConfig(
        **GEOMETRY["llm"], vocab_size=n_vocab, bos_token_id=1, eos_token_id=2, pad_token_id=0,
        tie_word_embeddings=False, mm_vision_tower=str(clip_dir), mm_hidden_size=GEOMETRY["clip"]["hidden_size"],
        mm_vision_select_layer=-2, mm_vision_select_feature="patch", mm_use_im_start_end=True,
        mm_use_im_patch_token=False, tune_mm_mlp_adapter=False, freeze_mm_mlp_adapter=False, use_mm_proj=True,
    )
    torch.manual_seed(seed)
    model = LlavaLlamaForCausalLM(cfg)
    model.load_state_dict(randomize_(model.state_dict(), seed + 4), strict=False)
    model.save_pretrained(str(base))
    return base


def run_merge(work: Path, base: Path, clip_dir: Path, sam_path: Path, seed: int) -> Path:
    import merge_lora_weights_and_save_hf_model as merge

    weight = work / "training_checkpoint.bin"
    merged = work / "merged"
    captured: dict[str, torch.nn.Module] = {}
    real_peft, real_load = merge.get_peft_model, torch.load

    def peft_capture(model, config):
        captured["model"] = real_peft(model, config)
        return captured["model"]

    def load_training_checkpoint(f, *args, **kwargs):
        if str(f) != str(weight):
            return real_load(f, *args, **kwargs)
        state = {k: v.detach().clone() for k, v in captured["model"].state_dict().items()}
        randomize_(state, seed + 5, skip=("vision_tower",))  # the frozen CLIP keeps its directory's values
        torch.save(state, weight)
        return state

    merge.get_peft_model, torch.load = peft_capture, load_training_checkpoint
    try:
        merge.main(["--version", str(base), "--weight", str(weight), "--save_path", str(merged),
                    "--vision_pretrained", str(sam_path), "--vision-tower", str(clip_dir), "--precision", "fp32"])
    finally:
        merge.get_peft_model, torch.load = real_peft, real_load
    return merged


def load_like_chat(merged: Path, clip_dir: Path):
    """LISA ``chat.py`` lines 70-151 with ``--precision fp32`` (``.cuda()`` left out)."""
    from model.LISA import LISAForCausalLM
    from model.segment_anything.utils.transforms import ResizeLongestSide
    from transformers import AutoTokenizer, CLIPImageProcessor

    tokenizer = AutoTokenizer.from_pretrained(str(merged), cache_dir=None, model_max_length=512,
                                              padding_side="right", use_fast=False)
    tokenizer.pad_token = tokenizer.unk_token
    seg_idx = tokenizer("[SEG]", add_special_tokens=False).input_ids[0]
    model = LISAForCausalLM.from_pretrained(str(merged), low_cpu_mem_usage=True, vision_tower=str(clip_dir),
                                            seg_token_idx=seg_idx, torch_dtype=torch.float32)
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.bos_token_id = tokenizer.bos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.get_model().initialize_vision_modules(model.get_model().config)
    model.get_model().get_vision_tower().to(dtype=torch.float32)
    model = model.float()
    processor = CLIPImageProcessor.from_pretrained(model.config.vision_tower)
    transform = ResizeLongestSide(1024)
    model.eval()
    return model, tokenizer, seg_idx, processor, transform


def preprocess_like_chat(image_path: Path, processor, transform):
    """LISA ``chat.py`` lines 172-205."""
    import chat
    import cv2

    image_np = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
    image_clip = processor.preprocess(image_np, return_tensors="pt")["pixel_values"][0].unsqueeze(0).float()
    image = transform.apply_image(image_np)
    resize = image.shape[:2]
    sam = chat.preprocess(torch.from_numpy(image).permute(2, 0, 1).contiguous()).unsqueeze(0).float()
    return image_np, image_clip, sam, resize


def prompt_ids(tokenizer, turns: list[tuple[str, str]]) -> torch.Tensor:
    """LISA ``chat.py``'s prompt (llava_v1, ``<im_start><image><im_end>``), extended to later turns."""
    from model.llava import conversation as conversation_lib
    from model.llava.mm_utils import tokenizer_image_token
    from utils.utils import DEFAULT_IM_END_TOKEN, DEFAULT_IM_START_TOKEN, DEFAULT_IMAGE_TOKEN

    conv = conversation_lib.conv_templates["llava_v1"].copy()
    conv.messages = []
    for i, (role, text) in enumerate(turns):
        if i == 0:
            text = (DEFAULT_IMAGE_TOKEN + "\n" + text).replace(
                DEFAULT_IMAGE_TOKEN, DEFAULT_IM_START_TOKEN + DEFAULT_IMAGE_TOKEN + DEFAULT_IM_END_TOKEN)
        conv.append_message(conv.roles[0] if role == "user" else conv.roles[1], text)
    conv.append_message(conv.roles[1], "")
    return tokenizer_image_token(conv.get_prompt(), tokenizer, return_tensors="pt").unsqueeze(0)


def lm_logits(model, ids: torch.Tensor, image_clip) -> torch.Tensor:
    from model.llava.model.language_model.llava_llama import LlavaLlamaForCausalLM

    with torch.no_grad():
        return LlavaLlamaForCausalLM.forward(model, input_ids=ids, images=image_clip,
                                             attention_mask=torch.ones_like(ids)).logits[0]


def evaluate_forced(model, tokenizer, seg_idx, image_clip, sam, ids, resize, size):
    """Their ``evaluate()`` as shipped; a logits processor passed to its ``generate`` call bans EOS and
    special tokens and forces ``[SEG]`` at ``SEG_STEP`` (random weights would never emit it)."""
    from functools import partial

    from transformers import LogitsProcessor, LogitsProcessorList

    banned = sorted(set(tokenizer.all_special_ids) | {tokenizer.eos_token_id})

    class Force(LogitsProcessor):
        def __init__(self) -> None:
            self.step = 0

        def __call__(self, input_ids, scores):
            scores = scores.clone()
            scores[:, banned] = -float("inf")
            if self.step == SEG_STEP:
                scores[:] = -float("inf")
                scores[:, seg_idx] = 0.0
            else:
                scores[:, seg_idx] = -float("inf")
            self.step += 1
            return scores

    seen: dict[str, torch.Tensor] = {}

    def grab(_module, _args, kwargs, _out):
        seen["text_embeds"] = kwargs["text_embeds"].detach().clone()

    handle = model.model.visual_model.prompt_encoder.register_forward_hook(grab, with_kwargs=True)
    model.generate = partial(type(model).generate, model, logits_processor=LogitsProcessorList([Force()]))
    try:
        output_ids, pred_masks = model.evaluate(image_clip, sam, ids, [resize], [size], max_new_tokens=N_NEW,
                                                tokenizer=tokenizer)
    finally:
        handle.remove()
        del model.generate
    generated = output_ids[0, ids.shape[1]:].tolist()
    return generated, seen["text_embeds"][:, 0], pred_masks[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, required=True, help="patched LISA work tree")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    torch.manual_seed(args.seed)  # every initialisation their code does is then reproducible too
    work, checkout, image_path = args.work.resolve(), args.checkout.resolve(), args.image.resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)  # their scripts write ./vis_output
    add_paths(checkout)
    setup()

    clip_dir, sam_path = make_towers(work, args.seed)
    base = make_base(work, clip_dir, args.seed)
    merged = run_merge(work, base, clip_dir, sam_path, args.seed)
    model, tokenizer, seg_idx, processor, transform = load_like_chat(merged, clip_dir)
    full_dir = work / "full"
    model.save_pretrained(str(full_dir))
    tokenizer.save_pretrained(str(full_dir))

    image_np, image_clip, sam, resize = preprocess_like_chat(image_path, processor, transform)
    ids1 = prompt_ids(tokenizer, [("user", Q1)])
    with torch.no_grad():
        image_tokens = model.encode_images(image_clip)
    logits1 = lm_logits(model, ids1, image_clip)
    gen, seg_embed, mask_logits = evaluate_forced(model, tokenizer, seg_idx, image_clip, sam, ids1, resize,
                                                  image_np.shape[:2])
    ids2 = prompt_ids(tokenizer, [("user", Q1), ("assistant", A1), ("user", Q2)])
    logits2 = lm_logits(model, ids2, image_clip)

    tensors = {"image_clip": image_clip[0], "image_sam": sam[0], "image_tokens": image_tokens[0],
               "logits1": logits1, "logits2": logits2, "seg_embedding": seg_embed, "mask_logits": mask_logits}
    geometry = dict(GEOMETRY)
    geometry.pop("convnext")
    meta = {
        "model": "lisa", "versions": versions(), "seg_token_idx": seg_idx, "seg_source": "their evaluate()",
        "ids1": ids1[0].tolist(), "ids2": ids2[0].tolist(), "generated": gen, "seg_step": SEG_STEP,
        "dialogue1": [["user", Q1]], "dialogue2": [["user", Q1], ["assistant", A1], ["user", Q2]],
        "resize": list(resize), "original_size": list(image_np.shape[:2]),
        "merged": str(merged), "full": str(full_dir), "clip": str(clip_dir),
        "state_dict_keys": sorted(model.state_dict()), "geometry": geometry,
        "merged_config": json.loads((merged / "config.json").read_text()),
    }
    save_exchange(work / "authors_lisa.pt", tensors, meta)
    print(f"authors' LISA outputs written to {work / 'authors_lisa.pt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
