"""Python and Rust agree: random policies, facts and times, decided through the
binding and by the command-line tool (`twofold-policy decide POLICY`, JSON
lines, and `twofold-policy dry-run POLICY --users CSV --json`), which reaches
the engine by another path (TOML and JSON parsing, CSV and a binary, not
PyO3). The binding gets its times as Unix seconds or as aware datetimes in
random zones, the tool always as Unix seconds; the binding loads the policy
from the dict, from JSON or from TOML. passkey_sign_in, self_unlock and
enrollment are not compared: `decide` has no request for them.

The tool is $TWOFOLD_POLICY_BIN, or else built here with
`cargo build -q -p twofold-policy-cli`. Under CI=true this test never skips."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Union

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from twofold_policy import (
    Policy,
    PolicyError,
    PermissionDecision,
    ResetDecision,
    SignInDecision,
    ThrottleDecision,
    UserFacts,
)

ROOT = Path(__file__).resolve().parents[3]
BASE = 1_800_000_000
DAY = 86_400
LATEST = 253_402_300_799  # 9999-12-31T23:59:59Z: the last instant accepted
ROLES = ["owner", "admin", "staff"]
USERS = ["ana", "sam", "olga", "kiosk", "lab"]
MODES = ["off", "optional", "required"]
# UTC offsets a datetime may have (strictly within a day), in minutes.
OFFSET_MINUTES = st.one_of(st.sampled_from([0, 330, -480, 60, -210, 840]), st.integers(-(24 * 60 - 1), 24 * 60 - 1))


@pytest.fixture(scope="module")
def tool() -> Path:
    given_path = os.environ.get("TWOFOLD_POLICY_BIN")
    if given_path:
        path = Path(given_path)
        if not path.is_absolute():
            path = ROOT / path
        assert path.is_file(), f"TWOFOLD_POLICY_BIN={given_path} is not a file"
        return path
    build = subprocess.run(
        ["cargo", "build", "-q", "-p", "twofold-policy-cli"], cwd=ROOT, capture_output=True, text=True
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    path = target / "debug" / "twofold-policy"
    if build.returncode != 0 or not path.is_file():
        message = f"the command-line tool could not be built: {build.stderr.strip()[-2000:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


times = st.one_of(
    st.integers(BASE - 30 * DAY, BASE + 30 * DAY),
    st.integers(0, LATEST),
)
optional_times = st.one_of(st.none(), times)
METHODS: list[Literal["totp", "passkey"]] = ["totp", "passkey"]
method_sets = st.lists(st.sampled_from(METHODS), unique=True, max_size=2)
# A time as the command-line tool gets it (Unix seconds) and as Python gets
# it: the same int, or an aware datetime at that instant in a random zone,
# sometimes with a fraction of a second (which the binding rounds down).
PyTime = Union[int, datetime]


def aware(draw: st.DrawFn, seconds: int) -> datetime:
    zone = timezone(timedelta(minutes=draw(OFFSET_MINUTES)))
    try:
        time = datetime.fromtimestamp(seconds, zone)
    except (OverflowError, ValueError):  # past 9999-12-31 in that zone
        time = datetime.fromtimestamp(seconds, timezone.utc)
    if draw(st.booleans()):
        time = time.replace(microsecond=draw(st.integers(0, 999_999)))
    return time


@st.composite
def instants(draw: st.DrawFn, seconds: st.SearchStrategy[int] = times) -> tuple[int, PyTime]:
    t = draw(seconds)
    return t, (t if draw(st.booleans()) else aware(draw, t))


@st.composite
def optional_instants(
    draw: st.DrawFn, seconds: st.SearchStrategy[int] = times
) -> tuple[Optional[int], Optional[PyTime]]:
    if draw(st.booleans()):
        return None, None
    return draw(instants(seconds))


def document_time(draw: st.DrawFn, seconds: int) -> Any:
    """A date of a policy document in a dict: an aware datetime or its text."""
    time = aware(draw, seconds).replace(microsecond=0)
    return time if draw(st.booleans()) else time.isoformat()


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    org_methods = draw(st.lists(st.sampled_from(["totp", "passkey"]), unique=True, min_size=1, max_size=2))
    org_mode = draw(st.sampled_from(MODES))
    grace = draw(st.sampled_from([0, 60, DAY, 7 * DAY]))
    enforcement: dict[str, Any] = {"mode": org_mode, "grace_seconds": grace, "methods": org_methods}
    if draw(st.booleans()):
        enforcement["from"] = document_time(draw, draw(times))
    names = draw(st.lists(st.sampled_from(ROLES), unique=True, max_size=3))
    roles: dict[str, Any] = {}
    for name in names:
        role: dict[str, Any] = {}
        if draw(st.booleans()):
            role["enforcement"] = draw(st.sampled_from(MODES[MODES.index(org_mode) :]))
        if draw(st.booleans()):
            role["grace_seconds"] = draw(st.integers(0, grace))
        if draw(st.booleans()):
            role["methods"] = draw(st.lists(st.sampled_from(org_methods), unique=True, min_size=1))
        role["may_reset"] = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
        role["may_change_enforcement"] = draw(st.booleans())
        roles[name] = role
    document: dict[str, Any] = {"version": 1, "enforcement": enforcement, "roles": roles}
    if draw(st.booleans()):
        document["unknown_roles"] = draw(st.sampled_from(["organization", "refuse"] if names else ["organization"]))
    exempted = draw(st.lists(st.sampled_from(USERS), unique=True, max_size=2))
    document["exemptions"] = [
        {"user": user, "reason": "test", **({"until": document_time(draw, u)} if u is not None else {})}
        for user, u in ((user, draw(optional_times)) for user in exempted)
    ]
    max_failures = draw(st.integers(1, 12))
    backoff = sorted(draw(st.lists(st.integers(0, 900), max_size=6)))
    lockout: Union[str, dict[str, int]] = draw(
        st.one_of(st.just("until_reset"), st.builds(lambda s: {"for_seconds": s}, st.integers(1, 7200)))
    )
    document["throttle"] = {
        "max_failures": max_failures,
        "backoff_seconds": backoff,
        "lockout": lockout,
        "ceiling": draw(st.integers(max_failures, 100)),
    }
    return document


@st.composite
def facts_strategy(draw: st.DrawFn) -> tuple[UserFacts, dict[str, Any]]:
    """A user's facts for the binding, and the same facts as the tool's JSON."""
    user, role = draw(st.sampled_from(USERS)), draw(st.sampled_from(ROLES + ["dentist"]))
    methods, backup, exempt = draw(method_sets), draw(st.booleans()), draw(st.booleans())
    first, first_py = draw(optional_instants())
    facts = UserFacts(user, role, methods=methods, backup_codes=backup, first_sign_in=first_py, exempt=exempt)
    as_json = {
        "user": user,
        "role": role,
        "methods": methods,
        "backup_codes": backup,
        "first_sign_in": first,
        "exempt": exempt,
    }
    return facts, as_json


def unix(time: Optional[datetime]) -> Optional[int]:
    return None if time is None else int(time.timestamp())


def seconds_field(unix_value: Optional[int], read: Callable[[], Optional[datetime]]) -> Optional[int]:
    """A time of a result, in Unix seconds; its datetime twin agrees with it,
    or raises ValueError past 9999-12-31, which a datetime cannot hold."""
    if unix_value is not None and unix_value > LATEST:
        with pytest.raises(ValueError, match="9999"):
            read()
    else:
        time = read()
        assert unix(time) == unix_value
        assert time is None or time.utcoffset() == timedelta(0)
    return unix_value


def why(decision: Union[SignInDecision, PermissionDecision, ResetDecision, ThrottleDecision]) -> dict[str, Any]:
    return {"reason": decision.reason, "reason_code": decision.reason_code, "rule": decision.rule}


def sign_in_json(decision: SignInDecision) -> dict[str, Any]:
    out: dict[str, Any] = {"outcome": decision.outcome}
    if decision.outcome == "challenge":
        out |= {"methods": list(decision.methods or ()), "recovery": decision.recovery}
    if decision.outcome == "must_enroll":
        out |= {
            "deadline": seconds_field(decision.deadline_unix, lambda: decision.deadline),
            "methods": list(decision.methods or ()),
            "can_defer": decision.can_defer,
        }
    return out | why(decision)


def permission_json(decision: PermissionDecision) -> dict[str, Any]:
    return {"outcome": decision.outcome} | why(decision)


def reset_json(decision: ResetDecision) -> dict[str, Any]:
    out: dict[str, Any] = {"outcome": decision.outcome}
    if decision.outcome == "allowed":
        out["must_enroll_at_next_sign_in"] = decision.must_enroll_at_next_sign_in
    return out | why(decision)


def throttle_json(decision: ThrottleDecision) -> dict[str, Any]:
    out: dict[str, Any] = {"outcome": decision.outcome}
    if decision.outcome == "retry_after":
        out["seconds"] = decision.seconds
    if decision.outcome == "locked":
        out["until"] = seconds_field(decision.until_unix, lambda: decision.until)
    return out | why(decision)


@st.composite
def requests(draw: st.DrawFn, policy: Policy) -> tuple[dict[str, Any], dict[str, Any]]:
    """A request line for the tool, and the binding's answer to it as JSON."""
    kind = draw(
        st.sampled_from(
            [
                "sign_in",
                "enforcement_applies",
                "self_disable",
                "admin_reset",
                "admin_unlock",
                "change_enforcement",
                "throttle",
            ]
        )
    )
    now, now_py = draw(instants())
    if kind == "sign_in":
        facts, facts_js = draw(facts_strategy())
        return (
            {"decision": kind, "facts": facts_js, "now": now},
            sign_in_json(policy.sign_in(facts, now_py)),
        )
    if kind == "enforcement_applies":
        facts, facts_js = draw(facts_strategy())
        return (
            {"decision": kind, "facts": facts_js, "now": now},
            {"applies": policy.enforcement_applies(facts, now_py)},
        )
    if kind == "self_disable":
        facts, facts_js = draw(facts_strategy())
        at, at_py = draw(optional_instants(st.one_of(st.integers(max(0, now - 600), min(LATEST, now + 60)), times)))
        return (
            {"decision": kind, "facts": facts_js, "reauthenticated_at": at, "now": now},
            permission_json(policy.self_disable(facts, at_py, now_py)),
        )
    if kind in ("admin_reset", "admin_unlock"):
        (actor, actor_js), (target, target_js) = draw(facts_strategy()), draw(facts_strategy())
        reason = draw(st.sampled_from(["lost phone", "", "  ", "identity checked"]))
        request = {"decision": kind, "actor": actor_js, "target": target_js, "reason": reason}
        if kind == "admin_unlock":
            return request, permission_json(policy.admin_unlock(actor, target, reason))
        return request | {"now": now}, reset_json(policy.admin_reset(actor, target, reason, now_py))
    if kind == "change_enforcement":
        actor, actor_js = draw(facts_strategy())
        mode = draw(st.sampled_from(MODES))
        return (
            {"decision": kind, "actor": actor_js, "mode": mode},
            permission_json(policy.change_enforcement(actor, mode)),  # type: ignore[arg-type]
        )
    failures = draw(st.one_of(st.integers(0, 15), st.integers(0, 2**32 - 1)))
    last, last_py = draw(optional_instants(st.one_of(st.integers(max(0, now - 8000), now), times)))
    return (
        {"decision": "throttle", "failures": failures, "last_failure": last, "now": now},
        throttle_json(policy.throttle(failures, last_py, now_py)),
    )


def document_json(document: dict[str, Any]) -> str:
    """The dict as JSON text, its dates as ISO 8601 text (as TOML would give them)."""
    return json.dumps(document, default=lambda value: value.isoformat())


# How the binding loads the policy: from the dict itself, from the JSON text
# the tool reads, or from the TOML or JSON the binding writes, read back.
LOADERS: dict[str, Callable[[dict[str, Any]], Policy]] = {
    "from_dict": Policy.from_dict,
    "from_json": lambda document: Policy.from_json(document_json(document)),
    "from_json(to_json)": lambda document: Policy.from_json(Policy.from_dict(document).to_json()),
    "from_toml(to_toml)": lambda document: Policy.from_toml(Policy.from_dict(document).to_toml()),
    "from_dict(to_json)": lambda document: Policy.from_dict(json.loads(Policy.from_dict(document).to_json())),
}


COLUMNS = ["user", "role", "methods", "first_sign_in", "backup_codes", "exempt"]


def users_csv(users: list[dict[str, Any]], columns: list[str]) -> str:
    """users.csv for the tool's dry-run (its columns are read by name, in any order)."""
    cell: dict[str, Callable[[dict[str, Any]], str]] = {
        "methods": lambda facts: ";".join(facts["methods"]),
        "first_sign_in": lambda facts: "" if facts["first_sign_in"] is None else str(facts["first_sign_in"]),
        "backup_codes": lambda facts: "true" if facts["backup_codes"] else "false",
        "exempt": lambda facts: "yes" if facts["exempt"] else "no",
    }
    rows = [",".join(columns)]
    for facts in users:
        rows.append(",".join(cell[c](facts) if c in cell else facts[c] for c in columns))
    return "\n".join(rows) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    document=documents(),
    loader=st.sampled_from(sorted(LOADERS)),
    tool_format=st.sampled_from(["json", "toml"]),
)
def test_the_binding_and_the_command_line_tool_decide_alike(
    tool: Path, data: st.DataObject, document: dict[str, Any], loader: str, tool_format: str
) -> None:
    try:
        policy = LOADERS[loader](document)
    except PolicyError:
        assume(False)
        return
    pairs = data.draw(st.lists(requests(policy), min_size=1, max_size=12))
    users = data.draw(st.lists(facts_strategy(), min_size=1, max_size=8))
    at, at_py = data.draw(instants())
    with tempfile.TemporaryDirectory() as directory:
        # The tool reads the document as the test wrote it (JSON), or as the
        # binding writes it (TOML).
        path = Path(directory) / f"policy.{tool_format}"
        path.write_text(document_json(document) if tool_format == "json" else Policy.from_dict(document).to_toml())
        lines = "".join(json.dumps(request) + "\n" for request, _ in pairs)
        run = subprocess.run([str(tool), "decide", str(path)], input=lines, capture_output=True, text=True, timeout=60)
        csv = Path(directory) / "users.csv"
        csv.write_text(users_csv([facts_js for _, facts_js in users], data.draw(st.permutations(COLUMNS))))
        dry = subprocess.run(
            [str(tool), "dry-run", str(path), "--users", str(csv), "--at", str(at), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(answers) == len(pairs), run.stdout
    for (request, expected), answer in zip(pairs, answers):
        assert answer == expected, f"request {request}"

    # dry-run: the same groups, in input order, with the same decisions.
    report = policy.dry_run([facts for facts, _ in users], at_py)
    assert dry.returncode in (0, 1), dry.stderr
    assert (dry.returncode == 1) == bool(report.blocked), "the tool exits 1 when anyone is blocked"
    cli = json.loads(dry.stdout)
    assert cli["at"] == at
    assert cli["summary"] == report.summary
    assert [(u["user"], u["role"]) for u in cli["users"]] == [(f.user, f.role) for f, _ in users]
    decided = [(u["user"], {k: v for k, v in u.items() if k not in ("user", "role")}) for u in cli["users"]]
    groups = {
        "must_enroll": [e for e in decided if e[1]["outcome"] == "must_enroll"],
        "blocked": [e for e in decided if e[1]["outcome"] == "blocked"],
        "unaffected": [e for e in decided if e[1]["outcome"] in ("allow", "challenge")],
        "exempt": [e for e in decided if e[1]["outcome"] in ("allow", "challenge") and e[1]["reason_code"] == "exempt"],
    }
    ours = {
        "must_enroll": report.must_enroll,
        "blocked": report.blocked,
        "unaffected": report.unaffected,
        "exempt": report.exempt,
    }
    for name, entries in ours.items():
        assert [(user, sign_in_json(decision)) for user, decision in entries] == groups[name], name
