"""Python and Rust agree: random policies, facts and times, decided through the
binding and by the command-line tool (`twofold-policy decide POLICY`, JSON
lines), which reaches the engine by another path (TOML and JSON parsing and a
binary, not PyO3).

The tool is $TWOFOLD_POLICY_BIN, or else built here with
`cargo build -q -p twofold-policy-cli`. Under CI=true this test never skips."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Optional, Union

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
# Deadlines and lockouts stay within what a datetime holds (grace and lockouts
# are at most ten years).
LAST_NOW = 253_402_300_799 - 11 * 366 * DAY
ROLES = ["owner", "admin", "staff"]
USERS = ["ana", "sam", "olga", "kiosk", "lab"]
MODES = ["off", "optional", "required"]


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
    st.integers(0, LAST_NOW),
)
optional_times = st.one_of(st.none(), times)
method_sets = st.lists(st.sampled_from(["totp", "passkey"]), unique=True, max_size=2)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    org_methods = draw(st.lists(st.sampled_from(["totp", "passkey"]), unique=True, min_size=1, max_size=2))
    org_mode = draw(st.sampled_from(MODES))
    grace = draw(st.sampled_from([0, 60, DAY, 7 * DAY]))
    enforcement: dict[str, Any] = {"mode": org_mode, "grace_seconds": grace, "methods": org_methods}
    if draw(st.booleans()):
        enforcement["from"] = datetime.fromtimestamp(draw(times), tz=None).astimezone().isoformat()
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
        {"user": user, "reason": "test", **({"until": datetime.fromtimestamp(u).astimezone()} if u is not None else {})}
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


facts_strategy = st.builds(
    lambda user, role, methods, backup, first, exempt: UserFacts(
        user, role, methods=methods, backup_codes=backup, first_sign_in=first, exempt=exempt
    ),
    st.sampled_from(USERS),
    st.sampled_from(ROLES + ["dentist"]),
    method_sets,
    st.booleans(),
    optional_times,
    st.booleans(),
)


def facts_json(facts: UserFacts) -> dict[str, Any]:
    return {
        "user": facts.user,
        "role": facts.role,
        "methods": list(facts.methods),
        "backup_codes": facts.backup_codes,
        "first_sign_in": unix(facts.first_sign_in),
        "exempt": facts.exempt,
    }


def unix(time: Optional[datetime]) -> Optional[int]:
    return None if time is None else int(time.timestamp())


def why(decision: Union[SignInDecision, PermissionDecision, ResetDecision, ThrottleDecision]) -> dict[str, Any]:
    return {"reason": decision.reason, "reason_code": decision.reason_code, "rule": decision.rule}


def sign_in_json(decision: SignInDecision) -> dict[str, Any]:
    out: dict[str, Any] = {"outcome": decision.outcome}
    if decision.outcome == "challenge":
        out |= {"methods": list(decision.methods or ()), "recovery": decision.recovery}
    if decision.outcome == "must_enroll":
        out |= {
            "deadline": unix(decision.deadline),
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
        out["until"] = unix(decision.until)
    return out | why(decision)


@st.composite
def requests(draw: st.DrawFn, policy: Policy) -> tuple[dict[str, Any], dict[str, Any]]:
    """A request line for the tool, and the binding's answer to it as JSON."""
    kind = draw(
        st.sampled_from(
            ["sign_in", "enforcement_applies", "self_disable", "admin_reset", "change_enforcement", "throttle"]
        )
    )
    now = draw(times)
    if kind == "sign_in":
        facts = draw(facts_strategy)
        return (
            {"decision": kind, "facts": facts_json(facts), "now": now},
            sign_in_json(policy.sign_in(facts, now)),
        )
    if kind == "enforcement_applies":
        facts = draw(facts_strategy)
        return (
            {"decision": kind, "facts": facts_json(facts), "now": now},
            {"applies": policy.enforcement_applies(facts, now)},
        )
    if kind == "self_disable":
        facts = draw(facts_strategy)
        at = draw(st.one_of(st.none(), st.integers(max(0, now - 600), now + 60), times))
        return (
            {"decision": kind, "facts": facts_json(facts), "reauthenticated_at": at, "now": now},
            permission_json(policy.self_disable(facts, at, now)),
        )
    if kind == "admin_reset":
        actor, target = draw(facts_strategy), draw(facts_strategy)
        reason = draw(st.sampled_from(["lost phone", "", "  ", "identity checked"]))
        return (
            {
                "decision": kind,
                "actor": facts_json(actor),
                "target": facts_json(target),
                "reason": reason,
                "now": now,
            },
            reset_json(policy.admin_reset(actor, target, reason, now)),
        )
    if kind == "change_enforcement":
        actor = draw(facts_strategy)
        mode = draw(st.sampled_from(["off", "optional", "required"]))
        return (
            {"decision": kind, "actor": facts_json(actor), "mode": mode},
            permission_json(policy.change_enforcement(actor, mode)),  # type: ignore[arg-type]
        )
    failures = draw(st.one_of(st.integers(0, 15), st.integers(0, 2**32 - 1)))
    last = draw(st.one_of(st.none(), st.integers(max(0, now - 8000), now), times))
    return (
        {"decision": "throttle", "failures": failures, "last_failure": last, "now": now},
        throttle_json(policy.throttle(failures, last, now)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), document=documents())
def test_the_binding_and_the_command_line_tool_decide_alike(tool: Path, data: st.DataObject, document: dict[str, Any]) -> None:
    try:
        policy = Policy.from_dict(document)
    except PolicyError:
        assume(False)
        return
    pairs = data.draw(st.lists(requests(policy), min_size=1, max_size=12))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "policy.toml"
        path.write_text(policy.to_toml())
        lines = "".join(json.dumps(request) + "\n" for request, _ in pairs)
        run = subprocess.run([str(tool), "decide", str(path)], input=lines, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(answers) == len(pairs), run.stdout
    for (request, expected), answer in zip(pairs, answers):
        assert answer == expected, f"request {request}"
