"""Rule tracker: general reading rules for terse, chatty, non-native and dictated turns.

Each rule is tested in its own phrasing (none of these turns is taken from a scenario file):
typos and short forms of words the pipeline does not know, chat reactions, confirmations,
requests put as "can I see" / "can you do", pronouns and demonstratives, and the like.
"""

from __future__ import annotations

import pytest

from agent.intent import RuleIntentTracker, TrackResult
from agent.intent.spelling import distance, fix_typo, unglued
from agent.types import Act, DialogueTurn, Intent


@pytest.fixture(scope="module")
def tracker() -> RuleIntentTracker:
    return RuleIntentTracker()


def track(tracker: RuleIntentTracker, text: str, intent: Intent | None = None, **kw) -> TrackResult:
    return tracker.track(intent=intent or Intent(), dialogue=[], user_text=text, turn=1, **kw)


def converse(tracker: RuleIntentTracker, turns: list[str]) -> list[TrackResult]:
    intent, dialogue, results = Intent(), [], []
    for i, user in enumerate(turns):
        result = tracker.track(intent=intent, dialogue=list(dialogue), user_text=user, turn=i)
        results.append(result)
        intent = result.intent
        dialogue.append(DialogueTurn(role="user", text=user, act=result.act))
    return results


# --------------------------------------------------------------------------- spelling


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("chiar", "chair"),  # two neighbouring letters swapped, an open-class word
        ("umbrela", "umbrella"),  # one letter left out, an open-class word of six letters or more
        ("skatebaord", "skateboard"),
        ("hwo", "how"),  # "how" and "who" are both one swap away: the first letter decides
        ("higlight", "highlight"),  # one of the tracker's own words
        ("televison", "television"),
        ("airpods", None),  # no known word that close: left as typed
        ("clownfish", None),  # two words written as one ("clown" + "fish"), not "clownish"
        ("burgr", "burger"),  # a vowel dropped by a fast typist, where three consonants meet
        ("othr", "other"),
        ("audi", None),  # no consonant cluster: a name, not a dropped vowel ("audio")
        ("toothbrush", None),
        ("desc", "describe"),  # the beginning of exactly one request verb
        ("sel", "select"),
        ("hoodie", None),  # "foodie" would change the first letter
        ("perro", None),  # a five-letter word one substitution from a rare one ("perry")
    ],
)
def test_unknown_words_are_read_as_the_one_word_clearly_meant(typed, meant):
    fixed = fix_typo(typed)
    assert (fixed[0] if fixed else None) == meant


def test_the_edit_distance_counts_a_swap_of_neighbours_as_one_edit():
    assert distance("teh", "the") == 1 and distance("hilight", "highlight") == 2 and distance("cup", "cup") == 0


def test_a_request_of_typos_in_every_word_is_read(tracker):
    result = track(tracker, "plz outlien teh tabel")
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "table"), result.reason
    assert "read 'outlien' as 'outline'" in result.reason


def test_a_short_form_of_a_request_verb_is_the_request(tracker):
    result = track(tracker, "sel them", intent=Intent(target="plates"))
    assert (result.act, result.intent.target) == (Act.SEGMENT_REQUEST, "plates"), result.reason


# --------------------------------------------------------------------------- chat


@pytest.mark.parametrize("text", ["lmao", "hahahaha!", "kk", "yea"])
def test_laughter_and_chat_spellings_alone_are_chitchat(tracker, text):
    result = track(tracker, text, intent=Intent(target="kite"))
    assert (result.act, result.intent.target) == (Act.CHITCHAT, "kite"), result.reason


def test_laughter_inside_a_correction_is_left_out(tracker):
    result = track(tracker, "that's a spoon haha. I wanted the fork", intent=Intent(target="fork"))
    assert result.act is Act.CORRECT and result.intent.target == "fork", result.reason


# --------------------------------------------------------------------------- terse turns


@pytest.mark.parametrize(("text", "target"), [("kettle", "kettle"), ("saucer?", "saucer"), ("ladle next to stove", "ladle")])
def test_a_bare_noun_the_tagger_reads_as_another_class_is_the_thing_asked_for(tracker, text, target):
    result = track(tracker, text, intent=Intent(target="plate"))
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, target), result.reason


def test_a_bare_part_noun_with_only_is_a_part(tracker):
    result = track(tracker, "spout only", intent=Intent(target="teapot"))
    assert result.act is Act.REFINE and result.intent.attributes.get("part") == "spout", result.reason


@pytest.mark.parametrize(("text", "attrs"), [("rightmost only", {"position": "right"}), ("biggest only", {"size": "biggest"})])
def test_an_attribute_word_with_only_narrows(tracker, text, attrs):
    result = track(tracker, text, intent=Intent(target="apples"))
    assert (result.act, result.intent.target) == (Act.REFINE, "apples"), result.reason
    assert attrs.items() <= result.intent.attributes.items()


@pytest.mark.parametrize("text", ["they ripe?", "it broken?"])
def test_a_pronoun_and_what_is_said_of_it_without_a_copula_asks_about_the_target(tracker, text):
    result = track(tracker, text, intent=Intent(target="bananas"))
    assert (result.act, result.intent.target) == (Act.EXPLAIN, "bananas"), result.reason


def test_an_object_pronoun_the_parser_made_a_subject_is_not_part_of_the_target(tracker):
    result = track(tracker, "please get us the ladder of wood")
    assert result.act is Act.NEW_TARGET and result.intent.target in {"ladder", "ladder of wood"}, result.reason


# --------------------------------------------------------------------------- confirmations and pointing


@pytest.mark.parametrize("text", ["yep, this one", "yes her", "ok that's the correct one", "yeah those"])
def test_an_affirmative_with_only_pointing_words_confirms_the_selection(tracker, text):
    result = track(tracker, text, intent=Intent(target="girl"))
    assert (result.act, result.intent.target) == (Act.CHITCHAT, "girl"), result.reason


def test_an_affirmative_with_an_attribute_still_narrows(tracker):
    result = track(tracker, "yes, the taller one", intent=Intent(target="girl"))
    assert result.act is Act.REFINE and result.intent.attributes.get("size") == "taller", result.reason


@pytest.mark.parametrize("text", ["uh huh that's it", "hmm ok"])
def test_fillers_and_acknowledgements_are_chitchat(tracker, text):
    result = track(tracker, text, intent=Intent(target="girl"))
    assert result.act is Act.CHITCHAT, result.reason


@pytest.mark.parametrize(("text", "count"), [("now outline him", None), ("grab both of them", "2"), ("and again", None)])
def test_a_request_that_only_points_back_asks_for_the_tracked_thing(tracker, text, count):
    result = track(tracker, text, intent=Intent(target="boys"))
    assert (result.act, result.intent.target) == (Act.SEGMENT_REQUEST, "boys"), result.reason
    assert result.intent.attributes.get("count") == count


def test_a_demonstrative_with_another_noun_points_at_a_new_thing(tracker):
    result = track(tracker, "now select that lamp", intent=Intent(target="sofa"))
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "lamp"), result.reason


def test_a_demonstrative_generic_noun_names_a_thing_when_nothing_is_tracked(tracker):
    result = track(tracker, "what is this round object on the shelf?")
    assert result.act is Act.NEW_TARGET and result.intent.target and "object" in result.intent.target, result.reason


def test_a_demonstrative_with_the_current_noun_still_points_back(tracker):
    result = track(tracker, "is that lamp switched on?", intent=Intent(target="lamp"))
    assert (result.act, result.intent.target) == (Act.EXPLAIN, "lamp"), result.reason


# --------------------------------------------------------------------------- requests put as questions


def test_could_i_see_a_thing_asks_for_it(tracker):
    result = track(tracker, "could I see the chimney?", intent=Intent(target="roof"))
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "chimney"), result.reason


@pytest.mark.parametrize("text", ["could you do the teapot now?", "can you do the same for the teapot?"])
def test_doing_a_thing_asked_of_the_assistant_is_a_request_for_it(tracker, text):
    result = track(tracker, text, intent=Intent(target="cup"))
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "teapot"), result.reason


def test_a_request_for_a_part_by_a_possessive_is_a_part_even_as_a_question(tracker):
    result = track(tracker, "could you do only its handle?", intent=Intent(target="mug"))
    assert (result.act, result.intent.target) == (Act.REFINE, "mug"), result.reason
    assert result.intent.attributes.get("part") == "handle"


# --------------------------------------------------------------------------- corrections and leaving out


@pytest.mark.parametrize("text", ["it doesn't seem correct, could you retry?", "hm this does not look right", "can you try that again?"])
def test_a_denied_judgement_or_a_retry_is_a_correction(tracker, text):
    result = track(tracker, text, intent=Intent(target="owl"))
    assert (result.act, result.intent.target) == (Act.CORRECT, "owl"), result.reason


@pytest.mark.parametrize("text", ["also not the napkins", "also not include the napkins"])
def test_also_not_after_a_leave_out_continues_it(tracker, text):
    first = track(tracker, "leave out the forks", intent=Intent(target="cutlery", attributes={"count": "all"}))
    result = tracker.track(intent=first.intent, dialogue=[], user_text=text, turn=2)
    assert (result.act, result.intent.target) == (Act.REFINE, "cutlery"), result.reason
    assert "napkins" in result.intent.exclusions


@pytest.mark.parametrize("text", ["ok let's forget it", "let's start fresh"])
def test_lets_forget_and_start_fresh_reset(tracker, text):
    assert track(tracker, text, intent=Intent(target="owl")).act is Act.RESET


# --------------------------------------------------------------------------- counts


@pytest.mark.parametrize(("text", "count"), [("all bottles", "all"), ("all three bottles", "3"), ("outline each single bottle", "all")])
def test_a_quantifier_the_parser_did_not_read_as_a_determiner_is_the_count(tracker, text, count):
    result = track(tracker, text)
    assert result.intent.target in {"bottles", "bottle"} and result.intent.attributes.get("count") == count, result.reason


# --------------------------------------------------------------------------- clauses, pictures, emoji


def test_an_aside_of_the_speaker_is_no_part_of_the_target(tracker):
    result = track(tracker, "just the blue ones I think", intent=Intent(target="towels"))
    assert (result.act, result.intent.target) == (Act.REFINE, "towels"), result.reason
    assert result.intent.attributes.get("colour") == "blue"


def test_a_relative_clause_that_only_says_where_is_the_place(tracker):
    result = track(tracker, "find the cushion which is next to the lamp")
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "cushion"), result.reason
    assert [(r.kind, r.anchor) for r in result.intent.relations] == [("next_to", "lamp")]
    refined = track(tracker, "the one what is on the left", intent=Intent(target="chairs"))
    assert (refined.act, refined.intent.target) == (Act.REFINE, "chairs"), refined.reason
    assert refined.intent.attributes.get("position") == "left"


def test_a_sentence_about_the_picture_before_a_request_is_left_out(tracker):
    result = track(tracker, "here is another picture. find the goat", intent=Intent(target="sheep"))
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "goat"), result.reason


def test_asking_where_the_target_is_on_a_new_image_finds_it_afresh(tracker):
    result = track(tracker, "new image. where is the goat now?", intent=Intent(target="goat", attributes={"size": "big"}))
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "goat"), result.reason


@pytest.mark.parametrize(("text", "target"), [("highlight the 🐈", "cat"), ("and my 🚗 please", "automobile")])
def test_an_emoji_after_a_determiner_is_the_noun_it_shows(tracker, text, target):
    result = track(tracker, text, intent=Intent(target="fence"))
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, target), result.reason


def test_an_emoji_before_its_noun_is_decoration(tracker):
    result = track(tracker, "the 👉 one", intent=Intent(target="fence"))
    assert result.intent.target == "fence", result.reason


def test_a_request_object_without_an_article_is_a_thing(tracker):
    result = track(tracker, "show me sign near the road")
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "sign"), result.reason


@pytest.mark.parametrize("text", ["the entire thing", "the whole mug again"])
def test_the_whole_thing_undoes_a_part(tracker, text):
    result = track(tracker, text, intent=Intent(target="mug", attributes={"part": "handle"}))
    assert (result.act, result.intent.target) == (Act.REFINE, "mug"), result.reason
    assert "part" not in result.intent.attributes


def test_a_where_question_that_places_the_target_keeps_it(tracker):
    current = Intent(target="logo on the sign")
    result = track(tracker, "where is the logo located among the signs?", intent=current)
    assert (result.act, result.intent.target) == (Act.EXPLAIN, "logo on the sign"), result.reason


def test_a_partitive_of_an_attribute_alone_counts_those_of_the_target(tracker):
    result = track(tracker, "how many of green are there?", intent=Intent(target="pears"))
    assert (result.act, result.intent.target) == (Act.EXPLAIN, "pears"), result.reason


@pytest.mark.parametrize("text", ["oh there are tons! how many are there?", "wow, lots. are they all ripe?"])
def test_a_quantity_noun_without_its_object_names_no_thing(tracker, text):
    result = track(tracker, text, intent=Intent(target="pears"))
    assert (result.act, result.intent.target) == (Act.EXPLAIN, "pears"), result.reason


def test_a_quantity_noun_with_its_object_names_the_object(tracker):
    result = track(tracker, "find lots of pears")
    assert result.act is Act.NEW_TARGET and result.intent.target and "pear" in result.intent.target, result.reason


@pytest.mark.parametrize("text", ["zoom in", "zoom in on it"])
def test_a_verb_with_its_particle_is_no_bare_noun(tracker, text):
    result = track(tracker, text, intent=Intent(target="cup"))
    assert result.intent.target == "cup" and "as 'the zoom'" not in result.reason, result.reason


@pytest.mark.parametrize("text", ["great, I like this 🙂", "wow look at the 😮"])
def test_a_smiley_is_never_read_as_a_noun(tracker, text):
    result = track(tracker, text, intent=Intent(target="fence"))
    assert "face" not in (result.intent.target or ""), result.reason


@pytest.mark.parametrize(("text", "target"), [("I can't find the remote, is it on the sofa?", "remote"), ("I don't see the exit", "exit")])
def test_saying_i_cannot_find_a_thing_asks_for_it(tracker, text, target):
    result = track(tracker, text, intent=Intent(target="lamp"))
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, target), result.reason


def test_saying_i_cannot_see_it_is_no_request_for_a_new_thing(tracker):
    result = track(tracker, "I can't see it", intent=Intent(target="lamp"))
    assert result.intent.target == "lamp" and result.act is not Act.NEW_TARGET, result.reason


# --------------------------------------------------------------------------- colours and lists


@pytest.mark.parametrize(
    ("text", "target", "colour"),
    [
        ("segment the grey kitten", "kitten", "grey"),  # read as the noun "grey" and a stray "kitten"
        ("show me the grey kitten", "kitten", "grey"),
        ("the white mug", "mug", "white"),
        ("segment the teal bowl", "bowl", "teal"),  # already an adjective: unchanged
    ],
)
def test_a_colour_the_tagger_read_as_a_noun_describes_the_noun_after_it(tracker, text, target, colour):
    result = track(tracker, text)
    assert result.act == Act.NEW_TARGET
    assert result.intent.target == target and result.intent.attributes.get("colour") == colour


@pytest.mark.parametrize(
    ("listed", "part_turn", "member"),
    [
        ("select the lemon and the lime", "only the top half of the lime", "lime"),
        ("segment the cup and the plate", "just the left half of the plate", "plate"),
        ("the man and his raft", "only the left half of the raft", "raft"),
    ],
)
def test_a_part_of_one_listed_thing_narrows_the_target_to_it(tracker, listed, part_turn, member):
    first, second = converse(tracker, [listed, part_turn])
    assert first.act == Act.NEW_TARGET and " and " in (first.intent.target or "")
    assert second.act == Act.REFINE
    assert second.intent.target == member and "half" in second.intent.attributes["part"]


def test_a_part_of_it_keeps_a_listed_target_whole(tracker):
    first, second = converse(tracker, ["select the mug and the lamp", "only the top half of it"])
    assert second.intent.target == first.intent.target


# --------------------------------------------------------------------------- long turns and remarks


@pytest.mark.parametrize(
    ("text", "target"),
    [
        (
            "we drove up to the lake on sunday and the weather was lovely all day long, "
            "anyway could you please highlight the red canoe",
            "canoe",
        ),
        (
            "My brother took this picture at his new flat last week. He asked me to tidy it. "
            "Can you find the laundry basket?",
            "laundry basket",
        ),
        ("so um yesterday we had a picnic in the park with the whole family and uh segment the blanket", "blanket"),
    ],
)
def test_a_request_buried_after_a_story_decides_the_turn(tracker, text, target):
    result = track(tracker, text)
    assert result.act == Act.NEW_TARGET and result.intent.target == target


def test_a_short_turn_keeps_its_first_request(tracker):
    # no story before it: "find the cup and then show me the lid" is read as a whole
    result = track(tracker, "find the cup and then highlight the lid")
    assert result.intent.target == "cup"


@pytest.mark.parametrize(
    "text",
    [
        "my daughter adores this zoo",
        "I hope your week is going well",
        "she'll be thrilled haha",
        "you're a star",
        "cheers, have a great weekend!",
        "I'm a teacher and I'm preparing a worksheet",
    ],
)
def test_a_remark_about_the_users_own_world_is_chitchat(tracker, text):
    cup = Intent(target="cup")
    assert track(tracker, text, cup, has_mask=True).act == Act.CHITCHAT


@pytest.mark.parametrize(
    "text",
    [
        "I need the blue folder",  # a want
        "they are behind the curtain",  # where the target is
        "she's the woman in the red coat",  # what the target is
        "I think it's the kettle",  # a hint
        "and the scarf he's wearing",  # a thing described by a clause
    ],
)
def test_wants_places_and_hints_are_not_remarks(tracker, text):
    cup = Intent(target="cup")
    assert track(tracker, text, cup, has_mask=True).act != Act.CHITCHAT


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("is there a kettle on the stove? highlight it", "kettle on the stove"),
        ("are there any ducks? mask them please", "ducks"),
    ],
)
def test_a_question_then_segment_it_asks_for_what_the_question_names(tracker, text, target):
    result = track(tracker, text, Intent(target="cup"), has_mask=True)
    assert result.act == Act.NEW_TARGET
    assert result.intent.target == target and result.intent.attributes.get("asked") == "exists"


def test_an_opener_is_no_modifier_of_the_thing_named(tracker):
    result = track(tracker, "fine, the teapot on the left then", Intent(target="cup"), has_mask=True)
    assert result.intent.target == "teapot"


def test_a_noun_that_is_also_a_request_verb_ends_a_name_not_a_request(tracker):
    # "box" is a request verb ("box the cat"); after a name it is the thing
    result = track(tracker, "now the yellow DHL box", Intent(target="cup"), has_mask=True)
    assert result.act == Act.NEW_TARGET and result.intent.target.endswith("box")


# --------------------------------------------------------------------------- places and the output


@pytest.mark.parametrize(
    ("text", "target", "attributes"),
    [
        # the side an ordinal counts from, hung on the verb by the parser
        ("pick the third goose from the right", "goose", {"ordinal": "third", "position": "right"}),
        ("grab the 2nd mug counting from the left", "mug", {"ordinal": "second", "position": "left"}),
        # superlatives of distance said the plain way
        ("mask the duckling furthest to the right", "duckling", {"position": "right"}),
        ("the kayak farthest left", "kayak", {"position": "left"}),
        # "sign down" and "top left" read as verbs by the parser
        ("highlight the little Exit sign down on the right", "Exit sign", {"position": "right"}),
        ("the vase in the top left", "vase", {"position": "top left"}),
        ("grab the light coloured towel", "light towel", {}),
    ],
)
def test_where_a_thing_is_counted_from_or_lies_is_kept(tracker, text, target, attributes):
    intent = track(tracker, text).intent
    assert intent.target == target
    assert {k: intent.attributes.get(k) for k in attributes} == attributes


def test_closest_to_the_camera_is_in_front(tracker):
    assert track(tracker, "the goat closest to the camera").intent.target == "goat in front"


@pytest.mark.parametrize("part", ["only the right-hand half of that mask", "now the top half of the selection", "the left half of your mask"])
def test_the_mask_itself_points_back_at_the_current_target(tracker, part):
    first, second = converse(tracker, ["segment the desk lamp", part])
    assert second.intent.target == first.intent.target == "desk lamp"
    assert second.intent.attributes.get("part", "").endswith("half")


def test_a_mask_someone_wears_is_still_a_thing(tracker):
    assert track(tracker, "the mask on the wall").intent.target == "mask on the wall"


@pytest.mark.parametrize(
    ("turns", "target", "attributes"),
    [
        (["segment the goat on the left", "no wait i meant the small one"], "goat", {"size": "small", "other": "yes"}),
        (["pick the third duck", "sorry wrong count, the fourth one"], "duck", {"ordinal": "fourth"}),
        (["select the kettle on the left period"], "kettle", {"position": "left"}),
    ],
)
def test_what_a_dictating_user_says_for_punctuation_is_not_a_thing(tracker, turns, target, attributes):
    intent = converse(tracker, turns)[-1].intent
    assert intent.target == target
    assert {k: intent.attributes.get(k) for k in attributes} == attributes


@pytest.mark.parametrize(
    "said",
    ["that's the reflection, not the swan", "you've still got a bit of the pole in there",
     "hmm it looks like you've included its shadow too", "only got half", "includes the rider, remove"],
)  # fmt: skip
def test_what_is_wrong_with_the_mask_corrects_the_current_target(tracker, said):
    first = track(tracker, "segment the swan by the jetty")
    second = track(tracker, said, first.intent, has_mask=True)
    assert second.act is Act.CORRECT and second.intent.target == first.intent.target
    assert track(tracker, said, first.intent, has_mask=False).act is not Act.CORRECT


@pytest.mark.parametrize(
    "said", ["ok now download the mask for me", "shade it in", "outline only", "both of them, separate masks please"]
)
def test_asks_about_the_answer_itself_keep_the_target(tracker, said):
    first, second = converse(tracker, ["segment the kayaks", said])
    assert second.act is Act.SEGMENT_REQUEST and second.intent.target == first.intent.target


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("selectthe", "select the"), ("ontheleft", "on the left"), ("isit", "is it"), ("clownfish", None), ("weddingcake", None)],
)
def test_words_run_together_are_split_when_one_is_a_function_word(typed, meant):
    assert unglued(typed) == meant


def test_glued_words_and_a_polite_way_back_are_read(tracker):
    results = converse(tracker, ["selectthe ladder pls", "theone ontheleft"])
    assert results[0].intent.target == "ladder" and results[1].intent.attributes.get("position") == "left"
    back = converse(tracker, ["segment the winner with the trophy", "now the referee", "Sorry, could we go back to the winner?"])
    assert back[-1].act is Act.NEW_TARGET and back[-1].intent.target == back[0].intent.target


@pytest.mark.parametrize("said", ["whole", "the whole truck again"])
def test_whole_after_a_part_is_the_whole_current_target(tracker, said):
    results = converse(tracker, ["segment the tow truck by the gate", "just the left half", said])
    assert results[-1].intent.target == results[0].intent.target and "part" not in results[-1].intent.attributes


@pytest.mark.parametrize(
    ("first", "then", "target"),
    [("the grown-up", "the one in the green shorts", "grown-up in the green shorts"),
     ("the t-shirt", "the one with stripes", "t-shirt with stripes")],
)
def test_a_hyphenated_target_keeps_its_spelling_when_the_one_is_described_anew(tracker, first, then, target):
    results = converse(tracker, [f"segment {first}", then])
    assert results[-1].intent.target == target


@pytest.mark.parametrize(("said", "target"), [("only the one furthest back", "furthest jet"), ("the jet farthest away", "farthest jet")])
def test_furthest_back_or_away_is_the_furthest_one(tracker, said, target):
    results = converse(tracker, ["select the three jets", said])
    assert results[-1].act is Act.REFINE and results[-1].intent.target == target


@pytest.mark.parametrize(("opener"), ["no wait,", "nope wait", "wait no,"])
def test_no_wait_opens_a_correction_that_says_what_is_wanted(tracker, opener):
    results = converse(tracker, ["mask the grey bus", f"{opener} i want the red one in front of it"])
    last = results[-1]
    assert last.act is Act.CORRECT
    assert last.intent.attributes.get("colour") == "red"
    assert [(r.kind, r.anchor) for r in last.intent.relations] == [("in_front_of", "grey bus")]


def test_no_as_a_quantifier_is_not_an_opener(tracker):
    result = track(tracker, "no dogs on the sofa please, just the cat")
    assert result.intent.target != "dogs on the sofa"


@pytest.mark.parametrize(
    ("said", "anchor"),
    [("mask the grey car parked just behind the red one", "red car"), ("the cup next to the big one", "big cup")],
)
def test_a_described_one_as_an_anchor_is_one_of_the_target_kind(tracker, said, anchor):
    result = track(tracker, said)
    assert [r.anchor for r in result.intent.relations] == [anchor]


@pytest.mark.parametrize(
    ("said", "target"),
    [("all the paper lanterns hanging along the top please, each one separate", "paper lanterns hanging along the top"),
     ("the man standing by the door pls", "man standing by the door")],
)
def test_please_inside_a_phrase_is_not_part_of_the_target(tracker, said, target):
    assert track(tracker, said).intent.target == target


@pytest.mark.parametrize(("said", "attribute", "value"), [("left half of it only", "part", "left half"), ("left one pls", "position", "left")])
def test_left_first_without_an_article_is_the_side_not_the_verb_leave(tracker, said, attribute, value):
    results = converse(tracker, ["segment the wooden box", said])
    assert results[-1].act is Act.REFINE and results[-1].intent.attributes.get(attribute) == value


@pytest.mark.parametrize(("said", "act"), [("slect the deckchiar", Act.NEW_TARGET), ("perfecct thnks", Act.CHITCHAT)])
def test_a_turn_whose_typos_fix_to_request_words_is_read_as_english(tracker, said, act):
    result = track(tracker, said, intent=Intent(target="umbrella"))
    assert result.act is act and "not English" not in result.reason, result.reason


def test_another_languages_function_word_near_an_english_one_does_not_make_a_turn_english(tracker):
    result = track(tracker, "trouve les fraises", intent=Intent(target="umbrella"))  # "les" is no typo of "less"
    assert "not English" in result.reason and result.intent.target == "umbrella"


@pytest.mark.parametrize("said", ["Ooh and the armchair next to it!", "aww and the armchair next to it", "wow, and the armchair next to it"])
def test_an_opening_exclamation_does_not_swallow_the_request(tracker, said):
    results = converse(tracker, ["the sofa", said])
    assert results[-1].act is Act.NEW_TARGET and results[-1].intent.target == "armchair"
    assert [(r.kind, r.anchor) for r in results[-1].intent.relations] == [("next_to", "sofa")]


def test_a_list_keeps_no_dangling_next_when_next_to_it_is_read_as_a_relation(tracker):
    result = track(tracker, "Could you find the shopping trolley and the basket next to it?")
    assert result.intent.target == "shopping trolley and the basket"


@pytest.mark.parametrize(("typed", "meant"), [("noo", "no"), ("pleeease", "please"), ("cooool", "cool"), ("yesss", "yes"), ("greeeen", "green")])
def test_a_letter_held_down_is_read_as_the_word(typed, meant):
    assert fix_typo(typed) == (meant, True)


def test_a_stretched_no_opens_a_correction(tracker):
    results = converse(tracker, ["slect the deckchair", "noo the othre one"])
    assert results[0].act is Act.NEW_TARGET and results[0].intent.target == "deckchair"
    assert results[1].act is Act.CORRECT and results[1].intent.attributes.get("other") == "yes"


@pytest.mark.parametrize(("said", "ordinal", "position"), [("2nd frm rght", "second", "right"), ("the 3rd one from left", "third", "left")])
def test_an_ordinal_in_digits_and_a_side_without_its_article_are_read(tracker, said, ordinal, position):
    results = converse(tracker, ["select the parking meters", said])
    last = results[-1]
    assert last.act is Act.REFINE and last.intent.target == "parking meters"
    assert (last.intent.attributes.get("ordinal"), last.intent.attributes.get("position")) == (ordinal, position)


def test_on_top_of_keeps_its_meaning(tracker):
    result = track(tracker, "the cat on top of the fridge")
    assert result.intent.target.startswith("cat") and result.intent.attributes.get("position") is None
