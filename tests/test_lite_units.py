"""Unit tests of the lite backend's parts: cue parsing, fuzzy text matching, colour naming, the byte LRU."""

from __future__ import annotations

import numpy as np
import pytest

from agent.cache import ByteLRU
from agent.types import Intent, IntentOp, Relation
from tools.backends.lite.colours import colour_map, dominant, histogram
from tools.backends.lite.cues import from_intent, parse_phrase, quoted, strip_relations
from tools.backends.lite.ocr import OcrWord, split_line
from tools.backends.lite.textmatch import TextQuery, match, similarity


def test_fuzzy_similarity():
    assert similarity("HDMI", "hdmi") == 1.0
    assert similarity("hdmi", "HDMI2.0") > 0.8
    assert similarity("H.D.M.I", "HDMI") == 1.0
    assert similarity("HDMl", "HDMI") >= 0.7  # an OCR l/I confusion
    assert similarity("port", "HDMI") < 0.5


def test_target_phrase_words_match_ocr_word():
    words = split_line("HDMI 2.0", np.array([[0, 0], [80, 0], [80, 20], [0, 20]]), 0.95, 0)
    cues = parse_phrase("the HDMI label")
    assert cues.text_noun and [q.text for q in cues.text] == ["HDMI"]
    found = match(cues.text, words)
    assert found and found[0].word.text == "HDMI" and not found[0].word.is_line
    assert found[0].word.box[2] < 45  # the word's own box, not the whole line


def test_split_line_word_boxes():
    words = split_line("Sky Cola", np.array([[10, 10], [90, 10], [90, 30], [10, 30]]), 0.9, 3)
    assert [w.text for w in words] == ["Sky Cola", "Sky", "Cola"]
    assert words[1].box[0] == 10 and words[2].box[2] == 90 and words[1].box[2] < words[2].box[0]
    assert OcrWord("x", ((0, 0), (1, 0), (1, 1), (0, 1)), 1.0, 0).to_evidence()["box"] == [
        0,
        0,
        1,
        1,
    ]


def test_quoted_words_ignore_apostrophes():
    assert quoted("the sign that says 'EXIT' over the door") == ["EXIT"]
    assert quoted("it's the user's cup") == []
    assert quoted('the "Sky Cola" label') == ["Sky Cola"]


def test_parse_colour_position_size_ordinal():
    c = parse_phrase("the second big grey box at the top left")
    assert (
        c.colours == ["gray"]
        and c.positions == ["top", "left"]
        and c.size == "big"
        and c.ordinal == 1
    )
    assert [q.text for q in c.text] == ["box"]


def test_from_intent_uses_attributes_and_relations():
    intent = Intent(
        target="port right of the HDMI label",
        attributes={
            "colour": "silver",
            "position": "right",
            "size": "smallest",
            "ordinal": "3",
            "other": "yes",
        },
        relations=[Relation(kind="right_of", anchor="the HDMI label")],
        exclusions=["the cup", " "],
    )
    cues = from_intent(intent)
    assert cues.target.phrase == "port"
    assert cues.target.colours == ["silver"] and cues.target.positions == ["right"]
    assert cues.target.size == "small" and cues.target.ordinal == 2 and cues.other
    assert cues.exclusions == ["the cup"]
    assert from_intent(Intent(target="x", op=IntentOp.CORRECT)).other


def test_strip_relations_keeps_head_noun():
    rel = [Relation(kind="left_of", anchor="the red cup")]
    assert strip_relations("the bottle left of the red cup", rel) == "the bottle"
    assert strip_relations("the red cup", rel) == "the red cup"


def test_half_of_previous_mask_is_a_part_cue():
    cues = from_intent(
        Intent(target="the left half of it", attributes={"position": "left"}, op=IntentOp.REFINE)
    )
    assert cues.part == "left"


def test_colour_map_names_basic_colours():
    swatches = {
        "red": (220, 30, 30), "green": (30, 160, 40), "blue": (30, 60, 210), "yellow": (230, 200, 20),
        "orange": (240, 130, 20), "purple": (120, 40, 170), "pink": (240, 150, 190), "brown": (110, 70, 30),
        "black": (10, 10, 10), "white": (245, 245, 245), "gray": (128, 128, 128),
    }  # fmt: skip
    for name, rgb in swatches.items():
        img = np.zeros((4, 4, 3), np.uint8)
        img[:] = rgb
        assert dominant(histogram(colour_map(img))) == name, name


def test_byte_lru_evicts_least_recently_used():
    cache = ByteLRU(max_bytes=2500)
    for key in "abc":
        cache.put(key, np.zeros(1000, np.uint8))
    assert len(cache) == 2
    assert cache.get("a") is None and cache.get("b") is not None
    cache.put("d", np.zeros(1000, np.uint8))  # b was used more recently than c
    assert "c" not in cache and "b" in cache and "d" in cache
    assert cache.total_bytes <= 2500
    cache.put("huge", np.zeros(10_000, np.uint8))
    assert "huge" not in cache and "b" in cache and cache.total_bytes <= 2500


def test_byte_lru_get_or_create_builds_once():
    cache = ByteLRU(max_bytes=10_000)
    built = []
    for _ in range(3):
        cache.get_or_create("k", lambda: built.append(1) or np.ones(10))
    assert built == [1] and cache.hits == 2 and cache.misses == 1


def test_text_query_threshold():
    words = split_line("EXIT", np.array([[0, 0], [40, 0], [40, 10], [0, 10]]), 0.9, 0)
    assert match([TextQuery("exlt", "attribute", 0.6)], words)
    assert not match([TextQuery("cat", "target", 0.8)], words)


def test_overlapping_instances_give_each_pixel_to_the_nearer_one():
    from tools.backends.lite.finder import Scored, _separate

    left, right = np.zeros((40, 100), bool), np.zeros((40, 100), bool)
    left[:, 0:60] = True  # the left person's box crop also caught the right one's shoulder
    right[:, 45:100] = True
    a, b = Scored(left.copy(), 0.9, "object"), Scored(right.copy(), 0.8, "object")
    _separate([a, b])
    assert not (a.mask & b.mask).any()
    assert (a.mask | b.mask).sum() == (left | right).sum()  # nothing dropped
    assert a.mask[:, :45].all() and b.mask[:, 60:].all()  # what only one claimed stays its own
    # the shared strip (x 45-59) is split near its middle, by distance to each centre
    assert a.mask[:, 45:52].all() and b.mask[:, 53:60].all()


def test_a_person_word_the_tagger_takes_for_an_adjective():
    from tools.backends.lite.categories import Vocabulary

    match = Vocabulary().match("the blonde on the right")
    assert match is not None and match.category == "person" and match.noun == "blonde"
    assert Vocabulary().match("the red one on the left") is None


@pytest.mark.parametrize(
    ("phrase", "size"),
    [("parking sign with the big P", None), ("boy holding the small dog", None), ("big parking sign", "big"),
     ("taller man", "tall"), ("shortest tree", "short")],
)  # fmt: skip
def test_a_size_word_after_with_or_holding_is_the_other_things(phrase, size):
    assert parse_phrase(phrase).size == size
