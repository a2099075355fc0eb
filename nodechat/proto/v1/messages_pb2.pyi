from google.protobuf import empty_pb2 as _empty_pb2
from nodechat.proto.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SendRequest(_message.Message):
    __slots__ = ("conversation_id", "body", "nonce", "reply_to", "attachments")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    body: str
    nonce: str
    reply_to: str
    attachments: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, conversation_id: _Optional[str] = ..., body: _Optional[str] = ..., nonce: _Optional[str] = ..., reply_to: _Optional[str] = ..., attachments: _Optional[_Iterable[str]] = ...) -> None: ...

class SendResult(_message.Message):
    __slots__ = ("message", "created")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    message: _common_pb2.Message
    created: bool
    def __init__(self, message: _Optional[_Union[_common_pb2.Message, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class SendItem(_message.Message):
    __slots__ = ("user_id", "session_id", "request")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    session_id: str
    request: SendRequest
    def __init__(self, user_id: _Optional[str] = ..., session_id: _Optional[str] = ..., request: _Optional[_Union[SendRequest, _Mapping]] = ...) -> None: ...

class SendManyRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[SendItem]
    def __init__(self, items: _Optional[_Iterable[_Union[SendItem, _Mapping]]] = ...) -> None: ...

class SendOutcome(_message.Message):
    __slots__ = ("result", "error")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    result: SendResult
    error: _common_pb2.Error
    def __init__(self, result: _Optional[_Union[SendResult, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ...) -> None: ...

class SendManyResponse(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[SendOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[SendOutcome, _Mapping]]] = ...) -> None: ...

class EditRequest(_message.Message):
    __slots__ = ("message_id", "body")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    body: str
    def __init__(self, message_id: _Optional[str] = ..., body: _Optional[str] = ...) -> None: ...

class MessageRequest(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class ReactionRequest(_message.Message):
    __slots__ = ("message_id", "emoji")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    emoji: str
    def __init__(self, message_id: _Optional[str] = ..., emoji: _Optional[str] = ...) -> None: ...

class ReactionResult(_message.Message):
    __slots__ = ("message_id", "conversation_id", "emoji", "count", "me", "changed")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ME_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    conversation_id: str
    emoji: str
    count: int
    me: bool
    changed: bool
    def __init__(self, message_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., emoji: _Optional[str] = ..., count: _Optional[int] = ..., me: _Optional[bool] = ..., changed: _Optional[bool] = ...) -> None: ...

class HistoryRequest(_message.Message):
    __slots__ = ("conversation_id", "before", "after", "limit")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    before: int
    after: int
    limit: int
    def __init__(self, conversation_id: _Optional[str] = ..., before: _Optional[int] = ..., after: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class HistoryPage(_message.Message):
    __slots__ = ("messages", "has_more")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    has_more: bool
    def __init__(self, messages: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., has_more: _Optional[bool] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("text", "conversation_id", "author_id", "before", "after", "cursor", "limit")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    text: str
    conversation_id: str
    author_id: str
    before: int
    after: int
    cursor: str
    limit: int
    def __init__(self, text: _Optional[str] = ..., conversation_id: _Optional[str] = ..., author_id: _Optional[str] = ..., before: _Optional[int] = ..., after: _Optional[int] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class Highlight(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("message", "snippet", "highlights")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    HIGHLIGHTS_FIELD_NUMBER: _ClassVar[int]
    message: _common_pb2.Message
    snippet: str
    highlights: _containers.RepeatedCompositeFieldContainer[Highlight]
    def __init__(self, message: _Optional[_Union[_common_pb2.Message, _Mapping]] = ..., snippet: _Optional[str] = ..., highlights: _Optional[_Iterable[_Union[Highlight, _Mapping]]] = ...) -> None: ...

class SearchPage(_message.Message):
    __slots__ = ("hits", "next_cursor")
    HITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    next_cursor: str
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ReplayRequest(_message.Message):
    __slots__ = ("conversation_id", "after_seq", "limit")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    after_seq: int
    limit: int
    def __init__(self, conversation_id: _Optional[str] = ..., after_seq: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ReplayResult(_message.Message):
    __slots__ = ("conversation_id", "messages", "last_seq", "too_old")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    TOO_OLD_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    messages: _containers.RepeatedCompositeFieldContainer[_common_pb2.Message]
    last_seq: int
    too_old: bool
    def __init__(self, conversation_id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_common_pb2.Message, _Mapping]]] = ..., last_seq: _Optional[int] = ..., too_old: _Optional[bool] = ...) -> None: ...

class MarkReadRequest(_message.Message):
    __slots__ = ("conversation_id", "seq")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    seq: int
    def __init__(self, conversation_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class MarkReadResponse(_message.Message):
    __slots__ = ("seq",)
    SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    def __init__(self, seq: _Optional[int] = ...) -> None: ...

class UserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ConversationRequest(_message.Message):
    __slots__ = ("conversation_id",)
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    def __init__(self, conversation_id: _Optional[str] = ...) -> None: ...

class ConversationList(_message.Message):
    __slots__ = ("conversations",)
    CONVERSATIONS_FIELD_NUMBER: _ClassVar[int]
    conversations: _containers.RepeatedCompositeFieldContainer[_common_pb2.ConversationState]
    def __init__(self, conversations: _Optional[_Iterable[_Union[_common_pb2.ConversationState, _Mapping]]] = ...) -> None: ...

class DirectPeerIdsResponse(_message.Message):
    __slots__ = ("user_ids",)
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PinnedMessage(_message.Message):
    __slots__ = ("message", "pinned_by", "pinned_at")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PINNED_BY_FIELD_NUMBER: _ClassVar[int]
    PINNED_AT_FIELD_NUMBER: _ClassVar[int]
    message: _common_pb2.Message
    pinned_by: str
    pinned_at: int
    def __init__(self, message: _Optional[_Union[_common_pb2.Message, _Mapping]] = ..., pinned_by: _Optional[str] = ..., pinned_at: _Optional[int] = ...) -> None: ...

class PinList(_message.Message):
    __slots__ = ("pins",)
    PINS_FIELD_NUMBER: _ClassVar[int]
    pins: _containers.RepeatedCompositeFieldContainer[PinnedMessage]
    def __init__(self, pins: _Optional[_Iterable[_Union[PinnedMessage, _Mapping]]] = ...) -> None: ...
