"""message.search over gRPC: the request and page conversions of the Search RPC."""

from __future__ import annotations

from nodechat.proto.v1 import messages_pb2
from nodechat.server.grpc import convert as cv
from nodechat.server.grpc.channel import build
from nodechat.server.grpc.convert import optional
from nodechat.services.api import SearchHit, SearchPage, SearchRequest


def search_request_to_pb(request: SearchRequest) -> messages_pb2.SearchRequest:
    """SearchRequest -> message (``invalid_encoding`` for unencodable text)."""
    return build(
        messages_pb2.SearchRequest,
        text=request.text,
        conversation_id=request.conversation_id,
        author_id=request.author_id,
        before=request.before,
        after=request.after,
        cursor=request.cursor,
        limit=request.limit,
    )


def search_request_from_pb(r: messages_pb2.SearchRequest) -> SearchRequest:
    """Message -> SearchRequest."""
    return SearchRequest(
        r.text,
        conversation_id=optional(r, "conversation_id"),
        author_id=optional(r, "author_id"),
        before=optional(r, "before"),
        after=optional(r, "after"),
        cursor=optional(r, "cursor"),
        limit=r.limit,
    )


def search_page_to_pb(page: SearchPage) -> messages_pb2.SearchPage:
    """SearchPage -> message."""
    return messages_pb2.SearchPage(
        hits=[
            messages_pb2.SearchHit(
                message=cv.message_to_pb(hit.message),
                snippet=hit.snippet,
                highlights=[messages_pb2.Highlight(start=s, end=e) for s, e in hit.highlights],
            )
            for hit in page.hits
        ],
        next_cursor=page.next_cursor,
    )


def search_page_from_pb(m: messages_pb2.SearchPage) -> SearchPage:
    """Message -> SearchPage."""
    hits = [
        SearchHit(
            cv.message_from_pb(h.message),
            h.snippet,
            tuple((span.start, span.end) for span in h.highlights),
        )
        for h in m.hits
    ]
    return SearchPage(hits, optional(m, "next_cursor"))
