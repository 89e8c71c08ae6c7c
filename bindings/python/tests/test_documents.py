"""Malformed policy documents, as TOML, JSON and dicts: the exception class and
the path of the field it names."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Optional

import pytest

from twofold_policy import (
    InvalidDateError,
    InvalidFieldError,
    Policy,
    PolicyError,
    PolicySyntaxError,
    UnsupportedVersionError,
    UserFacts,
)

# (TOML, the same document as a dict, the exception, the field)
REFUSED: list[tuple[str, dict[str, Any], type[PolicyError], str]] = [
    ("version = 2", {"version": 2}, UnsupportedVersionError, "version"),
    (
        'version = 1\n[roles.staff]\nmay_reset = ["ghost"]',
        {"version": 1, "roles": {"staff": {"may_reset": ["ghost"]}}},
        InvalidFieldError,
        "roles.staff.may_reset",
    ),
    (
        'version = 1\n[enforcement]\nmethods = ["passkey"]\n[roles.staff]\nmethods = ["totp"]',
        {"version": 1, "enforcement": {"methods": ["passkey"]}, "roles": {"staff": {"methods": ["totp"]}}},
        InvalidFieldError,
        "roles.staff.methods",
    ),
    (
        "version = 1\n[throttle]\nmax_failures = 101\nlockout = { for_seconds = 60 }",
        {"version": 1, "throttle": {"max_failures": 101, "lockout": {"for_seconds": 60}}},
        InvalidFieldError,
        "throttle.max_failures",
    ),
    (
        'version = 1\n[[exemptions]]\nuser = "kiosk"\nreason = "  "',
        {"version": 1, "exemptions": [{"user": "kiosk", "reason": "  "}]},
        InvalidFieldError,
        "exemptions[0].reason",
    ),
    (
        'version = 1\n[enforcement]\nfrom = "2027-01-01T08:00:00"',
        {"version": 1, "enforcement": {"from": "2027-01-01T08:00:00"}},
        InvalidDateError,
        "enforcement.from",
    ),
    (
        'version = 1\n[[exemptions]]\nuser = "a"\nreason = "r"\n[[exemptions]]\nuser = "b"\nreason = "r"\nuntil = "1969-12-31"',
        {"version": 1, "exemptions": [{"user": "a", "reason": "r"}, {"user": "b", "reason": "r", "until": "1969-12-31"}]},
        InvalidDateError,
        "exemptions[1].until",
    ),
    (
        "version = 1\n[self_unlock]\ncodes = 1",
        {"version": 1, "self_unlock": {"codes": 1}},
        InvalidFieldError,
        "self_unlock.codes",
    ),
    (
        "version = 1\n[roles.admin]\ntrusted_browser_days = 401",
        {"version": 1, "roles": {"admin": {"trusted_browser_days": 401}}},
        InvalidFieldError,
        "roles.admin.trusted_browser_days",
    ),
    # Missing fields: the engine names them in text, the dict walker itself.
    (
        '[enforcement]\nmode = "required"',
        {"enforcement": {"mode": "required"}},
        InvalidFieldError,
        "version",
    ),
    (
        "version = 1\n[throttle]\nmax_failures = 3",
        {"version": 1, "throttle": {"max_failures": 3}},
        InvalidFieldError,
        "throttle.lockout",
    ),
    (
        'version = 1\n[[exemptions]]\nuser = "a"\nreason = "r"\n[[exemptions]]\nuser = "b"',
        {"version": 1, "exemptions": [{"user": "a", "reason": "r"}, {"user": "b"}]},
        InvalidFieldError,
        "exemptions[1].reason",
    ),
    # Wrong types and unknown fields.
    (
        'version = 1\n[throttle]\nmax_failures = "x"\nlockout = "until_reset"',
        {"version": 1, "throttle": {"max_failures": "x", "lockout": "until_reset"}},
        InvalidFieldError,
        "throttle.max_failures",
    ),
    (
        "version = 1\n[roles.staff]\nmethodz = []",
        {"version": 1, "roles": {"staff": {"methodz": []}}},
        InvalidFieldError,
        "roles.staff.methodz",
    ),
    # Inside an enum's variant.
    (
        'version = 1\n[throttle]\nmax_failures = 3\nlockout = { for_seconds = "x" }',
        {"version": 1, "throttle": {"max_failures": 3, "lockout": {"for_seconds": "x"}}},
        InvalidFieldError,
        "throttle.lockout.for_seconds",
    ),
    # Text quoted from the document is never taken for a missing field.
    (
        'version = "missing field `x`"',
        {"version": "missing field `x`"},
        InvalidFieldError,
        "version",
    ),
]


@pytest.mark.parametrize("text,document,error,field", REFUSED)
def test_a_refused_document_names_its_field_in_toml_json_and_dict(
    text: str, document: dict[str, Any], error: type[PolicyError], field: str
) -> None:
    loads: list[tuple[Callable[[Any], Policy], Any]] = [
        (Policy.from_toml, text),
        (Policy.from_json, json.dumps(document)),
        (Policy.from_dict, document),
    ]
    for load, argument in loads:
        with pytest.raises(error) as raised:
            load(argument)
        assert raised.value.field == field
        assert isinstance(raised.value, ValueError)
        assert raised.value.problem and raised.value.problem in str(raised.value)
        assert field in str(raised.value) or error is UnsupportedVersionError
        if load is Policy.from_dict and error is not UnsupportedVersionError:
            assert str(raised.value).startswith(field)


@pytest.mark.parametrize(
    "text,load",
    [
        ("version = 1\n[enforcement\n", Policy.from_toml),
        ('{"version": 1,', Policy.from_json),
        # Text after the document, and JSON that breaks inside a field.
        ('{"version": 1} {"version": 2}', Policy.from_json),
        ('{"version": 1}\n[]', Policy.from_json),
        ('{"version": 1, "throttle": {"max_failures": 3,, }}', Policy.from_json),
        ('{"version": 1, "enforcement": {"mode": "required}}', Policy.from_json),
    ],
)
def test_text_that_cannot_be_read_is_a_syntax_error_without_a_field(text: str, load: Any) -> None:
    with pytest.raises(PolicySyntaxError) as raised:
        load(text)
    assert raised.value.field is None
    assert type(raised.value) is PolicySyntaxError
    assert "line" in str(raised.value)


@pytest.mark.parametrize(
    "text,load,field",
    [
        ('version = 1\n[throttle]\nmax_failures = "x"', Policy.from_toml, "throttle.max_failures"),
        ('{"version": 1, "throttle": {"max_failures": "x"}}', Policy.from_json, "throttle.max_failures"),
        ("version = 1\n[throttle]\nmax_failure = 5", Policy.from_toml, "throttle.max_failure"),
        ('{"version": 1, "roles": {"staff": {"methodz": []}}}', Policy.from_json, "roles.staff.methodz"),
        ('version = 1\n[roles.staff]\nmethods = ["totp", 7]', Policy.from_toml, "roles.staff.methods[1]"),
    ],
)
def test_text_of_the_wrong_type_or_an_unknown_field_names_the_field(text: str, load: Any, field: str) -> None:
    # The same error as the dict's, with the reader's position besides.
    with pytest.raises(InvalidFieldError) as raised:
        load(text)
    assert raised.value.field == field
    assert not isinstance(raised.value, PolicySyntaxError)
    assert "line" in str(raised.value)
    assert str(raised.value).count(field) >= 1


# Dicts: type errors and values no document can hold, each with its path.
DICT_REFUSED: list[tuple[dict[Any, Any], type[PolicyError], str, str]] = [
    ({"version": 1, "enforcement": {"mode": "sometimes"}}, InvalidFieldError, "enforcement.mode", "unknown variant"),
    ({"version": 1, "roles": {"staff": {"methodz": []}}}, InvalidFieldError, "roles.staff.methodz", "unknown field"),
    ({"version": 1, "throttle": {"max_failures": "x", "lockout": "until_reset"}}, InvalidFieldError, "throttle.max_failures", "invalid type"),
    ({"version": 1, "throttle": {"max_failures": 3}}, InvalidFieldError, "throttle.lockout", "missing field"),
    ({"enforcement": {}}, InvalidFieldError, "version", "missing field"),
    ({"version": 1, "roles": {7: {}}}, InvalidFieldError, "roles", "keys must be strings"),
    ({"version": 1, "enforcement": {"grace_seconds": math.nan}}, InvalidFieldError, "enforcement.grace_seconds", "nan"),
    ({"version": 1, "enforcement": {"grace_seconds": math.inf}}, InvalidFieldError, "enforcement.grace_seconds", "inf"),
    ({"version": 1, "enforcement": {"grace_seconds": 2**80}}, InvalidFieldError, "enforcement.grace_seconds", "too large"),
    ({"version": 1, "enforcement": {"grace_seconds": -1}}, InvalidFieldError, "enforcement.grace_seconds", "invalid value"),
    ({"version": 1, "roles": {"staff": {"methods": {"totp"}}}}, InvalidFieldError, "roles.staff.methods", "set"),
    ({"version": 1, "roles": {"staff": {"methods": ["totp", "sms"]}}}, InvalidFieldError, "roles.staff.methods[1]", "sms"),
    ({"version": 1, "roles": {"staff": {"methods": ["backup_codes"]}}}, InvalidFieldError, "roles.staff.methods[0]", "recovery"),
    ({"version": 1, "enforcement": {"from": datetime(2027, 1, 1, 8, 0)}}, InvalidDateError, "enforcement.from", "offset"),
    ({"version": 1, "exemptions": [{"user": "a", "reason": "r", "until": date(1960, 1, 1)}]}, InvalidDateError, "exemptions[0].until", "1970"),
    ({"version": 1, "exemptions": [{"user": "a", "reason": "r", "until": 1_800_000_000}]}, InvalidFieldError, "exemptions[0].until", "invalid type"),
]


@pytest.mark.parametrize("document,error,field,words", DICT_REFUSED)
def test_a_dict_that_is_not_a_document_names_the_path(
    document: dict[Any, Any], error: type[PolicyError], field: str, words: str
) -> None:
    with pytest.raises(error) as raised:
        Policy.from_dict(document)
    assert raised.value.field == field
    assert words in str(raised.value)


def test_not_a_dict_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="expected a dict"):
        Policy.from_dict([("version", 1)])  # type: ignore[arg-type]


def test_dates_in_a_dict_are_read_as_in_toml() -> None:
    paris = timezone(timedelta(hours=1))
    documents: list[tuple[Any, Optional[str]]] = [
        (datetime(2027, 1, 1, 1, 0, tzinfo=paris), "2027-01-01T00:00:00Z"),
        (datetime(2027, 1, 1, 0, 0, 0, 999_999, tzinfo=timezone.utc), "2027-01-01T00:00:00Z"),
        (date(2027, 1, 1), "2027-01-01T00:00:00Z"),
        ("2027-01-01", "2027-01-01T00:00:00Z"),
    ]
    for value, written in documents:
        policy = Policy.from_dict({"version": 1, "enforcement": {"mode": "required", "from": value}})
        assert json.loads(policy.to_json())["enforcement"]["from"] == written
        from_toml = Policy.from_toml('version = 1\n[enforcement]\nmode = "required"\nfrom = 2027-01-01T01:00:00+01:00')
        assert policy == from_toml
        before = policy.sign_in(UserFacts("u", "staff"), 1_798_761_599)
        assert before.reason_code == "required_from"
        assert policy.sign_in(UserFacts("u", "staff"), 1_798_761_600).outcome == "must_enroll"


def test_a_document_round_trips_through_toml_json_and_back() -> None:
    policy = Policy.from_toml(
        'version = 1\n[enforcement]\nmode = "required"\ngrace_seconds = 86400\nfrom = 2027-01-01\n'
        '[roles.owner]\nmay_reset = ["staff"]\nmay_change_enforcement = true\n[roles.staff]\nmethods = ["passkey"]\n'
        '[[exemptions]]\nuser = "kiosk"\nreason = "shared"\nuntil = "2027-03-01"'
    )
    assert Policy.from_toml(policy.to_toml()) == policy
    assert Policy.from_json(policy.to_json()) == policy
    assert Policy.from_dict(json.loads(policy.to_json())) == policy
    assert policy.with_mode("off").mode == "off"
    assert policy.with_mode("off") != policy
