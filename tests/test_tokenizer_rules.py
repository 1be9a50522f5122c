"""Prompt tokenization follows each model's own runtime: LISA's transformers 4.31 slow LLaMA tokenizer
drops the whitespace around added tokens and encodes every piece on its own; MIRAS's 4.36.2 keeps it
(both measured against the authors' code by scripts/parity)."""

from __future__ import annotations

import pytest
import sentencepiece as spm

from tools.backends.vlm_common.config import SegVLMConfig
from tools.backends.vlm_common.conversation import build_prompt, tokenize_prompt
from tools.backends.vlm_common.testing import sentencepiece_tokenizer, tiny_config_dict

CORPUS = ("A chat between a curious human and an artificial intelligence assistant.\n"
          "USER: What is the label on the laptop? ASSISTANT: Sure, it is the HDMI label.\n") * 3
DIALOGUE = [("user", "What is the label?"), ("assistant", "Sure, it is [SEG]."), ("user", "And this?")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("sp")


@pytest.fixture(scope="module")
def tok(folder):
    return sentencepiece_tokenizer(folder, CORPUS)


def _tokens(tok, ids):
    return [tok.convert_ids_to_tokens(i) if i >= 0 else "<image>" for i in ids]


def test_legacy_slow_rule_strips_whitespace_around_added_tokens(tok):
    prompt = build_prompt(DIALOGUE)
    legacy = _tokens(tok, tokenize_prompt(tok, prompt, rule="legacy_slow"))
    current = _tokens(tok, tokenize_prompt(tok, prompt, rule="current"))
    start, end, seg = legacy.index("<im_start>"), legacy.index("<im_end>"), legacy.index("[SEG]")
    assert legacy[start - 1] == ":" and legacy[end + 1] != "<0x0A>"  # "USER: <im_start>" and "<im_end>\n" lose the space
    assert legacy[seg - 1] != "▁"  # "it is [SEG]" loses the space before [SEG] ...
    assert legacy[seg + 1 : seg + 3] == ["▁", "."]  # ... and "." after it is encoded on its own, with its ▁
    assert legacy[legacy.index("</s>") + 1].startswith("▁")  # the piece after </s> gets its own ▁ prefix
    c_start, c_end = current.index("<im_start>"), current.index("<im_end>")
    assert current[c_start - 1] == "▁" and "<0x0A>" in current[c_end + 1 : c_end + 3]
    assert current[current.index("[SEG]") - 1] == "▁"
    assert legacy != current


def test_legacy_slow_pieces_are_what_sentencepiece_gives_on_its_own(tok, folder):
    sp = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    prompt = build_prompt([("user", "What is the label?")])
    ids = tokenize_prompt(tok, prompt, rule="legacy_slow")
    after = ids[ids.index(tok.convert_tokens_to_ids("<im_end>")) + 1 :]
    assert after == sp.encode("What is the label? ASSISTANT:")
    before = ids[1 : ids.index(tok.convert_tokens_to_ids("<im_start>"))]
    assert before == sp.encode(prompt.split("<im_start>")[0].rstrip())


def test_each_model_gets_its_runtime_rule():
    lisa = SegVLMConfig.from_dict(tiny_config_dict("lisa", 40), variant="lisa")
    miras = SegVLMConfig.from_dict(tiny_config_dict("miras", 40), variant="miras")
    assert (lisa.tokenizer_rule, miras.tokenizer_rule) == ("legacy_slow", "current")
