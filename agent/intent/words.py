"""Token-level helpers shared by the tracker's readers: normalised text and lemma, quoted strings
merged into one token, rendering tokens back as written, and the size and number a word says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.intent import vocab as vb

if TYPE_CHECKING:
    from spacy.tokens import Token


def lower(tok: Token) -> str:
    """Lower-cased text with a straight apostrophe."""
    return tok.lower_.replace("’", "'")


def lemma(tok: Token) -> str:
    """Lower-cased lemma (spaCy's, or the lower-cased text for quotes and odd tokens)."""
    value = tok.lemma_.lower() if tok.lemma_ else lower(tok)
    return value if value.strip() else lower(tok)


def is_quote(tok: Token) -> bool:
    """Whether the token is a quoted string merged into one token (see :mod:`agent.intent.reading`)."""
    return len(tok.text) >= 2 and tok.text[0] in "'\"‘“" and tok.text[-1] in "'\"’”"


def unquote(text: str) -> str:
    """Return the text between the quote marks."""
    return text[1:-1].strip() if len(text) >= 2 and text[0] in "'\"‘“" else text


def is_pronoun(tok: Token) -> bool:
    """Return a personal or demonstrative pronoun standing alone ("it", "that", "them")."""
    return tok.pos_ == "PRON" and not is_quote(tok)


def render(tokens: list[Token]) -> str:
    """Join tokens as written (their own spacing; a space where words were left out), without
    trailing punctuation."""
    out: list[str] = []
    for k, tok in enumerate(tokens):
        out.append(tok.text)
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        if nxt is None:
            break
        gap = tok.doc[tok.i + 1 : nxt.i]
        if len(gap) and all(g.text in {"-", "–", "/"} and not g.whitespace_ for g in gap) and not tok.whitespace_:
            out.append(gap.text)  # "t-shirt", "devil-like": keep the hyphen between kept words
        elif tok.whitespace_ or nxt.i != tok.i + 1:
            out.append(" ")
    return "".join(out).strip().rstrip(",;:").strip()


def size_value(tok: Token) -> str | None:
    """Return the size word a modifier says, as said ("bigger", "tallest", "large"), if it is one.

    Whether it is one comes from the lemma (the parse maps "larger" and "largest" to "large")."""
    if tok.pos_ not in {"ADJ", "ADV"}:
        return None
    scale = vb.SIZES.get(lemma(tok)) or vb.SIZES.get(lower(tok))
    if scale is None:
        return None
    return lower(tok)


def number_value(tok: Token) -> str | None:
    """Return the number a token spells ("two" -> "2", "3" -> "3"), if it is one."""
    from spacy.lang.en.lex_attrs import _num_words  # the language data's number words

    low = lower(tok)
    if low.isdigit():
        return str(int(low))
    if low in _num_words[:21]:
        return str(_num_words.index(low))
    return None


__all__ = ["is_pronoun", "is_quote", "lemma", "lower", "number_value", "render", "size_value", "unquote"]
