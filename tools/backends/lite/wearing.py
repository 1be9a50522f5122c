"""What a person wears or looks like ("the man in the black hat", "the blonde"), scored where it is worn.

A colour that qualifies a garment or hair says little about the whole person: a black hat is a
few percent of a man's pixels. So the phrase's garment colours are read apart from the target's
own colours and scored on the band of the person's box where that garment sits (head, upper
body, legs, feet), estimated from the box alone: a box cut off by a table or the photo's edge
still has its head and shoulders at the top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GARMENTS: dict[str, str] = {
    **dict.fromkeys(
        "hat hats cap caps helmet helmets beanie hood headscarf scarf turban bandana beret "
        "crown hair glasses sunglasses spectacles".split(),
        "head",
    ),
    **dict.fromkeys(
        "shirt shirts t-shirt tshirt tee top blouse jacket jackets coat sweater jumper hoodie "
        "vest jersey cardigan blazer suit uniform tie sweatshirt polo tank".split(),
        "upper",
    ),
    **dict.fromkeys("dress gown robe apron overalls".split(), "body"),
    **dict.fromkeys("trousers pants jeans shorts skirt leggings".split(), "legs"),
    **dict.fromkeys("shoes shoe boots boot sneakers trainers socks sandals".split(), "feet"),
}
"""Garment nouns and the band of a person they are worn on."""

HAIR_COLOURS: dict[str, str] = {
    "blonde": "blonde", "blondes": "blonde", "blond": "blonde", "fair-haired": "blonde",
    "brunette": "brunette", "brunettes": "brunette", "dark-haired": "brunette",
    "redhead": "redhead", "redheads": "redhead", "ginger": "redhead", "red-haired": "redhead",
    "grey-haired": "gray", "gray-haired": "gray", "white-haired": "white",
}  # fmt: skip
"""Words that name a person by hair colour, mapped to a colour word of :mod:`colours`."""

WEARING_WORDS = frozenset("in wearing with wears dressed has having".split())
"""Words that may introduce what a person wears ("the man in/wearing/with the ...")."""

PEOPLE = frozenset({"person"})
"""Categories whose instances wear things (the detector's category names)."""


@dataclass(frozen=True)
class Worn:
    """A garment (or hair) named in the phrase, with the colour the user gave it."""

    garment: str
    band: str
    colour: str
    """The colour word the user gave it; empty when only the garment is named ("with the hat")."""


def read_worn(words: list[str], colour_words: frozenset[str]) -> list[tuple[int, Worn]]:
    """Find colours that qualify a garment or hair: "black hat", "red and white shirt", "blonde".

    ``words`` are the phrase's lower-cased tokens. Returns (index of the colour word, what is worn);
    the caller keeps the other colours as colours of the whole target.
    """
    out: list[tuple[int, Worn]] = []
    for i, word in enumerate(words):
        if word in GARMENTS and word != "hair" and _worn_without_colour(words, i, colour_words):
            out.append((i, Worn(word, GARMENTS[word], "")))
            continue
        if word in HAIR_COLOURS:
            out.append((i, Worn("hair", "head", HAIR_COLOURS[word])))
            continue
        if word not in colour_words:
            continue
        # The garment is the next noun within a few words: "black hat", "dark blue denim jacket".
        for j in range(i + 1, min(len(words), i + 4)):
            band = GARMENTS.get(words[j])
            if band is not None:
                out.append((i, Worn(words[j], band, word)))
                break
            if words[j] in WEARING_WORDS:
                break
        else:
            # "a hat that is black" / "hair dark": a garment just before the colour
            if i > 0 and words[i - 1] in GARMENTS:
                out.append((i, Worn(words[i - 1], GARMENTS[words[i - 1]], word)))
            elif i > 0 and words[i - 1] in ("in", "wearing", "wears"):
                out.append((i, Worn("clothes", "body", word)))  # "the guy in red": his clothes
    return out


def _worn_without_colour(words: list[str], i: int, colour_words: frozenset[str]) -> bool:
    """Whether the garment at ``i`` follows a wearing word with no colour between ("the man with
    the hat", "wearing sunglasses"): a garment to recognise, not a colour to score."""
    for j in range(i - 1, max(-1, i - 4), -1):
        if words[j] in colour_words:
            return False
        if words[j] in WEARING_WORDS:
            return True
    return False


def band_box(
    box: tuple[float, float, float, float], band: str
) -> tuple[float, float, float, float]:
    """Return the part of a person's box where ``band`` is worn, from the box's shape alone.

    The head is about 0.45 of the shoulders' width tall, so a box cut short (a person seated at a
    table) keeps a head in proportion; legs and feet exist only when the box is tall.
    """
    x0, y0, x1, y1 = box
    w, h = max(1.0, x1 - x0), max(1.0, y1 - y0)
    head = min(0.3 * h, 0.45 * w)
    upper_end = y0 + head + min(0.4 * h, 1.3 * w)
    tall = h > 1.8 * w
    spans = {
        "head": (y0, y0 + head),
        "upper": (y0 + head, upper_end),
        "body": (y0 + head, y1 if not tall else y0 + 0.85 * h),
        "legs": (y0 + 0.5 * h, y0 + 0.9 * h) if tall else (upper_end, y1),
        "feet": (y0 + 0.9 * h, y1) if tall else (y1 - 0.1 * h, y1),
    }
    top, bottom = spans.get(band, (y0, y1))
    if band == "head":  # the head is narrower than the shoulders
        cx = (x0 + x1) / 2
        return (cx - 0.3 * w, top, cx + 0.3 * w, bottom)
    return (x0, top, x1, bottom)


def band_mask(pixels: np.ndarray, box: tuple[float, float, float, float], band: str) -> np.ndarray:
    """Return the candidate's own pixels inside its ``band`` (its whole mask when that is empty)."""
    x0, y0, x1, y1 = (int(round(v)) for v in band_box(box, band))
    out = np.zeros_like(pixels)
    out[max(0, y0) : y1 + 1, max(0, x0) : x1 + 1] = pixels[max(0, y0) : y1 + 1, max(0, x0) : x1 + 1]
    return out if out.any() else pixels
