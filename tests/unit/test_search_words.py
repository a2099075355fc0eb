"""Search words, snippets and cursors (services/snippet.py, services/search.py)."""

from __future__ import annotations

import pytest

from nodechat.errors import InvalidRequest
from nodechat.services.api import SearchRequest
from nodechat.services.search import MAX_RESULTS, check_request, decode_cursor, encode_cursor
from nodechat.services.snippet import MAX_TERM, SNIPPET, fold, query_terms, snippet


def test_query_terms_are_words_only() -> None:
    assert query_terms('"Hello" world* -NEAR: (x)') == ("hello", "world", "near", "x")
    assert query_terms("a_b c'd e-f") == ("a", "b", "c", "d", "e", "f")
    assert query_terms("Café CAFÉ café") == ("café",)
    assert query_terms("東京 हिन्दी") == ("東京", "हिन्दी")  # combining marks stay in the word
    assert query_terms("*** \" '' -- ::") == ()
    assert query_terms("x" * 200) == ("x" * MAX_TERM,)


def test_fold_drops_case_and_accents() -> None:
    assert fold("Café") == fold("cafe") == "cafe"
    assert fold("NAÏVE") == "naive"


def test_snippet_marks_the_matching_words() -> None:
    text, spans = snippet("The Quick brown fox, quick!", ("quick",))
    assert text == "The Quick brown fox, quick!"
    assert [text[s:e] for s, e in spans] == ["Quick", "quick"]
    text, spans = snippet("un café noir", ("cafe",))
    assert [text[s:e] for s, e in spans] == ["café"]


def test_snippet_of_a_long_body_is_cut_around_the_first_match() -> None:
    body = " ".join(f"w{i}" for i in range(200)) + " needle " + "tail " * 100
    text, spans = snippet(body, ("needle",))
    assert text.startswith("…") and text.endswith("…")
    assert len(text) <= SNIPPET + 2
    assert [text[s:e] for s, e in spans] == ["needle"]


def test_snippet_without_a_match_is_the_start() -> None:
    text, spans = snippet("nothing here", ("absent",))
    assert text == "nothing here" and spans == ()


def test_cursor_round_trip_and_refusals() -> None:
    assert decode_cursor(encode_cursor(40, 1_700_000_000_000)) == (40, 1_700_000_000_000)
    for bad in ("", "x", "1", "1.", ".1", "-1.5", "².1", "1.2.3", f"{MAX_RESULTS}.1", "1" * 17):
        with pytest.raises(InvalidRequest) as info:
            decode_cursor(bad)
        assert info.value.code == "invalid_cursor"


@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        (SearchRequest(""), "invalid_query", "query"),
        (SearchRequest("*"), "invalid_query", "query"),
        (SearchRequest(" ".join("w" + str(i) for i in range(17))), "invalid_query", "query"),
        (SearchRequest("a", limit=0), "invalid_request", "limit"),
        (SearchRequest("a", limit=51), "invalid_request", "limit"),
        (SearchRequest("a", before=-1), "invalid_request", "before"),
        (SearchRequest("a", after=-1), "invalid_request", "after"),
        (SearchRequest("a" * 501), "invalid_request", "query"),
    ],
)
def test_bad_requests(request_: SearchRequest, code: str, field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_request(request_)
    assert info.value.code == code and info.value.details["field"] == field
