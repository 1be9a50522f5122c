"""CPU benchmark: MIRAS turn latency with our caches vs recomputing everything (the authors' way).

A small random-weight MIRAS with the real sequence geometry (576 CLIP tokens at 336 px, ConvNeXt at
768 px resized to 48x48, SAM at 1024 px) but narrow layers is saved in the authors' layout,
loaded with our loader, and run through a PRIST dialogue (prist_dev.json) on textcaps_hdmi.jpg.
Per turn:

* cached: image features and the SAM embedding come from the per-image cache, the KV prefix from
  the session cache (only the new tokens are prefilled), SAM only runs when ``[SEG]`` appears;
* recompute: exactly what ``MIRAS/chat.py`` does per turn -- one CLIP + ConvNeXt encode, one SAM
  encode (every turn, whether or not a mask is produced) and a prefill of the whole dialogue --
  and the mask decoder when ``[SEG]`` appears (theirs also runs it on an empty prompt otherwise,
  a negligible cost left out here).

Both paths use the model's own previous answers as history and the same greedy decoding; the last
turn forces one ``[SEG]``. Prints one JSON object: per-turn medians over ``--runs`` runs, the
encodes and prefilled positions each path did over one dialogue (``work_per_dialogue``), and the
ratio cached/recompute summed over turns 2..N (target <= 0.35).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tools.backends.vlm_common.engine import SegVLMPredictor  # noqa: E402
from tools.backends.vlm_common.generation import GenerationParams  # noqa: E402
from tools.backends.vlm_common.loader import load_model  # noqa: E402
from tools.backends.vlm_common.testing import (  # noqa: E402
    ForceTokens,
    save_authors_layout,
    tiny_config_dict,
    tiny_tokenizer,
)

PRIST_DEV = REPO / "data" / "prist" / "prist_dev.json"
HDMI_JPG = REPO / "data" / "photos" / "textcaps_hdmi.jpg"


def small_config(words: str) -> tuple[dict, object]:
    tok = tiny_tokenizer(extra_words=words)
    raw = tiny_config_dict("miras", len(tok), layers=4, hidden=256)
    raw["num_attention_heads"] = raw["num_key_value_heads"] = 8
    raw["mm_hidden_size"] = 64
    raw["mm_hidden_size_aux"] = 240
    raw["image_size_aux"] = 768
    raw["pixelrs"] = {
        "clip": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                     image_size=336, patch_size=14, projection_dim=64),
        "convnext": dict(depths=[1, 1, 1, 1], dims=[16, 32, 64, 128], image_size=768, feature_size=48),
        "sam": dict(name="vit_b", encoder_embed_dim=64, encoder_depth=2, encoder_num_heads=2,
                    encoder_global_attn_indexes=[1], image_size=1024, patch_size=16, window_size=14,
                    prompt_embed_dim=32, mask_in_chans=8, decoder_mlp_dim=64, decoder_num_heads=2,
                    iou_head_hidden_dim=32),
        "authors_assumed_image_tokens": 256,
    }
    raw["out_dim"] = 32
    return raw, tok


def run_dialogue(pred: SegVLMPredictor, image, sha, questions, *, cached: bool, max_new: int, session: str):
    """Run all turns; returns per-turn seconds and the answers."""
    history: list[tuple[str, str]] = []
    times, answers = [], []
    seg, eos = pred.seg_token_idx, pred.tokenizer.eos_token_id
    for i, q in enumerate(questions):
        history.append(("user", q))
        last = i == len(questions) - 1
        params = GenerationParams(max_new_tokens=max_new, logits_processor=(ForceTokens(seg, {1} if last else set(), ban=(eos,)),))
        t0 = time.perf_counter()
        # The authors encode CLIP + ConvNeXt and SAM once per turn, whether or not a mask is produced.
        entry = None if cached else pred.encode_for_turn(image, sha)
        out = pred.start_turn(image, sha, history, session_id=session if cached else "", params=params,
                              use_cache=cached, image_entry=entry).run()
        if out.seg_hidden is not None:
            pred.masks(image, sha, out.seg_hidden, use_cache=cached, image_entry=entry)
        times.append(time.perf_counter() - t0)
        answers.append(out.text)
        history.append(("assistant", out.text))
    return times, answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    dialogues = json.loads((PRIST_DEV).read_text())
    dialogue = next(d for d in dialogues if sum(t["from"] == "human" for t in d["dialogue"]) >= args.turns)
    questions = [t["value"] for t in dialogue["dialogue"] if t["from"] == "human"][: args.turns]
    words = " ".join(" ".join(t["value"] for t in d["dialogue"]) for d in dialogues[:20])
    words = words.replace("?", " ").replace(".", " ").replace(",", " ").replace("'", " ")
    image = np.array(Image.open(HDMI_JPG).convert("RGB"))
    sha = hashlib.sha256(image.tobytes()).hexdigest()

    raw, tok = small_config(words)
    with tempfile.TemporaryDirectory() as tmp:
        from tools.backends.vlm_common.config import SegVLMConfig
        from tools.backends.vlm_common.modeling import SegVLMForCausalLM

        cfg = SegVLMConfig.from_dict(raw, variant="miras")
        torch.manual_seed(0)
        model = SegVLMForCausalLM(cfg).eval()
        t0 = time.perf_counter()
        save_authors_layout(model, tok, raw, Path(tmp) / "ckpt", convnext_dir=Path(tmp) / "convnext")
        loaded = load_model(Path(tmp) / "ckpt", variant="miras", convnext=Path(tmp) / "convnext", progress=False)
        load_s = time.perf_counter() - t0

    pred = SegVLMPredictor(loaded)
    cached_runs, fresh_runs = [], []
    answers_match = True
    # Warm-up (allocator, kernels).
    run_dialogue(pred, image, sha, questions[:2], cached=False, max_new=4, session="")
    work: dict[str, dict[str, int]] = {}

    def counted(path: str, **kwargs):
        before = dict(pred.stats)
        result = run_dialogue(pred, image, sha, questions, max_new=args.max_new_tokens, **kwargs)
        work[path] = {k: pred.stats[k] - before[k] for k in before}
        return result

    for r in range(args.runs):
        pred.cache.clear()
        c_times, c_ans = counted("cached", cached=True, session=f"run{r}")
        f_times, f_ans = counted("recompute", cached=False, session="")
        answers_match &= c_ans == f_ans
        cached_runs.append(c_times)
        fresh_runs.append(f_times)

    def med(runs):
        return [statistics.median(run[i] for run in runs) for i in range(len(runs[0]))]

    c_med, f_med = med(cached_runs), med(fresh_runs)
    later_c, later_f = sum(c_med[1:]), sum(f_med[1:])
    result = {
        "benchmark": "miras_cpu_turn_latency",
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "config": {"llm_hidden": cfg.hidden_size, "llm_layers": cfg.llm.num_hidden_layers,
                   "image_tokens": cfg.num_image_tokens, "aux_size": cfg.aux.image_size if cfg.aux else None,
                   "sam_size": cfg.sam.image_size, "max_new_tokens": args.max_new_tokens, "turns": len(questions)},
        "runs": args.runs,
        "load_s": round(load_s, 3),
        "cached_turn_s_median": [round(x, 4) for x in c_med],
        "recompute_turn_s_median": [round(x, 4) for x in f_med],
        "turns_2_to_n_cached_s": round(later_c, 4),
        "turns_2_to_n_recompute_s": round(later_f, 4),
        "work_per_dialogue": work,
        "ratio_cached_over_recompute": round(later_c / later_f, 3),
        "target_ratio": 0.35,
        "same_answers": bool(answers_match),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
