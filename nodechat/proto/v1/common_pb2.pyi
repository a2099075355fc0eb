from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChannelKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_KIND_UNSPECIFIED: _ClassVar[ChannelKind]
    CHANNEL_KIND_TEXT: _ClassVar[ChannelKind]
    CHANNEL_KIND_VOICE: _ClassVar[ChannelKind]

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_OWNER: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]
    ROLE_MEMBER: _ClassVar[Role]

class ConversationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONVERSATION_KIND_UNSPECIFIED: _ClassVar[ConversationKind]
    CONVERSATION_KIND_CHANNEL: _ClassVar[ConversationKind]
    CONVERSATION_KIND_DIRECT: _ClassVar[ConversationKind]
    CONVERSATION_KIND_SELF: _ClassVar[ConversationKind]
    CONVERSATION_KIND_THREAD: _ClassVar[ConversationKind]
CHANNEL_KIND_UNSPECIFIED: ChannelKind
CHANNEL_KIND_TEXT: ChannelKind
CHANNEL_KIND_VOICE: ChannelKind
ROLE_UNSPECIFIED: Role
ROLE_OWNER: Role
ROLE_ADMIN: Role
ROLE_MEMBER: Role
CONVERSATION_KIND_UNSPECIFIED: ConversationKind
CONVERSATION_KIND_CHANNEL: ConversationKind
CONVERSATION_KIND_DIRECT: ConversationKind
CONVERSATION_KIND_SELF: ConversationKind
CONVERSATION_KIND_THREAD: ConversationKind

class Identity(_message.Message):
    __slots__ = ("user_id", "session_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    session_id: str
    def __init__(self, user_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("id", "username", "email", "display_name", "about", "created_at", "disabled", "is_admin")
    ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ABOUT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    IS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    id: str
    username: str
    email: str
    display_name: str
    about: str
    created_at: int
    disabled: bool
    is_admin: bool
    def __init__(self, id: _Optional[str] = ..., username: _Optional[str] = ..., email: _Optional[str] = ..., display_name: _Optional[str] = ..., about: _Optional[str] = ..., created_at: _Optional[int] = ..., disabled: _Optional[bool] = ..., is_admin: _Optional[bool] = ...) -> None: ...

class TokenPair(_message.Message):
    __slots__ = ("access_token", "refresh_token", "access_expires_at", "session_id", "user")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    refresh_token: str
    access_expires_at: int
    session_id: str
    user: User
    def __init__(self, access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ..., access_expires_at: _Optional[int] = ..., session_id: _Optional[str] = ..., user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class Group(_message.Message):
    __slots__ = ("id", "name", "description", "owner_id", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    owner_id: str
    created_at: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., owner_id: _Optional[str] = ..., created_at: _Optional[int] = ...) -> None: ...

class Channel(_message.Message):
    __slots__ = ("id", "group_id", "name", "kind", "position", "topic", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    group_id: str
    name: str
    kind: ChannelKind
    position: int
    topic: str
    created_at: int
    def __init__(self, id: _Optional[str] = ..., group_id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[ChannelKind, str]] = ..., position: _Optional[int] = ..., topic: _Optional[str] = ..., created_at: _Optional[int] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("group_id", "user_id", "role", "joined_at")
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    JOINED_AT_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    user_id: str
    role: Role
    joined_at: int
    def __init__(self, group_id: _Optional[str] = ..., user_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., joined_at: _Optional[int] = ...) -> None: ...

class Invite(_message.Message):
    __slots__ = ("code", "group_id", "created_by", "created_at", "expires_at", "max_uses", "uses", "revoked")
    CODE_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    MAX_USES_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    code: str
    group_id: str
    created_by: str
    created_at: int
    expires_at: int
    max_uses: int
    uses: int
    revoked: bool
    def __init__(self, code: _Optional[str] = ..., group_id: _Optional[str] = ..., created_by: _Optional[str] = ..., created_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., max_uses: _Optional[int] = ..., uses: _Optional[int] = ..., revoked: _Optional[bool] = ...) -> None: ...

class GroupView(_message.Message):
    __slots__ = ("group", "channels", "role", "member_count")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    group: Group
    channels: _containers.RepeatedCompositeFieldContainer[Channel]
    role: Role
    member_count: int
    def __init__(self, group: _Optional[_Union[Group, _Mapping]] = ..., channels: _Optional[_Iterable[_Union[Channel, _Mapping]]] = ..., role: _Optional[_Union[Role, str]] = ..., member_count: _Optional[int] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("id", "kind", "group_id", "participants", "last_seq", "parent_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: ConversationKind
    group_id: str
    participants: _containers.RepeatedScalarFieldContainer[str]
    last_seq: int
    parent_id: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[ConversationKind, str]] = ..., group_id: _Optional[str] = ..., participants: _Optional[_Iterable[str]] = ..., last_seq: _Optional[int] = ..., parent_id: _Optional[str] = ...) -> None: ...

class ConversationState(_message.Message):
    __slots__ = ("conversation", "last_read_seq", "unread", "peer_id", "extra_json")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    LAST_READ_SEQ_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    conversation: Conversation
    last_read_seq: int
    unread: int
    peer_id: str
    extra_json: bytes
    def __init__(self, conversation: _Optional[_Union[Conversation, _Mapping]] = ..., last_read_seq: _Optional[int] = ..., unread: _Optional[int] = ..., peer_id: _Optional[str] = ..., extra_json: _Optional[bytes] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("id", "conversation_id", "seq", "author_id", "body", "nonce", "created_at", "reply_to", "edited_at", "deleted", "reactions", "thread", "attachments")
    ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    EDITED_AT_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    THREAD_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    conversation_id: str
    seq: int
    author_id: str
    body: str
    nonce: str
    created_at: int
    reply_to: str
    edited_at: int
    deleted: bool
    reactions: _containers.RepeatedCompositeFieldContainer[Reaction]
    thread: ThreadSummary
    attachments: _containers.RepeatedCompositeFieldContainer[Attachment]
    def __init__(self, id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., seq: _Optional[int] = ..., author_id: _Optional[str] = ..., body: _Optional[str] = ..., nonce: _Optional[str] = ..., created_at: _Optional[int] = ..., reply_to: _Optional[str] = ..., edited_at: _Optional[int] = ..., deleted: _Optional[bool] = ..., reactions: _Optional[_Iterable[_Union[Reaction, _Mapping]]] = ..., thread: _Optional[_Union[ThreadSummary, _Mapping]] = ..., attachments: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ...) -> None: ...

class ThreadSummary(_message.Message):
    __slots__ = ("conversation", "count", "last_at", "unread")
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_AT_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    conversation: str
    count: int
    last_at: int
    unread: int
    def __init__(self, conversation: _Optional[str] = ..., count: _Optional[int] = ..., last_at: _Optional[int] = ..., unread: _Optional[int] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ("id", "name", "size", "type")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    size: int
    type: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., size: _Optional[int] = ..., type: _Optional[str] = ...) -> None: ...

class Reaction(_message.Message):
    __slots__ = ("emoji", "count", "me")
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ME_FIELD_NUMBER: _ClassVar[int]
    emoji: str
    count: int
    me: bool
    def __init__(self, emoji: _Optional[str] = ..., count: _Optional[int] = ..., me: _Optional[bool] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "details_json", "status")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    details_json: bytes
    status: int
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., details_json: _Optional[bytes] = ..., status: _Optional[int] = ...) -> None: ...

class BatchCall(_message.Message):
    __slots__ = ("method", "request", "user_id", "session_id")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    method: str
    request: bytes
    user_id: str
    session_id: str
    def __init__(self, method: _Optional[str] = ..., request: _Optional[bytes] = ..., user_id: _Optional[str] = ..., session_id: _Optional[str] = ...) -> None: ...

class BatchOutcome(_message.Message):
    __slots__ = ("reply", "error")
    REPLY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    reply: bytes
    error: Error
    def __init__(self, reply: _Optional[bytes] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class BatchRequest(_message.Message):
    __slots__ = ("calls",)
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[BatchCall]
    def __init__(self, calls: _Optional[_Iterable[_Union[BatchCall, _Mapping]]] = ...) -> None: ...

class BatchResponse(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[BatchOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[BatchOutcome, _Mapping]]] = ...) -> None: ...
