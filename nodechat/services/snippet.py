"""Search words: how query text becomes terms, and the excerpt that shows a match.

A word is a run of letters, digits and combining marks (Unicode categories L, N
and M), as SQLite's ``unicode61`` tokenizer and PostgreSQL's ``simple`` parser
see words; everything else (quotes, ``*``, ``-``, ``:``, ``_``, spaces) only
separates words. So no query text is ever query syntax for a store.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

MAX_TERMS = 16  # words in one query at most; more is refused (invalid_query)
MAX_TERM = 64  # characters in one word at most; a longer one is cut there
SNIPPET = 160  # characters of an excerpt at most (before the ellipses)
_LEAD = 40  # characters kept before the first match


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM"


def words(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each word of ``text``."""
    start = -1
    for i, char in enumerate(text):
        if _is_word_char(char):
            if start < 0:
                start = i
        elif start >= 0:
            yield start, i
            start = -1
    if start >= 0:
        yield start, len(text)


def fold(word: str) -> str:
    """A word as the engines compare it: case-folded, accents removed."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def query_terms(text: str) -> tuple[str, ...]:
    """The distinct words of a query, in order, lower-cased, each at most MAX_TERM long."""
    seen: dict[str, None] = {}
    for start, end in words(text):
        seen.setdefault(text[start:end][:MAX_TERM].casefold(), None)
    return tuple(seen)


def snippet(body: str, terms: tuple[str, ...]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """An excerpt of ``body`` around its first matching word, with the matches' spans.

    The excerpt starts a little before the first match (at a word start) and is at
    most SNIPPET characters; an ellipsis marks cut text. No match found (an engine
    may match what this does not): the body's start, nothing highlighted.
    """
    wanted = {fold(term) for term in terms}
    spans = [(s, e) for s, e in words(body) if fold(body[s:e]) in wanted]
    begin = 0
    if spans and spans[0][0] > _LEAD:
        begin = next(s for s, _ in words(body) if s >= spans[0][0] - _LEAD)
    end = min(len(body), begin + SNIPPET)
    prefix = "…" if begin > 0 else ""
    suffix = "…" if end < len(body) else ""
    shift = len(prefix) - begin
    inside = tuple((s + shift, e + shift) for s, e in spans if s >= begin and e <= end)
    return prefix + body[begin:end] + suffix, inside
