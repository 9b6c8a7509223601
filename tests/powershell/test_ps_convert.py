"""Normalising PowerShell output and turning it into follow-up actions (unit level, with the
objects psrpcore really produces after a serialise/deserialise round trip)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ps_fixtures import ordered
from psrpcore.types import PSCustomObject, PSDateTime, PSDict, PSInt, PSList, PSString, deserialize, serialize

from msp._model.actions import FileWrite, HttpRequest
from msp._powershell._clixml import from_clixml
from msp._powershell._convert import follow_ups, normalise, shape

CONFIG = {"api_url": "https://api.tool.test/v2", "webhook_url_env": "HOOK", "endpoint": "https://api.tool.test/gql",
          "root": "notes"}


def round_trip(value: Any) -> Any:
    """What the client side sees after PSRP serialisation of a server-side object."""
    from psrpcore._crypto import PSRemotingCrypto

    cipher = PSRemotingCrypto()
    return deserialize(serialize(value, cipher), cipher)


def test_every_kind_of_value_normalises_to_plain_python() -> None:
    when = PSDateTime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)
    value = round_trip(PSDict({
        "hashtable": PSDict(a=PSInt(1)),
        "ordered": ordered({"z": 1, "a": 2}),
        "object": PSCustomObject(name="x", tags=PSList(["a", "b"])),
        "array": PSList([1, None, "two"]),
        "null": None,
        "date": when,
        "text": PSString("héllo\n"),
    }))
    plain = normalise(value)
    assert plain == {"hashtable": {"a": 1}, "ordered": {"z": 1, "a": 2}, "object": {"name": "x", "tags": ["a", "b"]},
                     "array": [1, None, "two"], "null": None, "date": "2026-01-05T09:30:00Z", "text": "héllo\n"}
    assert list(plain["ordered"]) == ["z", "a"]
    assert type(plain["text"]) is str and type(plain["hashtable"]) is dict


def test_clixml_reader_handles_refs_escapes_and_extended_primitives() -> None:
    xml = ('<Obj RefId="0"><MS><Obj N="first" RefId="1"><DCT><En><S N="Key">k</S><I64 N="Value">7</I64></En>'
           '</DCT></Obj><Ref N="again" RefId="1" /><Obj N="note" RefId="2"><S>tab_x0009_here _xD83D__xDE00_</S>'
           '<MS><S N="Extra">ignored</S></MS></Obj><Db N="ratio">0.5</Db><SS N="secret">AAAA</SS></MS></Obj>')
    assert from_clixml(xml) == {"first": {"k": 7}, "again": {"k": 7}, "note": "tab\there 😀", "ratio": 0.5,
                                "secret": "***"}


def test_shapes_describe_without_content() -> None:
    assert shape("top secret value") == "string (16 chars)"
    assert shape({"b": 1, "a": 2}) == "hashtable with keys [a, b]"
    assert shape([1, "x"]) == "array of 2 (number; string (1 chars))"


def resolve(key: str) -> str | None:
    return {"webhook_url": "https://hooks.test/T/B/secret"}.get(key)


def test_each_request_shape_becomes_its_action() -> None:
    outputs = [
        {"endpoint": "/issues/1/comment", "payload": {"body": "hi"}},  # no method: POST
        {"endpoint": "https://api.tool.test/v2/sessions", "method": "patch", "payload": None},
        {"Webhook": "https://hooks.test/T/B/secret", "Payload": {"text": "t"}},  # keys are case-insensitive
        {"webhook": None, "payload": {"text": "u"}},  # the script could not see the URL: msp's config has it
        {"query": "query { viewer { id } }", "variables": {"a": 1}, "operationName": "Q"},
        {"path": "logs/s-1.md", "content": "# s-1\n", "action": "append"},
        {"path": "data.json", "content": {"a": 1}},
    ]
    out = follow_ups(outputs, {**CONFIG, "deliver_returned_queries": True}, function="Fn", resolve=resolve)
    assert out.problems == [] and out.warnings == []
    kinds = [(a.kind, getattr(a, "method", None), getattr(a, "path", None)) for a in out.actions]
    assert kinds == [("http", "POST", "/issues/1/comment"), ("http", "PATCH", "/sessions"), ("http", "POST", ""),
                     ("http", "POST", ""), ("graphql", None, None), ("file", None, "logs/s-1.md"),
                     ("file", None, "data.json")]
    assert out.actions[2].url_from == "webhook_url" and "secret" not in str(out.actions[2].model_dump())
    assert out.actions[4].operation_name == "Q" and out.actions[4].variables == {"a": 1}
    assert isinstance(out.actions[5], FileWrite) and out.actions[5].mode == "append"
    assert out.actions[6].content == '{\n  "a": 1\n}'


@pytest.mark.parametrize("item, expected", [
    ({"path": "../../etc/passwd", "content": "x"}, "without '..'"),
    ({"path": "/etc/passwd", "content": "x"}, "outside the configured root folder; refused"),
    ({"path": "C:\\Windows\\x", "content": "x"}, "outside the configured root folder; refused"),
    ({"endpoint": "https://evil.test/steal", "payload": {}}, "outside the configured api_url"),
    ({"endpoint": "/x", "method": "TRACE"}, "method 'TRACE'"),
    ({"webhook": "https://hooks.test/other", "payload": {}}, "not the one named by webhook_url"),
])
def test_unsafe_or_foreign_requests_are_refused(item: dict[str, Any], expected: str) -> None:
    out = follow_ups([item], CONFIG, function="Fn", resolve=resolve)
    assert out.actions == [] and len(out.problems) == 1 and expected in out.problems[0]


def test_arrays_are_unrolled_and_odd_output_is_reported() -> None:
    out = follow_ups([[{"endpoint": "/a"}, {"endpoint": "/b"}], None, True, "text", {"foo": 1}], CONFIG,
                     function="Fn")
    assert [a.path for a in out.actions if isinstance(a, HttpRequest)] == ["/a", "/b"]
    assert len(out.warnings) == 3 and "boolean" in out.warnings[0] and "hashtable with keys [foo]" in out.warnings[2]
