"""message.search: who may search what, the query's terms, and the result cursor.

Authorization is here, not in the store: the set of conversations the caller
may read *now* (the channels of every group they are a member of, their direct
conversations, their notes) is computed per call and the store searches only
within it, so a kicked member's former groups and a stranger's conversations
never match. A ``conversation`` filter outside that set is
``conversation_not_found``, as history answers, so existence cannot be probed.

The cursor is opaque to clients; it holds an offset into the ranked results and
the time of the first page (``as_of``): later pages leave out messages created
after it, so new messages do not shift the pages. Edits and deletes between two
pages may still move a result by a place. Paging stops at MAX_RESULTS.
"""

from __future__ import annotations

from nodechat.errors import InvalidRequest, NotFound
from nodechat.models import Identity, self_conversation_id
from nodechat.services.api import SearchHit, SearchPage, SearchRequest
from nodechat.services.reactions import with_reactions
from nodechat.services.snippet import MAX_TERMS, query_terms, snippet
from nodechat.storage.base import SearchQuery, Store

MAX_LIMIT = 50  # results in one page at most
MAX_RESULTS = 1000  # how deep paging goes: offset + limit at most this
MAX_QUERY = 500  # characters of query text


def encode_cursor(offset: int, as_of: int) -> str:
    """The next-page cursor, ``<offset>.<as_of>`` (opaque to clients)."""
    return f"{offset}.{as_of}"


def decode_cursor(cursor: str) -> tuple[int, int]:
    """``(offset, as_of)`` of a cursor from :func:`encode_cursor`; ``invalid_cursor`` if not."""
    offset_text, _, as_of_text = cursor.partition(".")
    # isdigit() alone also passes "²" (int() refuses it) and "٣" (no cursor of ours)
    if not all(t.isascii() and t.isdigit() and len(t) <= 16 for t in (offset_text, as_of_text)):
        raise InvalidRequest("not a search cursor", code="invalid_cursor", field="cursor")
    offset, as_of = int(offset_text), int(as_of_text)
    if offset >= MAX_RESULTS:
        raise InvalidRequest("not a search cursor", code="invalid_cursor", field="cursor")
    return offset, as_of


def check_request(request: SearchRequest) -> tuple[str, ...]:
    """The query's terms, after checking every field; ``invalid_query`` if it has no word."""
    if not 1 <= request.limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be 1-{MAX_LIMIT}", field="limit")
    if len(request.text) > MAX_QUERY:
        raise InvalidRequest(f"query takes at most {MAX_QUERY} characters", field="query")
    for name, bound in (("before", request.before), ("after", request.after)):
        if bound is not None and bound < 0:
            raise InvalidRequest(f"{name} is a time in ms: 0 or more", field=name)
    terms = query_terms(request.text)
    if not terms:
        raise InvalidRequest(
            "the query has no word to look for", code="invalid_query", field="query"
        )
    if len(terms) > MAX_TERMS:
        raise InvalidRequest(
            f"a query takes at most {MAX_TERMS} words", code="invalid_query", field="query"
        )
    return terms


async def readable_conversations(store: Store, user_id: str) -> list[str]:
    """The ids of every conversation ``user_id`` may read now (history's rule): the
    notes, the channels of their groups, their DMs, and the threads under those."""
    readable = [self_conversation_id(user_id)]
    for group_id in await store.groups.member_group_ids(user_id):
        readable.extend(channel.id for channel in await store.groups.list_channels(group_id))
    readable.extend(conversation.id for conversation in await store.messages.list_direct(user_id))
    readable.extend(await store.threads.thread_ids(readable))
    return readable


async def search(store: Store, identity: Identity, request: SearchRequest, now: int) -> SearchPage:
    """One page of results for the caller, best match first."""
    terms = check_request(request)
    offset, as_of = decode_cursor(request.cursor) if request.cursor else (0, now)
    readable = await readable_conversations(store, identity.user_id)
    if request.conversation_id is not None:
        if request.conversation_id not in readable:
            raise NotFound("no such conversation", code="conversation_not_found")
        # a conversation's threads are part of it; a thread has none of its own
        readable = [request.conversation_id]
        readable.extend(await store.threads.thread_ids(readable))
    before = as_of + 1 if request.before is None else min(request.before, as_of + 1)
    query = SearchQuery(terms, tuple(readable), request.author_id, before, request.after)
    limit = min(request.limit, MAX_RESULTS - offset)
    found = await store.search.search(query, offset=offset, limit=limit + 1)
    messages = await with_reactions(store.reactions, found[:limit], identity.user_id)
    hits = [SearchHit(m, *snippet(m.body, terms)) for m in messages]
    more = len(found) > limit and offset + limit < MAX_RESULTS
    return SearchPage(hits, encode_cursor(offset + limit, as_of) if more else None)
