"""Two-factor enforcement, authorization and throttling decisions, with the
policy as data: the Python binding of the Rust crate twofold-policy."""

from ._native import (
    DryRunReport,
    InvalidDateError,
    InvalidFieldError,
    PermissionDecision,
    Policy,
    PolicyError,
    PolicySyntaxError,
    ResetDecision,
    SignInDecision,
    ThrottleDecision,
    UnsupportedVersionError,
    UserFacts,
    __version__,
)

__all__ = [
    "DryRunReport",
    "InvalidDateError",
    "InvalidFieldError",
    "PermissionDecision",
    "Policy",
    "PolicyError",
    "PolicySyntaxError",
    "ResetDecision",
    "SignInDecision",
    "ThrottleDecision",
    "UnsupportedVersionError",
    "UserFacts",
    "__version__",
]
