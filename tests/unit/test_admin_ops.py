"""The admin op table: every op has frame fields that are exactly its method's parameters,
and ``invoke`` refuses what does not fit."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from nodechat.errors import InvalidRequest
from nodechat.protocol.frames import OPS
from nodechat.server.dispatch import HANDLERS
from nodechat.services.admin import ADMIN_OPS, AdminService, Caller, invoke


@pytest.mark.parametrize("op", sorted(ADMIN_OPS))
def test_fields_are_the_method_parameters(op: str) -> None:
    method = getattr(AdminService, ADMIN_OPS[op])
    params = list(inspect.signature(method).parameters.values())[2:]  # self, caller
    assert set(OPS[op]) == {p.name for p in params}
    required = {p.name for p in params if p.default is inspect.Parameter.empty}
    assert {name for name, spec in OPS[op].items() if spec.required} == required
    assert op in HANDLERS


class Recorder(AdminService):
    """Every method records its call (built from the interface, so none is forgotten)."""

    calls: list[tuple[str, Caller, dict[str, Any]]]


def _recording(name: str) -> Any:
    async def method(self: Recorder, caller: Caller, **kwargs: Any) -> dict[str, Any]:
        self.calls.append((name, caller, kwargs))
        return {"method": name}

    signature = inspect.signature(getattr(AdminService, name))
    method.__signature__ = signature  # type: ignore[attr-defined]
    return method


for _name in ADMIN_OPS.values():
    setattr(Recorder, _name, _recording(_name))
Recorder.__abstractmethods__ = frozenset()


async def test_invoke_calls_the_method_with_the_fields() -> None:
    recorder = Recorder()
    recorder.calls = []
    assert await invoke(recorder, None, "admin.user.disable", {"user": "bob"}) == {
        "method": "disable_user"
    }
    await invoke(recorder, None, "admin.user.list", {"limit": 5, "admins": True})
    assert recorder.calls == [
        ("disable_user", None, {"user": "bob"}),
        ("list_users", None, {"limit": 5, "admins": True}),
    ]


async def test_invoke_refuses_unknown_ops_and_fields() -> None:
    recorder = Recorder()
    recorder.calls = []
    with pytest.raises(InvalidRequest) as unknown:
        await invoke(recorder, None, "admin.nothing", {})
    assert unknown.value.code == "unknown_op"
    with pytest.raises(InvalidRequest):
        await invoke(recorder, None, "admin.user.disable", {"user": "bob", "extra": 1})
    with pytest.raises(InvalidRequest):
        await invoke(recorder, None, "admin.user.disable", {})
    assert recorder.calls == []
