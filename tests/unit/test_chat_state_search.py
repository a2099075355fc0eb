"""The client's state keeps the pages of the current server search (message.search)."""

from __future__ import annotations

from typing import Any

from nodechat.chatclient import ChatState
from nodechat.chatclient.records import SearchResults
from tests.unit.test_chat_state import CH, ME


def result(n: int, author: str) -> dict[str, Any]:
    return {
        "message": {
            "id": f"m_{n}",
            "conversation": CH,
            "seq": n,
            "author_id": author,
            "body": f"the word {n}",
            "created_at": 1000 + n,
        },
        "snippet": f"the word {n}",
        "highlights": [[4, 8]],
    }


def test_pages_join_the_results_and_unknown_authors_are_looked_up() -> None:
    state = ChatState()
    state.me = {"id": ME, "username": "me"}
    results = SearchResults("word")
    state.add_search_page(results, {"results": [result(1, "u_x")], "next_cursor": "1.5"})
    assert state.search is results and results.next_cursor == "1.5"
    hit = results.hits[0]
    assert hit.message.id == "m_1" and hit.snippet[4:8] == "word"
    assert hit.highlights == ((4, 8),)
    assert "u_x" in state.unresolved
    state.add_search_page(results, {"results": [result(2, ME)], "next_cursor": None})
    assert [h.message.id for h in results.hits] == ["m_1", "m_2"]
    assert results.next_cursor is None
    assert ME not in state.unresolved
