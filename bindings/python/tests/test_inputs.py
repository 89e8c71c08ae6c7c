"""Bad input from Python is a clean exception that says what was wrong, never a crash."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from twofold_policy import Policy, SignInDecision, UserFacts
from twofold_policy._native import _rust_decisions_per_second  # type: ignore[import-not-found]

NOW = 1_800_000_000
LATEST = 253_402_300_799  # 9999-12-31T23:59:59Z


@pytest.fixture
def policy() -> Policy:
    return Policy.example_clinic().with_mode("required")


@pytest.mark.parametrize(
    "now,error,words",
    [
        (-1, ValueError, "out of range"),
        (LATEST + 1, ValueError, "out of range"),
        (2**64, ValueError, "out of range"),
        (-(2**100), ValueError, "out of range"),
        (datetime(2027, 1, 1), ValueError, "naive datetime"),
        (datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5))), ValueError, "out of range"),
        (datetime(1969, 12, 31, tzinfo=timezone.utc), ValueError, "out of range"),
        (1.8e9, TypeError, r"int\("),
        (True, TypeError, "bool"),
        (date(2027, 1, 1), TypeError, "a date is not an instant"),
        ("2027-01-01", TypeError, "got str"),
        (None, TypeError, "got NoneType"),
    ],
)
def test_a_time_that_is_not_an_instant_is_refused(policy: Policy, now: Any, error: type[Exception], words: str) -> None:
    facts = UserFacts("u", "staff")
    with pytest.raises(error, match=words) as raised:
        policy.sign_in(facts, now)
    assert "now" in str(raised.value)
    with pytest.raises(error, match=words):
        policy.enforcement_applies(facts, now)
    if now is None:  # "no time" where a time is optional
        return
    with pytest.raises(error, match=words) as raised:
        policy.throttle(1, now, NOW)
    assert "last_failure" in str(raised.value)
    with pytest.raises(error, match=words) as raised:
        UserFacts("u", "staff", first_sign_in=now)
    assert "first_sign_in" in str(raised.value)


def test_times_are_aware_datetimes_or_unix_seconds_and_come_back_in_utc(policy: Policy) -> None:
    facts = UserFacts("u", "staff", first_sign_in=datetime(2027, 1, 1, 1, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=1))))
    assert facts.first_sign_in == datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert facts == UserFacts("u", "staff", first_sign_in=1_798_761_600)
    grace = Policy.from_toml('version = 1\n[enforcement]\nmode = "required"\ngrace_seconds = 3600')
    deadline = grace.sign_in(facts, 1_798_761_600).deadline
    assert deadline == datetime(2027, 1, 1, 1, 0, tzinfo=timezone.utc)
    assert deadline is not None and deadline.tzinfo == timezone.utc
    assert policy.sign_in(UserFacts("u", "staff"), 0).outcome == "must_enroll"
    assert policy.sign_in(UserFacts("u", "staff"), LATEST).outcome == "must_enroll"


def test_a_deadline_beyond_year_9999_is_a_clean_error() -> None:
    grace = Policy.from_toml('version = 1\n[enforcement]\nmode = "required"\ngrace_seconds = 86400')
    decision = grace.sign_in(UserFacts("u", "staff"), LATEST)
    assert decision.outcome == "must_enroll"
    with pytest.raises(ValueError, match="9999"):
        decision.deadline


@pytest.mark.parametrize(
    "kwargs,error,words",
    [
        ({"methods": ["sms"]}, ValueError, "unknown method 'sms'|unknown method \"sms\""),
        ({"methods": ["backup_codes"]}, ValueError, "recovery"),
        ({"methods": "totp"}, TypeError, "single string"),
        ({"methods": [1]}, TypeError, r"methods\[0\]"),
        ({"methods": 3}, TypeError, "list of method names"),
        ({"backup_codes": 1}, TypeError, "backup_codes"),
        ({"exempt": "yes"}, TypeError, "exempt"),
    ],
)
def test_user_facts_refuse_what_they_cannot_hold(kwargs: dict[str, Any], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        UserFacts("u", "staff", **kwargs)
    with pytest.raises(TypeError):
        UserFacts(7, "staff")  # type: ignore[arg-type]


def test_other_arguments_are_checked(policy: Policy) -> None:
    owner = UserFacts("o", "owner", methods=("totp",))
    with pytest.raises(ValueError, match="mode"):
        policy.change_enforcement(owner, "sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        policy.with_mode("strict")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown method"):
        policy.enrollment("staff", "sms")  # type: ignore[arg-type]
    for failures, error in [(-1, ValueError), (2**32, ValueError), (2**200, ValueError), (1.0, TypeError), (True, TypeError)]:
        with pytest.raises(error, match="failures"):
            policy.throttle(failures, None, NOW)  # type: ignore[arg-type]
    assert policy.throttle(2**32 - 1, None, NOW).reason_code == "failure_ceiling"
    with pytest.raises(TypeError):
        policy.sign_in("ana", NOW)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"users\[1\]"):
        policy.dry_run([UserFacts("a", "staff"), "b"], NOW)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="iterable"):
        policy.dry_run(3, NOW)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        policy.nonexistent_decision  # type: ignore[attr-defined]


def test_results_are_frozen_values(policy: Policy) -> None:
    facts = UserFacts("ana", "staff", methods=["passkey", "totp"], backup_codes=True)
    assert facts.methods == ("totp", "passkey")
    with pytest.raises(AttributeError):
        facts.role = "owner"  # type: ignore[misc]
    decision = policy.sign_in(facts, NOW)
    assert decision == policy.sign_in(facts, NOW)
    assert hash(decision) == hash(policy.sign_in(facts, NOW))
    assert decision != policy.sign_in(UserFacts("ana", "staff"), NOW)
    assert isinstance(decision, SignInDecision)
    assert repr(decision) == (
        "SignInDecision(outcome='challenge', methods=('totp', 'passkey'), recovery=True, "
        "reason_code='factor_enrolled', rule='enforcement')"
    )
    assert repr(facts) == (
        "UserFacts(user='ana', role='staff', methods=('totp', 'passkey'), backup_codes=True, "
        "first_sign_in=None, exempt=False)"
    )


def test_every_decision_is_available(policy: Policy) -> None:
    owner = UserFacts("olga", "owner", methods=["totp"])
    staff = UserFacts("sam", "staff")
    assert policy.enforcement_applies(staff, NOW) is True
    assert policy.enforcement_applies(UserFacts("sam", "staff", exempt=True), NOW) is False
    assert policy.passkey_sign_in(staff).outcome == "allowed"
    assert policy.self_unlock("staff").allowed
    assert policy.self_unlock("dentist").reason_code == "unknown_role"
    assert policy.enrollment("staff", "passkey").outcome == "allowed"
    assert policy.trusted_browser_days("staff") == 30
    assert policy.trusted_browser_days("dentist") == 0
    unlock = policy.admin_unlock(owner, staff, "phishing")
    assert (unlock.outcome, unlock.rule) == ("allowed", "roles.owner")
    report = policy.dry_run([owner, staff, UserFacts("x", "dentist"), UserFacts("k", "staff", exempt=True)], NOW)
    assert report.summary == {"must_enroll": 1, "blocked": 1, "exempt": 1, "unaffected": 2}
    assert [user for user, _ in report.unaffected] == ["olga", "k"]
    assert [user for user, _ in report.exempt] == ["k"]
    assert report.exempt[0][1].rule == "application exemption"
    assert report.must_enroll[0][1] == policy.sign_in(staff, NOW)
    assert report.blocked[0][1].reason_code == "unknown_role"


# Python code the binding calls while it walks a dict (isinstance reading a
# __class__ property, isoformat() of a date subclass) may change the dict or
# list being walked: the walk reads a snapshot, and never panics.


def test_a_dict_changed_while_it_is_read_is_read_as_it_was() -> None:
    enforcement: dict[str, Any] = {}

    class Changing(datetime):
        def isoformat(self, *args: Any, **kwargs: Any) -> str:
            enforcement["grace_seconds"] = 0
            enforcement.pop("mode", None)
            return super().isoformat(*args, **kwargs)

    enforcement.update({"from": Changing(2027, 1, 1, tzinfo=timezone.utc), "mode": "required", "grace_seconds": 60})
    policy = Policy.from_dict({"version": 1, "enforcement": enforcement})
    read = json.loads(policy.to_json())["enforcement"]
    assert (read["mode"], read["grace_seconds"], read["from"]) == ("required", 60, "2027-01-01T00:00:00Z")


def test_a_class_property_that_changes_the_dict_does_not_crash() -> None:
    document: dict[str, Any] = {"version": 1}

    class Pretender:
        @property  # type: ignore[misc]
        def __class__(self) -> type:
            document["exemptions"] = []
            document.clear()
            return date

        def isoformat(self) -> str:
            return "2027-01-01"

    document["enforcement"] = {"mode": "required", "from": Pretender()}
    enforcement = document["enforcement"]
    policy = Policy.from_dict(document)
    assert json.loads(policy.to_json())["enforcement"]["from"] == "2027-01-01T00:00:00Z"
    # The same with the changed dict inside: the snapshot of each level is read.
    enforcement["from"] = Pretender()
    document.update({"version": 1, "enforcement": enforcement})
    assert Policy.from_dict(document).mode == "required"


def test_a_list_that_grows_while_it_is_read_is_read_as_it_was() -> None:
    exemptions: list[Any] = []

    class Growing(date):
        def isoformat(self) -> str:
            if len(exemptions) < 5:  # (without a limit, the old walk never ended)
                exemptions.append({"user": "late", "reason": "r", "until": Growing(2027, 1, 1)})
            return super().isoformat()

    exemptions.append({"user": "a", "reason": "r", "until": Growing(2027, 1, 1)})
    policy = Policy.from_dict({"version": 1, "exemptions": exemptions})
    assert [e["user"] for e in json.loads(policy.to_json())["exemptions"]] == ["a"]


# The benchmark's Rust loop (private, used by bench/decisions.py).


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -math.inf, 0.0, -1.0])
def test_the_rust_benchmark_loop_refuses_a_time_budget_that_is_not_a_positive_number(seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds"):
        _rust_decisions_per_second(Policy.example_clinic(), [UserFacts("u", "staff")], NOW, seconds)


def test_the_rust_benchmark_loop_checks_its_budget_between_small_batches() -> None:
    # 20,000 users: a batch of 1,000 sign-in passes over them (20 million
    # decisions) before the first look at the clock would take many seconds;
    # a batch is now about 1,000 decisions. No timing is asserted: only that it
    # returns rates (with the old loop this test crawls).
    users = [UserFacts(f"u{i}", "staff", methods=["totp"]) for i in range(20_000)]
    sign_in, throttle = _rust_decisions_per_second(Policy.example_clinic(), users, NOW, 0.02)
    assert sign_in > 0 and throttle > 0 and math.isfinite(sign_in) and math.isfinite(throttle)
    empty = _rust_decisions_per_second(Policy.example_clinic(), [], NOW, 0.02)
    assert empty[0] == 0 and empty[1] > 0


# Modes are exactly the names the stubs, documents and the command-line tool use.


@pytest.mark.parametrize("mode", ["Required", "REQUIRED", " required", "required ", " REQUIRED ", "Off", "", "sometimes"])
def test_a_mode_must_be_spelled_exactly(policy: Policy, mode: str) -> None:
    owner = UserFacts("o", "owner", methods=("totp",))
    with pytest.raises(ValueError, match='"off", "optional" or "required"'):
        policy.with_mode(mode)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='"off", "optional" or "required"'):
        policy.change_enforcement(owner, mode)  # type: ignore[arg-type]
    for exact in ["off", "optional", "required"]:
        assert policy.with_mode(exact).mode == exact  # type: ignore[arg-type]


# Times past 9999-12-31, which a datetime cannot hold, are also Unix seconds.


def test_deadlines_and_lockouts_past_year_9999_are_kept_as_unix_seconds() -> None:
    grace = Policy.from_toml('version = 1\n[enforcement]\nmode = "required"\ngrace_seconds = 86400')
    late = grace.sign_in(UserFacts("u", "staff"), LATEST)
    assert late.deadline_unix == LATEST + 86_400
    with pytest.raises(ValueError, match="9999"):
        late.deadline
    early = grace.sign_in(UserFacts("u", "staff"), NOW)
    assert early.deadline_unix == NOW + 86_400
    assert early.deadline == datetime.fromtimestamp(NOW + 86_400, timezone.utc)
    assert grace.sign_in(UserFacts("u", "staff", methods=["totp"]), NOW).deadline_unix is None
    lockout = Policy.from_toml("version = 1\n[throttle]\nmax_failures = 3\nlockout = { for_seconds = 3600 }")
    locked = lockout.throttle(3, LATEST, LATEST)
    assert (locked.outcome, locked.until_unix) == ("locked", LATEST + 3600)
    with pytest.raises(ValueError, match="9999"):
        locked.until
    assert lockout.throttle(3, NOW, NOW).until_unix == NOW + 3600
    assert lockout.throttle(3, NOW, NOW).until == datetime.fromtimestamp(NOW + 3600, timezone.utc)
    assert lockout.throttle(0, None, NOW).until_unix is None
    forever = Policy.from_toml('version = 1\n[throttle]\nmax_failures = 3\nlockout = "until_reset"')
    assert forever.throttle(3, NOW, NOW).until_unix is None


# Aware datetimes at any time of day, in any zone, are the same instants as
# their Unix seconds (the seconds within the day count, not only the day).

OFFSETS = [timedelta(0), timedelta(hours=5, minutes=30), timedelta(hours=-8), timedelta(hours=14), timedelta(hours=-23, minutes=-59)]
INSTANTS = [NOW + 1, NOW + 3_599, NOW + 45_296, NOW + 86_399, 1, 86_399, LATEST - 86_400 * 2 + 1]


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("seconds", INSTANTS)
def test_an_aware_datetime_is_the_same_instant_as_its_unix_seconds(offset: timedelta, seconds: int) -> None:
    zone = timezone(offset)
    as_datetime = datetime.fromtimestamp(seconds, zone)
    with_micros = as_datetime.replace(microsecond=999_999)
    assert as_datetime.utcoffset() == offset and as_datetime.timestamp() == seconds
    for time in (as_datetime, with_micros):
        facts = UserFacts("u", "staff", first_sign_in=time)
        assert facts == UserFacts("u", "staff", first_sign_in=seconds)
        assert facts.first_sign_in == datetime.fromtimestamp(seconds, timezone.utc)
    grace = Policy.from_toml('version = 1\n[enforcement]\nmode = "required"\ngrace_seconds = 7200')
    by_datetime = grace.sign_in(UserFacts("u", "staff", first_sign_in=with_micros), as_datetime)
    by_seconds = grace.sign_in(UserFacts("u", "staff", first_sign_in=seconds), seconds)
    assert by_datetime == by_seconds and by_seconds.deadline_unix == seconds + 7200
    # A throttle's wait is the backoff less the seconds since the last failure.
    throttle = Policy.from_toml(
        "version = 1\n[throttle]\nmax_failures = 9\nbackoff_seconds = [900, 900, 900]\nlockout = { for_seconds = 60 }"
    )
    for elapsed in (0, 1, 61, 899):
        if seconds + elapsed > LATEST:
            continue
        later = datetime.fromtimestamp(seconds + elapsed, zone)
        answer = throttle.throttle(2, with_micros, later)
        assert answer == throttle.throttle(2, seconds, seconds + elapsed)
        assert answer.seconds == 900 - elapsed
    # Enforcement from an instant: one second before it, and at it.
    starts = Policy.from_dict({"version": 1, "enforcement": {"mode": "required", "from": as_datetime}})
    before = datetime.fromtimestamp(seconds - 1, zone)
    assert starts.enforcement_applies(UserFacts("u", "staff"), before) is False
    assert starts.enforcement_applies(UserFacts("u", "staff"), as_datetime) is True
    reauth = Policy.example_clinic()
    disable = reauth.self_disable(UserFacts("u", "staff", methods=["totp"]), with_micros, as_datetime)
    assert disable == reauth.self_disable(UserFacts("u", "staff", methods=["totp"]), seconds, seconds)
