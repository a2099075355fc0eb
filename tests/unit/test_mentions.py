"""The server marks @mentions in the message wire form."""

from nodechat.models import Message, mentions


def test_mentions_found_lowercased_sorted_once() -> None:
    assert mentions("hi @Ann and @bob. then @ann again, @carol_1!") == ["ann", "bob", "carol_1"]


def test_mail_addresses_short_names_and_inner_at_are_not_mentions() -> None:
    assert mentions("mail ann@example.org or @x, not a@@bob, .@dave") == []
    assert mentions("no at sign at all") == []


def test_wire_form_carries_mentions_but_not_for_deleted_messages() -> None:
    m = Message("m_1", "ch_1", 1, "u_1", "ping @Ann", "n", 1)
    assert m.to_dict()["mentions"] == ["ann"]
    gone = Message("m_1", "ch_1", 1, "u_1", "ping @Ann", "n", 1, deleted=True)
    assert gone.to_dict()["mentions"] == []
