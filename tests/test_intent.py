"""Rule intent tracker: acts, intent updates, grounding from answers, robustness."""

from __future__ import annotations

import re

import pytest

from agent.intent import IntentTracker, RuleIntentTracker, TrackResult, target_phrase
from agent.types import Act, DialogueTurn, Evidence, Intent, IntentOp, IntentRevision, Relation

PRIST_FINAL_REQUESTS = [
    "Based on the conversation above, generate a segmentation that supports the answers.",
    "Using the conversation above, create a segmentation that validates the answers.",
    "Please use the conversation above to outline a segmentation that aligns with the answers provided.",
    "Segment the provided conversation to match the answers accordingly.",
    "Please segment the conversation above to align with the provided answers.",
    "Please structure the above conversation into segments that correspond to the answers.",
    "Segment the above conversation in a way that substantiates the answers.",
    "Please divide the conversation above to correspond with the given answers.",
    "Use the above dialogue to produce a segmentation that backs up the answers.",
    "Use the above conversation to create a segmentation that justifies the answers.",
    "Please use the above conversation to provide a segmentation that supports the answers.",
]


@pytest.fixture
def tracker() -> RuleIntentTracker:
    return RuleIntentTracker()


def track(tracker, text, intent=None, dialogue=None, turn=0, **kw) -> TrackResult:
    return tracker.track(
        intent=intent or Intent(), dialogue=dialogue or [], user_text=text, turn=turn, **kw
    )


def converse(tracker, turns):
    """Run user turns (str, or (user, answer) pairs) and return the results in order."""
    intent, dialogue, results = Intent(), [], []
    for i, step in enumerate(turns):
        user, answer = step if isinstance(step, tuple) else (step, None)
        result = tracker.track(intent=intent, dialogue=list(dialogue), user_text=user, turn=i)
        results.append(result)
        intent = result.intent
        dialogue.append(DialogueTurn(role="user", text=user, act=result.act))
        if answer:
            dialogue.append(DialogueTurn(role="assistant", text=answer))
    return results


def test_rule_tracker_follows_the_protocol(tracker):
    assert isinstance(tracker, IntentTracker)


# --------------------------------------------------------------------------- the HDMI conversation


@pytest.mark.parametrize("with_answers", [False, True])
def test_hdmi_conversation(tracker, with_answers):
    answers = [
        "The HDMI label is printed above the port on the side of the laptop.",
        "It says 'HDMI'.",
        "Here is the port next to the HDMI label.",
        "Here is the port on the right.",
    ]
    steps = [
        "find the HDMI label",
        "what does it say?",
        "now the port next to it",
        "no, the one on the right",
    ]
    turns = list(zip(steps, answers, strict=True)) if with_answers else steps
    r1, r2, r3, r4 = converse(tracker, turns)

    assert r1.act is Act.NEW_TARGET
    assert "HDMI" in r1.intent.target and "label" in r1.intent.target
    assert r1.intent.attributes["text"] == "HDMI"
    assert r1.intent.op is IntentOp.NEW

    assert r2.act is Act.EXPLAIN
    assert r2.intent.op is IntentOp.KEEP
    assert r2.intent.target == r1.intent.target
    assert r2.intent.attributes == r1.intent.attributes
    assert r2.intent.relations == r1.intent.relations

    assert r3.act is Act.NEW_TARGET
    assert r3.intent.target == "port"
    assert r3.intent.relations == [Relation(kind="next_to", anchor="HDMI label")]
    assert "text" not in r3.intent.attributes

    assert r4.act is Act.CORRECT
    assert r4.intent.op is IntentOp.CORRECT
    assert r4.intent.target == "port"
    assert r4.intent.attributes["position"] == "right"
    assert r4.intent.attributes["other"] == "yes"
    assert r4.intent.relations == r3.intent.relations
    assert target_phrase(r4.intent) == "port on the right next to the HDMI label"

    assert [h.op for h in r4.intent.history] == [
        IntentOp.NEW,
        IntentOp.KEEP,
        IntentOp.NEW,
        IntentOp.CORRECT,
    ]
    assert [h.turn for h in r4.intent.history] == [0, 1, 2, 3]


def test_not_the_logo_but_the_text_under_it(tracker):
    start = track(tracker, "find the logo").intent
    result = track(tracker, "not the logo, the text under it", intent=start, turn=1)
    assert result.act is Act.CORRECT
    assert result.intent.exclusions == ["logo"]
    assert result.intent.target == "text"
    assert result.intent.relations == [Relation(kind="below", anchor="logo")]
    assert result.intent.op is IntentOp.CORRECT


def test_history_grows_one_entry_per_turn_with_the_ops(tracker):
    results = converse(
        tracker,
        [
            "segment the red car",
            "the blue one",
            "why is it there?",
            "thanks",
            "no, the other one",
            "start over",
        ],
    )
    assert [r.act for r in results] == [
        Act.NEW_TARGET,
        Act.REFINE,
        Act.EXPLAIN,
        Act.CHITCHAT,
        Act.CORRECT,
        Act.RESET,
    ]
    history = results[-1].intent.history
    assert len(history) == 6
    assert [h.op for h in history] == [
        IntentOp.NEW,
        IntentOp.REFINE,
        IntentOp.KEEP,
        IntentOp.KEEP,
        IntentOp.CORRECT,
        IntentOp.RESET,
    ]
    assert [h.target for h in history] == ["car", "car", "car", "car", "car", None]
    assert history[1].attributes["colour"] == "blue"
    for i, r in enumerate(results):
        assert len(r.intent.history) == i + 1


# --------------------------------------------------------------------------- acts, several phrasings


@pytest.mark.parametrize(
    ("text", "target", "attrs", "relation"),
    [
        ("find the HDMI label", "HDMI label", {"text": "HDMI"}, None),
        ("segment the red car", "car", {"colour": "red"}, None),
        ("where is the TISSOT logo?", "TISSOT logo", {"text": "TISSOT"}, None),
        ("show me the port next to the label", "port", {}, ("next_to", "label")),
        ("highlight the second bottle", "bottle", {"ordinal": "second"}, None),
        ("can you find the 'EXIT' sign?", "'EXIT' sign", {"text": "EXIT"}, None),
        (
            "please select the biggest cup on the left",
            "cup",
            {"size": "biggest", "position": "left"},
            None,
        ),
        ("point out the logo above the door", "logo", {}, ("above", "door")),
        ("ok, now the small dark blue mug", "mug", {"size": "small", "colour": "dark blue"}, None),
        ("What label is visible on the large bottle?", "label on the large bottle", {}, None),
        ("mask the dog left of the bench", "dog", {}, ("left_of", "bench")),
        ("find the cable under the desk", "cable", {}, ("below", "desk")),
    ],
)
def test_new_target(tracker, text, target, attrs, relation):
    result = track(tracker, text)
    assert result.act is Act.NEW_TARGET
    assert result.intent.target == target
    for key, value in attrs.items():
        assert result.intent.attributes[key] == value
    if relation is None:
        assert result.intent.relations == []
    else:
        assert result.intent.relations == [Relation(kind=relation[0], anchor=relation[1])]
    assert result.intent.op is IntentOp.NEW
    assert result.reason


def test_new_target_replaces_attributes_relations_and_exclusions(tracker):
    old = Intent(
        target="cup",
        attributes={"colour": "red"},
        exclusions=["mug"],
        relations=[Relation(kind="on", anchor="table")],
    )
    result = track(tracker, "find the TISSOT logo", intent=old, turn=3)
    assert result.act is Act.NEW_TARGET
    assert result.intent.target == "TISSOT logo"
    assert result.intent.attributes == {"text": "TISSOT"}
    assert result.intent.relations == []
    assert result.intent.exclusions == []


def test_pronoun_anchor_resolves_to_the_current_target(tracker):
    current = Intent(target="HDMI label", attributes={"text": "HDMI"})
    for text in ["show me the port next to it", "now the port next to it", "the port beside that"]:
        result = track(tracker, text, intent=current, turn=1)
        assert result.act is Act.NEW_TARGET, text
        assert result.intent.relations == [Relation(kind="next_to", anchor="HDMI label")], text


def test_on_it_is_a_relation_but_a_fresh_place_stays_in_the_phrase(tracker):
    current = Intent(target="bottle")
    cap = track(tracker, "find the cap on it", intent=current, turn=1)
    assert cap.intent.target == "cap"
    assert cap.intent.relations == [Relation(kind="on", anchor="bottle")]
    label = track(tracker, "find the label on the jar", intent=current, turn=1)
    assert label.intent.target == "label on the jar"
    assert label.intent.relations == []


@pytest.mark.parametrize(
    ("text", "attrs"),
    [
        ("only the left one", {"position": "left"}),
        ("the bigger one", {"size": "bigger"}),
        ("just the text", {"part": "text"}),
        ("the red part", {"colour": "red"}),
        ("the smaller one please", {"size": "smaller"}),
        ("the left half", {"part": "left half"}),
        ("the third one", {"ordinal": "third"}),
        ("which one is the biggest?", {"size": "biggest"}),
        ("the blue car", {"colour": "blue"}),
    ],
)
def test_refine_keeps_the_target(tracker, text, attrs):
    current = Intent(
        target="car", attributes={"colour": "red"}, relations=[Relation(kind="on", anchor="road")]
    )
    result = track(tracker, text, intent=current, turn=2)
    assert result.act is Act.REFINE, result.reason
    assert result.intent.target == "car"
    assert result.intent.op is IntentOp.REFINE
    for key, value in attrs.items():
        assert result.intent.attributes[key] == value
    assert result.intent.relations[0] == Relation(kind="on", anchor="road")


@pytest.mark.parametrize(
    ("text", "target", "attrs", "exclusions"),
    [
        ("no, the other one", "car", {"other": "yes"}, []),
        ("no, the one on the right", "car", {"other": "yes", "position": "right"}, []),
        ("wrong, I meant the cable", "cable", {}, []),
        ("not the logo, the text under it", "text", {}, ["logo"]),
        ("nope, the left one", "car", {"other": "yes", "position": "left"}, []),
        ("that's not it", "car", {"other": "yes"}, []),
        ("no", "car", {"other": "yes"}, []),
        ("I meant the blue mug", "mug", {"colour": "blue"}, []),
        ("another one", "car", {"other": "yes"}, []),
        ("not the car, the truck", "truck", {}, ["car"]),
    ],
)
def test_correct(tracker, text, target, attrs, exclusions):
    current = Intent(target="car", attributes={"colour": "red"})
    result = track(tracker, text, intent=current, turn=1)
    assert result.act is Act.CORRECT, result.reason
    assert result.intent.op is IntentOp.CORRECT
    assert result.intent.target == target
    for key, value in attrs.items():
        assert result.intent.attributes[key] == value
    assert result.intent.exclusions == exclusions
    assert result.reason.startswith("correction")


def test_wrong_i_meant_replaces_attributes(tracker):
    result = track(
        tracker,
        "wrong, I meant the cable",
        intent=Intent(target="car", attributes={"colour": "red"}),
        turn=1,
    )
    assert result.intent.attributes == {}


@pytest.mark.parametrize(
    "text",
    [
        "what does it say?",
        "why is it important?",
        "what colour is it?",
        "how big is that?",
        "What is written on it?",
        "describe it",
        "Why is the label there?",
        "How does the placement of the label affect brand emphasis?",
        "What does the style of the label suggest?",
        "Does this label mention any flavor?",
    ],
)
def test_explain_keeps_the_intent(tracker, text):
    current = Intent(
        target="label",
        attributes={"text": "HDMI"},
        relations=[Relation(kind="on", anchor="laptop")],
    )
    result = track(tracker, text, intent=current, turn=1)
    assert result.act is Act.EXPLAIN, result.reason
    assert result.intent.op is IntentOp.KEEP
    assert result.intent.model_dump(exclude={"history", "op"}) == current.model_dump(
        exclude={"history", "op"}
    )


@pytest.mark.parametrize("template", PRIST_FINAL_REQUESTS)
def test_prist_final_requests_are_segment_requests(tracker, template):
    current = Intent(target="label on the large bottle", attributes={"text": "Sky Cola"})
    result = track(tracker, template, intent=current, turn=3)
    assert result.act is Act.SEGMENT_REQUEST
    assert result.intent.op is IntentOp.KEEP
    assert result.intent.target == current.target
    assert result.intent.attributes == current.attributes


@pytest.mark.parametrize("text", ["segment it", "please segment it now", "show me the mask"])
def test_short_segment_requests(tracker, text):
    result = track(tracker, text, intent=Intent(target="cup"), turn=1)
    assert result.act is Act.SEGMENT_REQUEST
    assert result.intent.target == "cup"


@pytest.mark.parametrize(
    "text",
    [
        "hi",
        "hello!",
        "thanks",
        "thank you so much",
        "ok cool",
        "great, thanks!",
        "bye",
        "who are you?",
        "🙂",
    ],
)
def test_chitchat(tracker, text):
    current = Intent(target="cup")
    result = track(tracker, text, intent=current, turn=1)
    assert result.act is Act.CHITCHAT
    assert result.intent.target == "cup"
    assert result.intent.op is IntentOp.KEEP


@pytest.mark.parametrize(
    "text",
    [
        "start over",
        "forget that",
        "reset",
        "ok, let's start again",
        "never mind",
        "clear everything",
    ],
)
def test_reset_clears_the_intent(tracker, text):
    current = Intent(
        target="port",
        attributes={"position": "right"},
        relations=[Relation(kind="next_to", anchor="HDMI label")],
        exclusions=["logo"],
        mask_id=7,
    ).revised(turn=0, op=IntentOp.NEW)
    result = track(tracker, text, intent=current, turn=1)
    assert result.act is Act.RESET
    intent = result.intent
    assert intent.target is None
    assert intent.attributes == {} and intent.relations == [] and intent.exclusions == []
    assert intent.mask_id is None
    assert intent.op is IntentOp.RESET
    assert [h.op for h in intent.history] == [IntentOp.NEW, IntentOp.RESET]


# --------------------------------------------------------------------------- grounding from answers


def test_first_question_names_the_target(tracker):
    result = track(tracker, "What label is visible on the large bottle?")
    assert result.act is Act.NEW_TARGET
    assert result.intent.target == "label on the large bottle"


def test_what_can_be_said_about_x_is_about_x(tracker):
    # "what is said/written on X" asks for the text; "what can be said about X" asks about X
    result = track(tracker, "What can be said about the reflection quality on the surface beneath the phone?")
    assert result.intent.target == "reflection quality on the surface"
    assert track(tracker, "what is written on the sign?").intent.target == "text on the sign"


def test_answer_fills_in_the_text_of_the_target(tracker):
    results = converse(
        tracker,
        [
            (
                "What label is visible on the large bottle?",
                "The label on the large bottle reads 'Sky Cola'.",
            ),
            (
                "Does the label mention any specific flavor or type?",
                "The label indicates it's a cola beverage.",
            ),
            PRIST_FINAL_REQUESTS[3],
        ],
    )
    assert [r.act for r in results] == [Act.NEW_TARGET, Act.EXPLAIN, Act.SEGMENT_REQUEST]
    final = results[-1].intent
    assert final.target == "label on the large bottle"
    assert final.attributes["text"] == "Sky Cola"
    assert target_phrase(final) == "'Sky Cola' label on the large bottle"
    assert results[1].intent.op is IntentOp.REFINE  # grounded from the answer
    assert "text from the answer" in results[1].reason


def test_generic_question_picks_the_target_from_the_answer(tracker):
    dialogue = [
        DialogueTurn(role="user", text="hi", act=Act.CHITCHAT),
        DialogueTurn(role="assistant", text="The label on the large bottle reads 'Sky Cola'."),
    ]
    result = track(tracker, "What does the style of the logo suggest?", dialogue=dialogue, turn=1)
    assert result.intent.target == "label on the large bottle"
    assert result.intent.attributes["text"] == "Sky Cola"


def test_placeholder_question_is_filled_by_the_answer(tracker):
    results = converse(
        tracker,
        [
            (
                "What elements near the bus suggest a road safety feature?",
                "Traffic cones are present near the bus.",
            ),
            ("How do these traffic cones indicate a hazard?", "They warn drivers."),
        ],
    )
    assert results[0].act is Act.NEW_TARGET
    assert results[1].act is Act.EXPLAIN
    assert results[1].intent.target.lower().startswith("traffic cones")


def test_answer_names_what_the_question_asked_for(tracker):
    results = converse(
        tracker,
        [
            ("What animal is depicted on the coin?", "A beaver is depicted on the coin."),
            ("Why is it significant?", "It is a national symbol."),
        ],
    )
    assert results[1].intent.target == "beaver on the coin"


def test_answer_adds_modifiers_and_colour(tracker):
    results = converse(
        tracker,
        [
            ("What figure is depicted on the label?", "The label features a devil-like figure."),
            ("What colour is the figure?", "The figure is mostly red."),
            PRIST_FINAL_REQUESTS[0],
        ],
    )
    assert results[1].intent.target == "devil-like figure on the label"
    assert results[-1].intent.attributes.get("colour") == "red"
    assert target_phrase(results[-1].intent) == "red devil-like figure on the label"


def test_answer_never_overwrites_the_users_text(tracker):
    results = converse(
        tracker, [("find the HDMI label", "The label reads 'USB'."), "what is it for?"]
    )
    assert results[-1].intent.attributes["text"] == "HDMI"


def test_later_where_question_about_another_thing_is_a_new_target(tracker):
    results = converse(tracker, [("find the cup", "Here is the cup."), "where is the TISSOT logo?"])
    assert results[1].act is Act.NEW_TARGET
    assert results[1].intent.target == "TISSOT logo"


@pytest.mark.parametrize(
    ("turns", "act", "target", "rule_off"),
    [
        (["find the bottle", "what does the label on the bottle say?"], Act.NEW_TARGET, "label on the bottle", "on_current"),
        (["find the menu board", "which item is the cheapest?"], Act.NEW_TARGET, "item", "which_names"),
        (["find the keys", "what is the star key for?"], Act.NEW_TARGET, "star key", "same_noun_more_words"),
    ],
)
def test_a_later_question_naming_a_more_specific_thing_moves_the_target(turns, act, target, rule_off):
    from agent.intent.focus import FocusOptions

    results = converse(RuleIntentTracker(), turns)
    assert results[-1].act is act and results[-1].intent.target == target
    assert "more specific" in results[-1].reason or "on the current" in results[-1].reason or "which" in results[-1].reason
    # with that rule off the question is about the current target
    off = converse(RuleIntentTracker(focus=FocusOptions(**{rule_off: False})), turns)
    assert off[-1].act is Act.EXPLAIN and off[-1].intent.target == results[0].intent.target


@pytest.mark.parametrize(
    "question",
    ["what colour is the big tank on it?", "how many roofs does it have?", "what is written on the rocket?", "is the rocket white?"],
)
def test_questions_about_the_current_target_keep_it(tracker, question):
    results = converse(tracker, ["now the rocket", question])
    assert results[1].act is Act.EXPLAIN and results[1].intent.target == "rocket"


def test_an_answer_whose_object_is_the_asked_thing_specifies_it(tracker):
    results = converse(
        tracker,
        [("What gesture is the cartoon character making?", "The character is giving a thumbs-up gesture."), "What might it imply?"],
    )
    assert results[1].intent.target == "thumbs-up gesture"


def test_a_negative_answer_grounds_nothing(tracker):
    # the runtime keeps the previous (empty) intent when the target is absent; the answer that
    # says so must not then become the target
    dialogue = [
        DialogueTurn(role="user", text="segment the cat", act=Act.NEW_TARGET),
        DialogueTurn(role="assistant", text="I don't see a cat in this image."),
    ]
    result = tracker.track(intent=Intent(), dialogue=dialogue, user_text="is there a pagoda?", turn=1)
    assert result.intent.target == "pagoda" and "from the answer" not in result.reason
    result = tracker.track(intent=Intent(), dialogue=dialogue, user_text="what colour is it?", turn=1)
    assert result.intent.target is None


def test_question_mentioning_the_current_target_is_explained(tracker):
    results = converse(
        tracker,
        [
            (
                "What brand name is visible inside the shoe?",
                "The brand name 'KEEN' is visible inside the shoe.",
            ),
            (
                "Where is the scorpion located in relation to the brand name 'KEEN'?",
                "It is above the logo.",
            ),
        ],
    )
    assert results[1].act is Act.EXPLAIN
    assert target_phrase(results[1].intent) == "brand name 'KEEN' inside the shoe"


# --------------------------------------------------------------------------- target_phrase


@pytest.mark.parametrize(
    ("intent", "phrase"),
    [
        (Intent(), ""),
        (
            Intent(
                target="car", attributes={"colour": "red", "size": "large", "ordinal": "second"}
            ),
            "second large red car",
        ),
        (Intent(target="port", attributes={"text": "HDMI"}), "'HDMI' port"),
        (Intent(target="HDMI label", attributes={"text": "HDMI"}), "HDMI label"),
        (Intent(target="text on the door", attributes={"text": "EXIT"}), "text 'EXIT' on the door"),
        (Intent(target="red sign", attributes={"colour": "red"}), "red sign"),
        (Intent(target="cup", attributes={"position": "top left"}), "cup at the top left"),
        (
            Intent(target="port", relations=[Relation(kind="left_of", anchor="HDMI label")]),
            "port left of the HDMI label",
        ),
        (
            Intent(target="spine", relations=[Relation(kind="next_to", anchor="'Black Swan'")]),
            "spine next to 'Black Swan'",
        ),
    ],
)
def test_target_phrase(intent, phrase):
    assert target_phrase(intent) == phrase


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script>",
        "find the <b>red</b> cup",
        "'; DROP TABLE intents; --",
        "SELECT * FROM masks WHERE 1=1",
        'Robert"); DELETE FROM turns;--',
        "{{7*7}} ${jndi:ldap://x}",
        "\x00\x1b[31m weird control",
        "…",
        "?!?!",
        "the the the of of of",
        "'unterminated quote",
        "СССР на монете",
    ],
)
def test_odd_text_does_not_crash_and_is_read_as_words(tracker, text):
    said = set(re.findall(r"\w+", text.lower()))
    for current in (Intent(), Intent(target="cup", attributes={"text": "X"})):
        result = track(tracker, text, intent=current, turn=1)
        assert isinstance(result.act, Act)
        assert len(result.intent.history) == 1
        if result.intent.target and result.intent.target != current.target:
            assert set(re.findall(r"\w+", result.intent.target.lower())) <= said


def test_html_is_kept_as_text_in_the_target(tracker):
    result = track(tracker, "find the <b>EXIT</b> sign")
    assert result.act is Act.NEW_TARGET
    assert "EXIT" in result.intent.target or result.intent.attributes.get("text") == "EXIT"


def test_empty_dialogue_and_empty_text(tracker):
    result = track(tracker, "")
    assert result.act is Act.CHITCHAT
    assert result.intent.target is None
    assert len(result.intent.history) == 1
    result = track(tracker, "   \n  ")
    assert result.act is Act.CHITCHAT


def test_question_without_anything_to_point_at(tracker):
    result = track(tracker, "what is this?")
    assert result.act is Act.EXPLAIN
    assert result.intent.target is None


def test_no_image_is_noted_in_the_reason(tracker):
    result = track(tracker, "find the cup", has_image=False)
    assert result.act is Act.NEW_TARGET
    assert "no image" in result.reason


def test_assistant_answer_with_seg_token_is_ignored(tracker):
    dialogue = [
        DialogueTurn(role="user", text="find the cup", act=Act.NEW_TARGET),
        DialogueTurn(role="assistant", text="Sure, the 'Sky Cola' bottle is [SEG]."),
    ]
    result = track(tracker, "what is it?", intent=Intent(target="cup"), dialogue=dialogue, turn=1)
    assert result.intent.target == "cup"
    assert result.intent.attributes == {}


def test_very_long_text_is_handled(tracker):
    """A 4000-character turn is tracked like its opening (the parser reads a bounded prefix)."""
    text = ("find the red car next to the HDMI label, not the blue one; " * 100)[:4000]
    dialogue = [DialogueTurn(role="user", text=text), DialogueTurn(role="assistant", text=text)]
    result = track(tracker, text, intent=Intent(target="car"), dialogue=dialogue, turn=1)
    short = track(tracker, text[:600], intent=Intent(target="car"), dialogue=dialogue, turn=1)
    assert isinstance(result.act, Act)
    assert result.act == short.act and result.intent.target == short.intent.target


# --------------------------------------------------------------------------- robustness, evidence


@pytest.mark.parametrize(
    "text",
    [
        "这是什么颜色？",
        "ما هذا الشيء الأحمر؟",
        "¿de qué raza es el perro?",
        "montre-moi la roue avant",
        "Что написано на табличке?",
        "\u200b\u200b\u200b",
        "e\u0301\u0301\u0301 n\u0303",
        "🙂🙂 👍",
        "\x00\x01\x02",
        "x" * 10_000,
        ("find the red cup " + "🙂" * 50 + " ") * 200,
    ],
)
def test_unicode_long_and_foreign_turns_never_crash(tracker, text):
    current = Intent(target="cup", attributes={"colour": "red"}).revised(turn=0, op=IntentOp.NEW)
    result = track(tracker, text, intent=current, turn=1)
    assert isinstance(result.act, Act)
    assert len(result.intent.history) == 2
    assert result.intent.history[-1].reason == result.reason


@pytest.mark.parametrize("text", ["这是什么颜色？", "¿de qué raza es el perro?", "finde den roten Ball"])
def test_a_turn_the_parser_cannot_read_keeps_the_intent_and_says_so(tracker, text):
    current = Intent(target="cup", attributes={"colour": "red"})
    result = track(tracker, text, intent=current, turn=1)
    assert result.act is Act.EXPLAIN and result.intent.op is IntentOp.KEEP
    assert result.intent.target == "cup" and result.intent.attributes == {"colour": "red"}
    assert result.reason.startswith("could not read this turn") and "kept the intent" in result.reason
    nothing = track(tracker, text)
    assert nothing.act is Act.CHITCHAT and nothing.intent.target is None


def test_typos_in_small_words_are_read_and_noted(tracker):
    result = track(tracker, "fnd teh red cup on the rigth")
    assert result.act is Act.NEW_TARGET and result.intent.target == "cup"
    assert result.intent.attributes == {"colour": "red", "position": "right"}
    assert "read 'fnd' as 'find'" in result.reason and "read 'rigth' as 'right'" in result.reason


def test_each_revision_records_the_words_that_caused_it(tracker):
    results = converse(
        tracker,
        [
            ("find the HDMI label", "The label reads 'HDMI 2.0'."),
            "now the port next to it",
            "no, the one on the left",
            "go back to the label",
        ],
    )
    first, port, left, back = (r.intent.history[-1] for r in results)
    assert {(e.role, e.words) for e in first.evidence} >= {("act", "find"), ("target", "the HDMI label")}
    assert all(e.turn == 0 and e.source == "user" for e in first.evidence)
    assert ("relation", "next to it") in {(e.role, e.words) for e in port.evidence}
    assert {(e.role, e.words) for e in left.evidence} >= {("act", "no"), ("position", "on the left")}
    assert [(e.turn, e.words) for e in back.evidence if e.source == "history"] == [(0, "HDMI label")]
    assert back.reason.startswith("back to an earlier target")
    assert results[-1].intent.target == "HDMI label" and results[-1].intent.attributes == {"text": "HDMI"}


def test_answer_evidence_names_the_answer(tracker):
    results = converse(
        tracker,
        [("What label is visible on the large bottle?", "The label on the large bottle reads 'Sky Cola'."), "why red?"],
    )
    evidence = results[-1].intent.history[-1].evidence
    assert ("answer", "text", "Sky Cola") in {(e.source, e.role, e.words) for e in evidence}


def test_count_and_part_attributes(tracker):
    assert track(tracker, "segment all the people").intent.attributes == {"count": "all"}
    assert track(tracker, "find both cups").intent.attributes == {"count": "2"}
    assert track(tracker, "highlight the two men").intent.attributes == {"count": "2"}
    assert track(tracker, "find the cups").intent.attributes == {"count": "all"}  # a plural command: all of them
    assert "count" not in track(tracker, "what cups are on the table?").intent.attributes  # a question's plural
    cup = Intent(target="cup")
    handle = track(tracker, "the handle of the cup", intent=cup, turn=1)
    assert (handle.act, handle.intent.target, handle.intent.attributes) == (Act.REFINE, "cup", {"part": "handle"})
    fresh = track(tracker, "now the handle of the mug", intent=cup, turn=1)
    assert (fresh.act, fresh.intent.target, fresh.intent.attributes) == (Act.NEW_TARGET, "mug", {"part": "handle"})
    half = track(tracker, "only the left half of it", intent=cup, turn=1)
    assert half.intent.attributes == {"part": "left half"} and half.intent.target == "cup"
    assert target_phrase(half.intent) == "left half of the cup"
    tie = track(tracker, "just his tie", intent=Intent(target="man"), turn=1)
    assert tie.intent.attributes == {"part": "tie"}
    assert target_phrase(Intent(target="cups", attributes={"count": "2", "colour": "red"})) == "two red cups"


# --------------------------------------------------------------------------- user reports


@pytest.mark.parametrize(
    ("text", "target", "attrs"),
    [
        ("segment the box", "box", {}),
        ("mask the dog", "dog", {}),
        ("ok, segment the box", "box", {}),
        ("outline the red car", "car", {"colour": "red"}),
        ("cut out the dog", "dog", {}),
        ("box the dog", "dog", {}),
        ("segment all the people", "people", {"count": "all"}),
    ],
)
def test_a_request_verb_the_tagger_reads_as_a_noun_is_still_a_request(tracker, text, target, attrs):
    # the small tagger reads "segment"/"mask"/"box" first in a turn as nouns, "cut" as a past form
    result = track(tracker, text)
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, target), result.reason
    for key, value in attrs.items():
        assert result.intent.attributes[key] == value


def test_a_noun_that_is_also_a_request_verb_stays_a_noun(tracker):
    result = track(tracker, "box next to the laptop")
    assert result.intent.target == "box"
    assert result.intent.relations == [Relation(kind="next_to", anchor="laptop")]


@pytest.mark.parametrize(
    "text",
    ["ok, return to the clock", "return to the clock", "now go back to the clock", "back to the clock",
     "switch back to the clock", "let's return to the clock"],
)
def test_return_phrasings_go_back_to_the_earlier_target(tracker, text):
    results = converse(tracker, ["find the clock", "where is the calendar?", text])
    assert (results[-1].act, results[-1].intent.target) == (Act.NEW_TARGET, "clock"), results[-1].reason
    assert results[-1].reason.startswith("back to an earlier target")


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("go back to the bicycle, just the front wheel", "front wheel"),
        ("back to the bicycle, only the right half of it", "right half"),
        ("ok, return to the bicycle, just the wheels", "wheels"),
        ("go back to the bicycle, the left half", "left half"),
    ],
)
def test_going_back_then_naming_a_part_keeps_the_part(tracker, text, part):
    *_, back = converse(tracker, ["select the bicycle", "now the bench", text])
    assert (back.act, back.intent.target) == (Act.NEW_TARGET, "bicycle"), back.reason
    assert back.intent.attributes == {"part": part}
    just = converse(tracker, ["select the bicycle", "now the bench", "go back to the bicycle", "just the front wheel"])[-1]
    assert (just.act, just.intent.target, just.intent.attributes) == (Act.REFINE, "bicycle", {"part": "front wheel"})


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("only the left side of it", "left"),
        ("the left side", "left"),
        ("the right side of the sofa", "right"),
        ("the left half", "left half"),
        ("only the top half of it", "top half"),
        ("the top left corner", "top left corner"),
        ("the top", "top"),
    ],
)
def test_side_and_half_words_are_the_parts_not_a_position(tracker, text, part):
    result = track(tracker, text, intent=Intent(target="sofa"), turn=1)
    assert (result.act, result.intent.target) == (Act.REFINE, "sofa"), result.reason
    assert result.intent.attributes == {"part": part}
    fresh = track(tracker, "find the left side of the car")
    assert (fresh.intent.target, fresh.intent.attributes) == ("car", {"part": "left"})


@pytest.mark.parametrize(
    ("text", "target", "attrs"),
    [
        ("mask both of the cat's eyes", "cat", {"part": "eyes", "count": "2"}),
        ("find both eyes of the cat", "cat", {"part": "eyes", "count": "2"}),
        ("find the man's tie", "man", {"part": "tie"}),
        ("find both of the cups", "cups", {"count": "2"}),
        ("highlight each of the windows", "windows", {"count": "all"}),
        ("find two of the dogs", "dogs", {"count": "2"}),
        ("find one of the cups", "cup", {}),
    ],
)
def test_partitives_and_possessive_parts(tracker, text, target, attrs):
    # "both of X", "two of X": X with that count; "the cat's eyes" is a part like "the eyes of the cat"
    result = track(tracker, text)
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, target), result.reason
    assert result.intent.attributes == attrs


def test_a_part_with_its_count_renders_the_count_on_the_part(tracker):
    eyes = track(tracker, "mask both of the cat's eyes").intent
    assert target_phrase(eyes) == "two eyes of the cat"
    assert target_phrase(Intent(target="car", attributes={"part": "wheels", "count": "all"})) == "wheels of the car"


@pytest.mark.parametrize(
    ("text", "attrs"),
    [
        ("mask both of the cat's eyes", {"part": "eyes", "count": "2"}),
        ("mask both of its eyes", {"part": "eyes", "count": "2"}),
        ("segment its tail", {"part": "tail"}),
        ("just two of them", {"count": "2"}),
    ],
)
def test_parts_and_counts_of_the_current_target_refine_it(tracker, text, attrs):
    result = track(tracker, text, intent=Intent(target="cat"), turn=1)
    assert (result.act, result.intent.target) == (Act.REFINE, "cat"), result.reason
    assert result.intent.attributes == attrs


def test_a_question_about_its_part_keeps_the_target(tracker):
    result = track(tracker, "what does its collar say?", intent=Intent(target="cat"), turn=1)
    assert (result.act, result.intent.target, result.intent.attributes) == (Act.EXPLAIN, "cat", {})


@pytest.mark.parametrize("opening", ["the taller man", "find the taller man"])
def test_a_new_count_of_the_same_noun_starts_a_fresh_selection(tracker, opening):
    _, other, both = converse(tracker, [opening, "not that one, the other one", "both men"])
    assert other.intent.attributes.get("other") == "yes" and other.intent.exclusions
    assert (both.act, both.intent.target) == (Act.NEW_TARGET, "men"), both.reason
    assert both.intent.attributes == {"count": "2"}
    assert both.intent.exclusions == [] and both.intent.relations == []
    cars = converse(tracker, ["find the red car", "all the cars"])[-1]
    assert (cars.act, cars.intent.target, cars.intent.attributes) == (Act.NEW_TARGET, "cars", {"count": "all"})


def test_the_same_count_of_the_same_noun_still_refines(tracker):
    left = converse(tracker, ["find the two men", "the two men on the left"])[-1]
    assert (left.act, left.intent.attributes) == (Act.REFINE, {"count": "2", "position": "left"})
    red = converse(tracker, ["find the cars", "the red cars"])[-1]
    assert (red.act, red.intent.attributes) == (Act.REFINE, {"count": "all", "colour": "red"})


# the Intent value itself ------------------------------------------------------------------------


def test_revised_records_the_whole_intent_and_shares_no_container():
    old = Intent(
        target="port", attributes={"colour": "black"}, relations=[Relation(kind="right_of", anchor="HDMI label")],
        exclusions=["logo"],
    )  # fmt: skip
    because = [Evidence(turn=3, words="small", role="size")]
    new = old.revised(turn=3, op=IntentOp.REFINE, evidence=because, attributes={"colour": "black", "size": "small"})
    assert new.op is IntentOp.REFINE and old.op is IntentOp.NEW and old.history == []
    assert new.history == [
        IntentRevision(
            turn=3, op=IntentOp.REFINE, target="port", attributes={"colour": "black", "size": "small"},
            relations=[Relation(kind="right_of", anchor="HDMI label")], exclusions=["logo"], reason="",
            evidence=because,
        )
    ]  # fmt: skip
    kept = new.revised(turn=4, op=IntentOp.KEEP, reason="rule")
    assert [(r.turn, r.op, r.reason) for r in kept.history] == [(3, IntentOp.REFINE, ""), (4, IntentOp.KEEP, "rule")]
    for container in ("attributes", "relations", "exclusions", "history"):
        assert getattr(kept, container) is not getattr(new, container), container
    kept.attributes["colour"] = "red"
    kept.relations.clear()
    kept.exclusions.append("cable")
    assert (new.attributes["colour"], len(new.relations), new.exclusions, len(new.history)) == ("black", 1, ["logo"], 1)
    assert kept.history[-1].exclusions == ["logo"]  # the entry is a copy too


def test_describe_phrases_the_intent():
    assert Intent().describe() == "(nothing yet)"
    assert Intent(target="cup", attributes={"colour": "red", "part": "handle"}).describe() == "red cup"
    full = Intent(
        target="port",
        attributes={"colour": "black", "size": "small", "position": "left", "ordinal": "second", "text": "HDMI"},
        relations=[Relation(kind="right_of", anchor="the label"), Relation(kind="on", anchor="the laptop")],
        exclusions=["logo", "cable"],
    )
    assert full.describe() == "second left small black port reading 'HDMI' right of the label on the laptop (not: logo, cable)"
    assert Intent(attributes={"size": "big"}, exclusions=["dog"]).describe() == "big (nothing yet) (not: dog)"


# --------------------------------------------------------------------------- reading rules (stop 15)
# Written while tuning on the first blind set (tests/intent_scenarios_blind.yaml); the phrasings
# below are other instances of each rule, not that set's turns.


@pytest.mark.parametrize(
    ("text", "act", "attrs"),
    [
        ("the red one 🔴", Act.REFINE, {"colour": "red"}),
        ("👉 the one on the right ✔️", Act.REFINE, {"position": "right"}),
        ("❤️❤️", Act.CHITCHAT, {}),
    ],
)
def test_emoji_are_taken_out_before_parsing(tracker, text, act, attrs):
    result = track(tracker, text, intent=Intent(target="balloon"), turn=1)
    assert (result.act, result.intent.target, result.intent.attributes) == (act, "balloon", attrs), result.reason


def test_a_turn_in_capitals_is_read_in_lower_case_but_printed_words_keep_theirs(tracker):
    shout = track(tracker, "FIND THE DOG ON THE LEFT")
    assert (shout.act, shout.intent.target, shout.intent.attributes) == (Act.NEW_TARGET, "dog", {"position": "left"})
    assert "read in lower case" in shout.reason
    label = track(tracker, "find the EXIT sign")
    assert label.intent.attributes.get("text") == "EXIT"


@pytest.mark.parametrize("text", ["¡mira el gato!", "c'est un chien ou un loup?", "wo ist der Hund?", "è un cane?"])
def test_other_languages_function_words_or_punctuation_keep_the_intent(tracker, text):
    result = track(tracker, text, intent=Intent(target="dog"), turn=1)
    assert (result.act, result.intent.target) == (Act.EXPLAIN, "dog"), result.reason
    assert result.reason.startswith("could not read this turn")


@pytest.mark.parametrize("text", ["the man with the hat", "come on, the dog on the left", "the De La Soul poster"])
def test_english_words_that_are_other_languages_function_words_stay_english(tracker, text):
    result = track(tracker, text)
    assert result.act is Act.NEW_TARGET, result.reason


@pytest.mark.parametrize("text", ["gracias!", "danke", "ciao", "muchas gracias", "danke schön", "merci beaucoup !"])
def test_borrowed_thanks_and_greetings_are_chitchat(tracker, text):
    """Alone, or in a short turn that is otherwise not English."""
    result = track(tracker, text, intent=Intent(target="dog"), turn=1)
    assert (result.act, result.intent.target) == (Act.CHITCHAT, "dog"), result.reason


@pytest.mark.parametrize(
    ("text", "attrs"),
    [
        ("the smallest", {"size": "smallest"}),
        ("just the third from the right", {"ordinal": "third", "position": "right"}),
        ("the last on the left please", {"ordinal": "last", "position": "left"}),
        ("green", {"colour": "green"}),
        ("right", None),  # an acknowledgement, not "the right one"
        ("taller", {"size": "taller"}),
        ("show me the white", {"colour": "white"}),
        ("all", {"count": "all"}),
        ("both", {"count": "2"}),
    ],
)
def test_an_attribute_without_its_noun_stands_for_one_of_the_current_things(tracker, text, attrs):
    current = Intent(target="boats", attributes={"count": "all"})
    result = track(tracker, text, intent=current, turn=1)
    if attrs is None:
        assert result.act is Act.CHITCHAT, result.reason
        return
    assert (result.act, result.intent.target) == (Act.REFINE, "boats"), result.reason
    assert {k: v for k, v in result.intent.attributes.items() if k != "count"} == {
        k: v for k, v in attrs.items() if k != "count"
    }
    if "count" in attrs:
        assert result.intent.attributes["count"] == attrs["count"]
    else:
        assert "count" not in result.intent.attributes  # one of them


@pytest.mark.parametrize("text", ["the cup on the left", "is it the biggest?", "the left half", "the top", "great"])
def test_an_attribute_with_its_noun_or_as_a_predicate_is_not_elided(tracker, text):
    result = track(tracker, text, intent=Intent(target="cup"), turn=1)
    assert " one'" not in result.reason, result.reason


def test_a_bare_phrase_with_a_question_mark_asks_as_the_phrase_does(tracker):
    other = converse(tracker, ["find the birds", "the one on the left", "and the other one?"])[-1]
    assert (other.act, other.intent.target) == (Act.CORRECT, "birds"), other.reason
    assert other.intent.attributes.get("other") == "yes"
    assert "position" not in other.intent.attributes  # another one is not where that one was
    kept = converse(tracker, ["find the red birds", "another one"])[-1]
    assert kept.intent.attributes.get("colour") == "red"  # a description stays


@pytest.mark.parametrize(
    ("text", "target", "excluded"),
    [
        ("find the cups and not the plates", "cups", "plates"),
        ("select the students but not the teacher", "students", "teacher"),
        ("everything but the sky", "everything", "sky"),
        ("highlight everyone except the driver", "everyone", "driver"),
    ],
)
def test_a_negated_conjunct_or_what_a_whole_leaves_out_is_an_exclusion(tracker, text, target, excluded):
    result = track(tracker, text)
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, target), result.reason
    assert result.intent.exclusions == [excluded]


@pytest.mark.parametrize(
    ("text", "excluded"),
    [
        ("without the lid", "lid"),
        ("except the green ones", "green bottles"),
        ("all but the broken one", "broken bottle"),
        ("minus the labels please", "labels"),
    ],
)
def test_an_exclusion_on_its_own_leaves_something_out_of_the_current_target(tracker, text, excluded):
    current = Intent(target="bottles", attributes={"count": "all"})
    result = track(tracker, text, intent=current, turn=1)
    assert (result.act, result.intent.target) == (Act.REFINE, "bottles"), result.reason
    assert result.intent.exclusions == [excluded]


def test_leaving_out_a_described_thing_leaves_out_only_that_thing(tracker):
    result = track(tracker, "leave out the man in black", intent=Intent(target="people"), turn=1)
    assert result.intent.exclusions == ["man in black"]


@pytest.mark.parametrize("text", ["segment them all", "mask those both", "ok outline them all please"])
def test_a_quantifier_floated_after_the_pronoun_still_points_back(tracker, text):
    current = Intent(target="ducks", attributes={"count": "all"})
    result = track(tracker, text, intent=current, turn=1)
    assert (result.act, result.intent.target) == (Act.SEGMENT_REQUEST, "ducks"), result.reason


def test_a_bare_phrase_naming_its_part_with_a_question_mark_asks_for_the_part(tracker):
    lid = track(tracker, "and its lid?", intent=Intent(target="teapot"), turn=1)
    assert (lid.act, lid.intent.target, lid.intent.attributes) == (Act.REFINE, "teapot", {"part": "lid"})
    asked = track(tracker, "what is its lid made of?", intent=Intent(target="teapot"), turn=1)
    assert (asked.act, asked.intent.attributes) == (Act.EXPLAIN, {})


def test_a_request_verb_after_a_possessive_is_a_noun(tracker):
    result = track(tracker, "its colour?", intent=Intent(target="teapot"), turn=1)
    assert (result.act, result.intent.target) == (Act.EXPLAIN, "teapot"), result.reason


def test_going_back_to_the_first_one_or_by_a_generic_noun(tracker):
    turns = ["find the red kite", "now the tree", "and the bench", "go back to the original one"]
    assert converse(tracker, turns)[-1].intent.target == "kite"
    turns = ["find the red kite", "now the tree", "and the bench", "back to the previous one"]
    assert converse(tracker, turns)[-1].intent.target == "tree"
    back = converse(tracker, ["find the red kite", "now the tree", "ok back to the red object"])[-1]
    assert (back.act, back.intent.target, back.intent.attributes) == (Act.NEW_TARGET, "kite", {"colour": "red"})


def test_the_other_side_of_an_anchor_flips_the_relation(tracker):
    first, other = converse(tracker, ["find the chair to the right of the table", "no, the one on the other side of the table"])
    assert [(r.kind, r.anchor) for r in first.intent.relations] == [("right_of", "table")]
    assert (other.act, other.intent.target) == (Act.CORRECT, "chair"), other.reason
    assert [(r.kind, r.anchor) for r in other.intent.relations] == [("left_of", "table")]
    above = converse(tracker, ["find the shelf above the desk", "the one on the other side of the desk"])[-1]
    assert [(r.kind, r.anchor) for r in above.intent.relations] == [("below", "desk")]


@pytest.mark.parametrize(
    ("text", "target"),
    [("outline the photos", "photos"), ("find the picture above the bed", "picture"), ("find the frames on the shelf", "frames on the shelf")],
)
def test_pictures_in_the_image_are_things_not_the_image(tracker, text, target):
    result = track(tracker, text)
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, target), result.reason
    image = track(tracker, "what is in the picture?", intent=Intent(target="dog"), turn=1)
    assert (image.act, image.intent.target) == (Act.EXPLAIN, "dog")


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("segment the oil can", "oil can"),
        ("find the trash can next to the door", "trash can"),
        ("where's the trash can?", "trash can"),
        ("what can you see?", None),
    ],
)
def test_a_can_that_governs_no_verb_is_the_noun(tracker, text, target):
    result = track(tracker, text)
    assert result.intent.target == target, result.reason


def test_the_current_noun_with_a_new_relation_narrows_it(tracker):
    result = track(tracker, "the bowl next to the kettle", intent=Intent(target="bowl"), turn=1)
    assert (result.act, result.intent.target) == (Act.REFINE, "bowl"), result.reason
    assert [(r.kind, r.anchor) for r in result.intent.relations] == [("next_to", "kettle")]
    assert "next_to kettle" in result.reason


@pytest.mark.parametrize("text", ["you did it!", "you are fast", "wow you're good at this"])
def test_a_remark_about_the_assistant_is_small_talk(tracker, text):
    result = track(tracker, text, intent=Intent(target="kite"), turn=1)
    assert (result.act, result.intent.target) == (Act.CHITCHAT, "kite"), result.reason


@pytest.mark.parametrize("text", ["you should look at the one on the left", "you missed the kite", "you picked the wrong one"])
def test_a_statement_to_the_assistant_that_asks_for_something_is_not_small_talk(tracker, text):
    result = track(tracker, text, intent=Intent(target="kite"), turn=1)
    assert result.act is not Act.CHITCHAT, result.reason


def test_saying_the_selection_is_something_else_is_a_correction(tracker):
    shadow = track(tracker, "hmm, that's a shadow", intent=Intent(target="cat"), turn=1)
    assert (shadow.act, shadow.intent.target) == (Act.CORRECT, "cat"), shadow.reason
    assert shadow.intent.attributes.get("other") == "yes"
    named = track(tracker, "this is a towel. show me the cat", intent=Intent(target="cat"), turn=1)
    assert (named.act, named.intent.target) == (Act.CORRECT, "cat"), named.reason
    right = track(tracker, "that's a cat", intent=Intent(target="cat"), turn=1)
    assert right.act is not Act.CORRECT
    asked = track(tracker, "is that a cat?", intent=Intent(target="dog"), turn=1)
    assert asked.act is Act.EXPLAIN


@pytest.mark.parametrize("text", ["same thing here", "do the same in this picture", "the same one again please", "highlight the same thing"])
def test_the_same_again_repeats_the_request_on_the_current_target(tracker, text):
    current = Intent(target="boat", attributes={"colour": "red"})
    result = track(tracker, text, intent=current, turn=1, has_mask=False)
    assert (result.act, result.intent.target, result.intent.attributes) == (
        Act.SEGMENT_REQUEST, "boat", {"colour": "red"}
    ), result.reason


def test_naming_the_current_target_again_without_a_mask_finds_it_afresh(tracker):
    current = Intent(target="boat", attributes={"other": "yes"})
    fresh = track(tracker, "now find the boat", intent=current, turn=1, has_mask=False)
    assert (fresh.act, fresh.intent.target, fresh.intent.attributes) == (Act.NEW_TARGET, "boat", {}), fresh.reason
    same_image = track(tracker, "now find the boat", intent=current, turn=1, has_mask=True)
    assert same_image.act is Act.REFINE
    narrower = track(tracker, "find the red boat", intent=current, turn=1, has_mask=False)
    assert narrower.act is Act.REFINE and narrower.intent.attributes.get("colour") == "red"


def test_an_answer_describes_but_does_not_rename_what_a_request_named(tracker):
    asked = converse(tracker, [("find the bag", "Here is the brown leather bag on the chair."), "what's the brand?"])
    assert [r.intent.target for r in asked] == ["bag", "bag"]
    question = converse(tracker, [("what logo is on the cup?", "The cup shows a Starbucks logo."), "is it green?"])
    assert question[-1].intent.target == "Starbucks logo on the cup"


@pytest.mark.parametrize(
    ("text", "target", "lemma_of_head"),
    [
        ("show me the ducks swimming in the pond", "ducks swimming in the pond", "duck"),
        ("find the man sitting on the bench", "man sitting on the bench", "man"),
        ("the Jameson branding", "Jameson branding", "branding"),
    ],
)
def test_a_participle_after_a_noun_describes_the_noun(tracker, text, target, lemma_of_head):
    result = track(tracker, text)
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, target), result.reason
    left = track(tracker, f"the {lemma_of_head} on the left", intent=result.intent, turn=1)
    assert left.act is Act.REFINE, left.reason  # the head noun is the noun, not the participle
    if lemma_of_head == "duck":
        assert result.intent.attributes == {"count": "all"}


def test_a_number_without_its_noun_is_that_many_of_the_current_things(tracker):
    current = Intent(target="cows", attributes={"count": "all"})
    result = track(tracker, "just the three on the right", intent=current, turn=1)
    assert (result.act, result.intent.target) == (Act.REFINE, "cows"), result.reason
    assert result.intent.attributes == {"count": "3", "position": "right"}
    red = track(tracker, "the red ones", intent=current, turn=1)
    assert red.intent.attributes == {"count": "all", "colour": "red"}  # "ones" itself says no number


@pytest.mark.parametrize(("text", "part"), [("only the back half", "back half"), ("just the front corner", "front corner")])
def test_depth_sides_belong_to_the_part(tracker, text, part):
    result = track(tracker, text, intent=Intent(target="bus"), turn=1)
    assert (result.act, result.intent.attributes) == (Act.REFINE, {"part": part}), result.reason


@pytest.mark.parametrize(("text", "size"), [("the smalest one", "smallest"), ("the thiner one", "thinner"), ("the talest", "tallest")])
def test_misspelt_grades_of_size_words_are_read(tracker, text, size):
    result = track(tracker, text, intent=Intent(target="tree"), turn=1)
    assert (result.act, result.intent.attributes.get("size")) == (Act.REFINE, size), result.reason


def test_an_excluded_placeholder_names_the_noun_it_stands_for_in_its_number(tracker):
    current = Intent(target="coffee mugs", attributes={"count": "all"})
    one = track(tracker, "except the blue one", intent=current, turn=1)
    assert one.intent.exclusions == ["blue mug"]
    ones = track(tracker, "without the blue ones", intent=current, turn=1)
    assert ones.intent.exclusions == ["blue mugs"]
    fresh = track(tracker, "select every chair except the one on the left", intent=Intent(target="dog"), turn=1)
    assert (fresh.intent.target, fresh.intent.exclusions) == ("chair", ["chair on the left"])


def test_not_before_a_placeholder_leaves_it_out(tracker):
    result = track(tracker, "not the blue one", intent=Intent(target="mugs", attributes={"count": "all"}), turn=1)
    assert result.intent.exclusions == ["blue mug"] and "colour" not in result.intent.attributes, result.reason


@pytest.mark.parametrize("text", ["hmm", "wow", "interesting", "so cute!", "hahaha", "nice one!", "very beautiful"])
def test_interjections_and_evaluative_adjectives_alone_are_remarks(tracker, text):
    result = track(tracker, text, intent=Intent(target="dog"), turn=1)
    assert (result.act, result.intent.target) == (Act.CHITCHAT, "dog"), result.reason


@pytest.mark.parametrize(("text", "act"), [("no", Act.CORRECT), ("purple", Act.REFINE), ("taller", Act.REFINE)])
def test_negations_and_attribute_words_alone_are_no_remarks(tracker, text, act):
    assert track(tracker, text, intent=Intent(target="dog"), turn=1).act is act


@pytest.mark.parametrize("text", ["wrong, it's the cup on the right", "no, we'll need the cup"])
def test_contractions_are_never_read_as_typos(tracker, text):
    result = track(tracker, text, intent=Intent(target="plate"), turn=1)
    assert "as 'its'" not in result.reason and "as 'well'" not in result.reason
    assert (result.act, result.intent.target) == (Act.CORRECT, "cup"), result.reason


@pytest.mark.parametrize(
    ("text", "attrs"),
    [
        ("the rightmost one", {"position": "right"}),
        ("the leftmost", {"position": "left"}),
        ("the smallest one of them", {"size": "smallest"}),
        ("the biggest of the pears", {"size": "biggest"}),
        ("the two of them", {"count": "2"}),
        ("one of them", {}),
    ],
)
def test_one_picked_from_the_current_set(tracker, text, attrs):
    result = track(tracker, text, intent=Intent(target="pears", attributes={"count": "all"}), turn=1)
    assert (result.act, result.intent.target, result.intent.attributes) == (Act.REFINE, "pears", attrs), result.reason


@pytest.mark.parametrize(("text", "target"), [("find the lime", "lime"), ("find the orange", "orange")])
def test_colour_words_that_name_things_stay_nouns(tracker, text, target):
    assert track(tracker, text, intent=Intent(target="cups"), turn=1).intent.target == target


@pytest.mark.parametrize("text", ["try again", "please retry", "redo it"])
def test_asking_for_another_attempt_is_a_correction(tracker, text):
    result = track(tracker, text, intent=Intent(target="kite"), turn=1)
    assert (result.act, result.intent.target, result.intent.attributes) == (Act.CORRECT, "kite", {"other": "yes"}), result.reason


@pytest.mark.parametrize(
    "text", ["you selected the sofa, I asked for the armchair", "I said the armchair", "no, I wanted the armchair"]
)
def test_restating_what_was_asked_for_is_a_correction(tracker, text):
    result = track(tracker, text, intent=Intent(target="sofa"), turn=1)
    assert (result.act, result.intent.target) == (Act.CORRECT, "armchair"), result.reason
    request = track(tracker, "I want the armchair", intent=Intent(target="sofa"), turn=1)
    assert (request.act, request.intent.target) == (Act.NEW_TARGET, "armchair")


@pytest.mark.parametrize(
    ("text", "excluded"),
    [("take out the boy", "boy"), ("get rid of the shadow", "shadow"), ("apart from the boy", "boy"), ("not including the boy", "boy")],
)
def test_more_ways_of_leaving_something_out(tracker, text, excluded):
    result = track(tracker, text, intent=Intent(target="people", attributes={"count": "all"}), turn=1)
    assert (result.act, result.intent.target, result.intent.exclusions) == (Act.REFINE, "people", [excluded]), result.reason


@pytest.mark.parametrize(("text", "attrs"), [("narrow it down to the red ones", {"colour": "red"}), ("keep only the left one", {"position": "left"})])
def test_narrowing_verbs_refine(tracker, text, attrs):
    result = track(tracker, text, intent=Intent(target="apples", attributes={"count": "all"}), turn=1)
    assert result.act is Act.REFINE and attrs.items() <= result.intent.attributes.items(), result.reason


def test_lets_do_and_the_one_before(tracker):
    assert track(tracker, "let's do the bench now", intent=Intent(target="tree"), turn=1).intent.target == "bench"
    back = converse(tracker, ["find the dog", "now the cat", "and the bird", "the one before"])[-1]
    assert (back.act, back.intent.target) == (Act.NEW_TARGET, "cat"), back.reason


@pytest.mark.parametrize(
    ("text", "act", "target"),
    [
        ("perfect, thank you. now the lamp", Act.NEW_TARGET, "lamp"),
        ("ok. is it switched on?", Act.EXPLAIN, "sofa"),
        ("does it fold? highlight the cushion", Act.NEW_TARGET, "cushion"),
        ("No. The other one", Act.CORRECT, "sofa"),
    ],
)
def test_in_a_turn_of_several_sentences_the_request_decides(tracker, text, act, target):
    result = track(tracker, text, intent=Intent(target="sofa"), turn=1)
    assert (result.act, result.intent.target) == (act, target), result.reason


def test_a_question_then_a_pointing_request_is_read_whole(tracker):
    result = track(tracker, "which of the two cats is older? segment it")
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "cat"), result.reason


def test_one_of_the_things_named_together(tracker):
    both, one = converse(tracker, ["find the knife and fork", "only the fork"])
    assert both.intent.target == "knife and fork"
    assert (one.act, one.intent.target) == (Act.REFINE, "fork"), one.reason
    cat = converse(tracker, ["show me the dog and the cat", "just the cat"])[-1]
    assert (cat.act, cat.intent.target) == (Act.REFINE, "cat")


def test_how_about_is_what_about(tracker):
    result = track(tracker, "how about the goat?", intent=Intent(target="sheep"), turn=1)
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "goat"), result.reason


def test_not_that_instance_rejects_the_instance_not_the_noun(tracker):
    result = track(tracker, "not that bird", intent=Intent(target="bird"), turn=1)
    assert (result.act, result.intent.target) == (Act.CORRECT, "bird"), result.reason
    assert result.intent.attributes.get("other") == "yes" and result.intent.exclusions == ["that bird"]


def test_how_many_of_the_current_noun_is_about_it(tracker):
    result = track(tracker, "how many kids are there?", intent=Intent(target="kids", attributes={"count": "all"}), turn=1)
    assert (result.act, result.intent.target) == (Act.EXPLAIN, "kids"), result.reason


@pytest.mark.parametrize(
    ("text", "target"),
    [("the wooden one", "wooden chair"), ("the round one instead", "round chair"), ("the red one", "chairs")],
)
def test_a_placeholder_with_a_descriptive_word_describes_the_current_noun(tracker, text, target):
    result = track(tracker, text, intent=Intent(target="chairs", attributes={"count": "all"}), turn=1)
    assert (result.act, result.intent.target) == (Act.REFINE, target), result.reason
    again = track(tracker, "no, the broken one", intent=result.intent, turn=2)
    assert (again.act, again.intent.target) == (Act.CORRECT, "broken chair"), again.reason  # "wooden" does not stay


def test_it_is_not_x_it_is_y_is_a_correction(tracker):
    result = track(tracker, "it's not the monitor, it's the TV", intent=Intent(target="monitor"), turn=1)
    assert (result.act, result.intent.target) == (Act.CORRECT, "TV"), result.reason
    assert "text" not in result.intent.attributes  # an acronym names the thing
    assert result.intent.exclusions == ["monitor"]


def test_everything_has_no_parts(tracker):
    result = track(tracker, "only the sky", intent=Intent(target="everything", exclusions=["clouds"]), turn=1)
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "sky"), result.reason


def test_and_x_after_leaving_something_out_leaves_it_out_too(tracker):
    *_, more = converse(tracker, ["highlight every apple", "leave out the green ones", "and the bruised one"])
    assert (more.act, more.intent.target) == (Act.REFINE, "apple"), more.reason
    assert more.intent.exclusions == ["green apple", "bruised apple"]
    narrowed = converse(tracker, ["highlight every apple", "the red ones", "and the big one"])[-1]
    assert narrowed.intent.exclusions == []


@pytest.mark.parametrize(
    ("text", "relations", "attrs"),
    [
        ("it's on the shelf", [("on", "shelf")], {}),
        ("they are next to the sofa", [("next_to", "sofa")], {}),
        ("it's at the top", [], {"position": "top"}),
    ],
)
def test_saying_where_the_target_is_narrows_it(tracker, text, relations, attrs):
    result = track(tracker, text, intent=Intent(target="books"), turn=1)
    assert result.act is Act.REFINE, result.reason
    assert [(r.kind, r.anchor) for r in result.intent.relations] == relations and result.intent.attributes == attrs


@pytest.mark.parametrize("text", ["I can't see it", "it's not on the shelf?", "is it on the shelf?"])
def test_statements_and_questions_about_where_it_is_do_not_request(tracker, text):
    result = track(tracker, text, intent=Intent(target="books"), turn=1)
    assert result.act in {Act.EXPLAIN, Act.CORRECT} and not result.intent.relations, result.reason


@pytest.mark.parametrize("text", ["ありがとう", "merci beaucoup"])
def test_a_word_or_two_of_another_language_without_a_question_is_small_talk(tracker, text):
    result = track(tracker, text, intent=Intent(target="gondola"), turn=1)
    assert (result.act, result.intent.target) == (Act.CHITCHAT, "gondola"), result.reason


@pytest.mark.parametrize(
    "text",
    [
        "okay um scratch all that let's start from scratch",
        "Hmm, it missed a few I think. Let's wipe the slate clean.",
        "please we erase everything and begin new",
    ],
)
def test_reset_idioms_anywhere_in_the_turn_clear_the_intent(tracker, text):
    result = track(tracker, text, intent=Intent(target="flamingos"), turn=1)
    assert (result.act, result.intent.target) == (Act.RESET, None), result.reason


@pytest.mark.parametrize(
    ("text", "act", "target"),
    [
        # a story the user tells of themselves or their own people keeps the target
        ("I almost lost my sunglasses in the sand lol", Act.CHITCHAT, "boat"),
        ("the boats here are very old, my grandfather was fisherman", Act.CHITCHAT, "boat"),
        ("we have the same curtains too, my mum picked them", Act.CHITCHAT, "boat"),
        # the past tense about the selection, or of what was asked for, is no story
        ("it was the wrong one", Act.CORRECT, "boat"),
        ("I asked for the dog", Act.CORRECT, "dog"),
    ],
)
def test_a_story_in_the_past_tense_keeps_the_target_and_nothing_else_is_one(tracker, text, act, target):
    result = track(tracker, text, intent=Intent(target="boat"), turn=1)
    assert (result.act, result.intent.target) == (act, target), result.reason


def test_an_aside_before_the_request_leaves_the_request_to_decide(tracker):
    result = track(tracker, "Oh I love this one! Could you find the peacock please?")
    assert (result.act, result.intent.target) == (Act.NEW_TARGET, "peacock"), result.reason
    # a leading "no" is no aside: the turn stays a correction
    no = track(tracker, "no. find the peacock", intent=Intent(target="swan"), turn=1)
    assert no.act is Act.CORRECT, no.reason
