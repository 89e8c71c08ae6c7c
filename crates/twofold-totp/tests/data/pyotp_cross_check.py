"""The pyotp side of tests/pyotp_cross_check.rs (pyotp from PyPI, pinned there).

Reads one JSON request per line on stdin and answers one JSON line each:
- {"read": URI}: what pyotp.parse_uri reads from a URI that twofold-totp wrote;
- {"write": {...}}: the URI that pyotp writes (TOTP(...).provisioning_uri()).
A request that pyotp refuses is answered with {"error": message}.
"""
import hashlib
import json
import sys

import pyotp

for line in sys.stdin:
    request = json.loads(line)
    try:
        if "read" in request:
            otp = pyotp.parse_uri(request["read"])
            answer = {
                "issuer": otp.issuer,
                "name": otp.name,
                "secret": otp.secret,
                "algorithm": otp.digest().name,
                "digits": otp.digits,
                "period": otp.interval,
            }
        else:
            case = request["write"]
            otp = pyotp.TOTP(
                case["secret"],
                digits=case["digits"],
                digest=getattr(hashlib, case["algorithm"]),
                name=case["name"],
                issuer=case["issuer"],
                interval=case["period"],
            )
            answer = {"uri": otp.provisioning_uri()}
    except Exception as error:  # reported, and failed on, by the Rust side
        answer = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(answer), flush=True)
