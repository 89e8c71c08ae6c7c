#!/usr/bin/env python3
"""Finds time steps (and HOTP counters) close together that share a code.

Random secrets almost never give two steps of one verification window the same
code, so the rule "the latest matching step wins" (TOTP) and "the earliest
matching counter wins" (HOTP) cannot be tested with them. This script searches
offline, with Python's own hmac module (an implementation independent of
twofold-totp), for counters c < d with d - c <= 2 whose 6-digit HOTP codes are
equal, under the RFC 4226 / RFC 6238 test key "12345678901234567890" and its
SHA-256 / SHA-512 lengthenings (RFC 6238 Appendix B).

Output: shared_codes.csv, one row per pair: algorithm, key (ASCII),
first counter, second counter, the shared code.

Run: python3 find_shared_codes.py > shared_codes.csv   (about a minute)
"""
import hashlib
import hmac
import struct
import sys

KEYS = {
    "SHA1": (b"12345678901234567890", hashlib.sha1),
    "SHA256": (b"12345678901234567890123456789012", hashlib.sha256),
    "SHA512": (b"1234567890123456789012345678901234567890123456789012345678901234", hashlib.sha512),
}
SEARCH = 3_000_000  # counters from START
START = 56_000_000  # around 2023 with 30-second steps, so that the times are realistic
WANT = 3            # pairs per algorithm and distance


def hotp(key, digest, counter):
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return value % 1_000_000


def main():
    out = sys.stdout
    out.write("# Pairs of HOTP counters with the same 6-digit code, found by find_shared_codes.py\n")
    out.write("# (Python hmac/hashlib, independent of twofold-totp). Columns: algorithm,key,first,second,code\n")
    for name, (key, digest) in KEYS.items():
        found = {1: 0, 2: 0}
        recent = []
        for counter in range(START, START + SEARCH):
            code = hotp(key, digest, counter)
            for back, earlier in enumerate(reversed(recent), start=1):
                if earlier == code and found[back] < WANT:
                    found[back] += 1
                    out.write(f"{name},{key.decode()},{counter - back},{counter},{code:06d}\n")
            recent = (recent + [code])[-2:]
            if all(n >= WANT for n in found.values()):
                break
        out.flush()


if __name__ == "__main__":
    main()
