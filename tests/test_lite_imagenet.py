"""lite's ImageNet classes: nouns COCO lacks, weak COCO detections checked, the vocabulary's rules.

Real packaged models on real photos (EfficientNet-Lite3 through LiteRT, SSD-MobileNet, U²-Net-p)
scored against the hand-drawn masks of data/eval.
"""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from agent.errors import PixelrsError
from agent.types import Intent
from graphs.evalset import load_evalset
from tests.test_lite_objects import DATA, iou, photo, segment


@pytest.fixture(scope="module")
def drawn():
    dev = load_evalset(DATA / "eval" / "dev.json").objects
    test = load_evalset(DATA / "eval" / "test.json").objects
    return {**dev, **test}


@pytest.fixture(scope="module")
def vocabulary():
    from tools.backends.lite.classifier import read_labels
    from tools.backends.lite.imagenet import ImageNetVocabulary

    return ImageNetVocabulary(read_labels())


def test_the_classifier_reads_a_real_photo():
    from tools.backends.lite.classifier import ImageNetClassifier, read_labels

    rgb, _ = photo("chelsea.png")
    probs = ImageNetClassifier().probabilities(rgb)
    labels = read_labels()
    assert probs.shape == (1000,) and len(labels) == 1000
    assert "cat" in labels[int(np.argmax(probs))]
    assert probs[281:286].sum() > 0.5  # the domestic cats


@pytest.mark.parametrize(
    ("phrase", "noun", "has"),
    [
        ("the tripod", "tripod", 872),
        ("where is the space shuttle?", "space shuttle", 812),  # the compound before the head
        ("both lions", "lion", 291),  # the lemma
        ("his tie", "tie", 906),  # "Windsor tie" ends in it
        ("the animal on the left", "animal", 0),
        ("the big dog", "dog", 151),  # a family: every breed
    ],
)
def test_nouns_map_to_their_classes(vocabulary, phrase, noun, has):
    match = vocabulary.match(phrase)
    assert match is not None and match.noun == noun and has in match.classes


def test_lions_mean_the_lion_class_not_the_sea_lion(vocabulary):
    assert vocabulary.match("the lion").classes == (291,)


@pytest.mark.parametrize(
    "phrase",
    [
        "the round mission patch on her chest",
        "the left one",
        "the top half",
        "the space shuttle model",
    ],
)
def test_only_the_head_noun_counts(vocabulary, phrase):
    match = vocabulary.match(phrase)
    assert match is None or match.noun not in ("chest", "one", "half", "top", "space shuttle")


def test_a_noun_coco_lacks_is_found_by_its_class(lite, drawn):
    result = segment(lite, "astronaut.png", Intent(target="helmet"))
    assert result.masks and not result.absent
    assert any("detected helmet" in c for c in result.evidence["cues"]), result.evidence["cues"]
    assert iou(result.masks[0].mask.array, drawn["astronaut.png"]["helmet"]) >= 0.6


def test_a_thing_in_one_salient_blob_with_a_person_is_found_once_he_is_taken_away(lite, drawn):
    # The cameraman and his tripod are one salient region; the person's box, cropped, also looks
    # like a tripod to the classifier. Neither is the tripod: the region minus the person is.
    result = segment(lite, "camera.png", Intent(target="tripod"))
    got = result.masks[0].mask.array
    assert iou(got, drawn["camera.png"]["tripod"]) >= 0.5
    assert iou(got, drawn["camera.png"]["person"]) < 0.1


def test_the_classifier_overrules_a_confident_detection_of_another_category(lite):
    # SSD takes the running cheetah for a bird (score >= 0.6); its crop is a cheetah to the
    # classifier, so the bird box is the cheetah's candidate.
    truth = load_evalset(DATA / "eval" / "holdout.json").objects["cheetah.jpg"]["cheetah"]
    result = segment(lite, "cheetah.jpg", Intent(target="cheetah"))
    assert result.masks and iou(result.masks[0].mask.array, truth) >= 0.7


def test_a_feminine_noun_finds_its_class(vocabulary):
    assert vocabulary.match("the lioness behind him").classes == (291,)


def test_a_family_word_finds_the_animal(lite, drawn):
    result = segment(lite, "quokka.jpg", Intent(target="animal"))
    assert result.masks and iou(result.masks[0].mask.array, drawn["quokka.jpg"]["quokka"]) >= 0.8


@pytest.mark.parametrize(("name", "target"), [("quokka.jpg", "cat"), ("camera.png", "bicycle")])
def test_a_weak_detection_the_classifier_does_not_confirm_is_absent(lite, name, target):
    result = segment(lite, name, Intent(target=target))
    assert result.absent and result.masks == []
    assert "best guess scored" in result.evidence["absent"]  # the detector did see something


def test_a_known_class_nothing_looks_like_is_absent(lite):
    result = segment(lite, "flower.jpg", Intent(target="butterfly"))
    assert result.absent and result.masks == []


def test_the_classifier_missing_is_one_line(monkeypatch):
    from tools.backends.lite.classifier import ImageNetClassifier

    real_import = builtins.__import__

    def no_litert(name, *args, **kwargs):
        if name.startswith("ai_edge_litert"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_litert)
    with pytest.raises(PixelrsError, match="pip install ai-edge-litert") as err:
        ImageNetClassifier().warm()
    assert "\n" not in str(err.value)
