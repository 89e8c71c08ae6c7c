"""Decisions per second through the Python binding (one call per decision),
beside the same decisions made in Rust, in one run.

    python bindings/python/bench/decisions.py [--seconds 2] [--repeat 5]

Run it with a release wheel installed (maturin build --release). The mix of
users and the policy are those of benches/benches/policy.rs (criterion's
`policy/sign_in_mixed_8_users` and `policy/throttle`). The Rust column runs the
same decisions in a loop inside the installed extension (the same build of the
engine), with the GIL released. Prints the best of the repeats.
"""

from __future__ import annotations

import argparse
import timeit

from twofold_policy import Policy, UserFacts
from twofold_policy._native import _rust_decisions_per_second  # type: ignore[import-not-found]

POLICY = """
version = 1
[enforcement]
mode = "required"
grace_seconds = 604800
[roles.owner]
may_reset = ["admin", "staff"]
may_change_enforcement = true
[roles.admin]
may_reset = ["staff"]
grace_seconds = 86400
[roles.staff]
[roles.hygienist]
methods = ["passkey"]
[[exemptions]]
user = "front-desk-kiosk"
reason = "shared terminal"
[[exemptions]]
user = "lab-scanner"
reason = "device account"
"""
NOW = 1_800_000_000
WEEK_AGO = NOW - 8 * 86_400
USERS = [
    UserFacts("olga", "owner", methods=["totp", "passkey"], backup_codes=True),
    UserFacts("sam", "staff", first_sign_in=WEEK_AGO),
    UserFacts("adam", "admin"),
    UserFacts("hy", "hygienist", methods=["totp"]),
    UserFacts("front-desk-kiosk", "staff"),
    UserFacts("x", "dentist"),
    UserFacts("sue", "staff", methods=["passkey"]),
    UserFacts("lab-scanner", "staff"),
]


def python_rate(statement: str, decisions_per_run: int, seconds: float, repeat: int, env: dict[str, object]) -> float:
    timer = timeit.Timer(statement, globals=env)
    number, elapsed = timer.autorange()
    number = max(1, int(number * seconds / max(elapsed, 1e-9)))
    best = min(timer.repeat(repeat=repeat, number=number))
    return number * decisions_per_run / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per repeat")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    policy = Policy.from_toml(POLICY)
    env: dict[str, object] = {"policy": policy, "users": USERS, "now": NOW}
    py_sign_in = python_rate(
        "for facts in users: policy.sign_in(facts, now)", len(USERS), args.seconds, args.repeat, env
    )
    py_throttle = python_rate("policy.throttle(5, now, now)", 1, args.seconds, args.repeat, env)
    rust = [_rust_decisions_per_second(policy, USERS, NOW, args.seconds * 2) for _ in range(args.repeat)]
    rust_sign_in = max(r[0] for r in rust)
    rust_throttle = max(r[1] for r in rust)
    print(f"{'decision':<24}{'Python (per s)':>16}{'Rust (per s)':>16}{'Rust/Python':>13}{'ns/call (Py)':>14}")
    for name, py, rs in [
        ("sign_in (8-user mix)", py_sign_in, rust_sign_in),
        ("throttle", py_throttle, rust_throttle),
    ]:
        print(f"{name:<24}{py:>16,.0f}{rs:>16,.0f}{rs / py:>12.1f}x{1e9 / py:>14.0f}")


if __name__ == "__main__":
    main()
