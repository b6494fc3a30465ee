#!/usr/bin/env python3
"""Verify a credit report file with no code of the platform: the recipe of docs/reports.md.

Usage: verify-report.py REPORT_FILE KEY_SET_FILE
Needs: pip install cryptography blake3
Exit 0 when valid, 1 naming what failed.
"""

import json
import sys
from datetime import datetime, timezone

import blake3
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def canonical(value):
    """RFC 8785 for what reports hold (strings, integers, booleans, null, arrays, objects; no floats):
    members sorted by UTF-16 code units, no whitespace, ECMAScript string escaping."""
    if isinstance(value, dict):
        names = sorted(value, key=lambda name: name.encode("utf-16-be"))
        return "{" + ",".join(canonical(name) + ":" + canonical(value[name]) for name in names) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(item) for item in value) + "]"
    if isinstance(value, float):
        raise ValueError("reports hold no floating-point numbers")
    return json.dumps(value, ensure_ascii=False)


def verification_code(digest):
    bits = int.from_bytes(digest[:8], "big") >> 4
    chars = [CROCKFORD[(bits >> (55 - 5 * i)) & 31] for i in range(12)]
    return "-".join("".join(chars[i : i + 4]) for i in (0, 4, 8))


def fail(reason):
    print(f"invalid: {reason}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    raw = open(sys.argv[1], "rb").read()
    keys = json.load(open(sys.argv[2], encoding="utf-8"))["keys"]
    try:
        document = json.loads(raw.decode("utf-8"))
    except ValueError as error:
        fail(f"not a JSON report file: {error}")
    if raw != (canonical(document) + "\n").encode("utf-8"):
        fail("the file is not in its canonical form")
    signed = {"format": document["format"], "key_id": document["key_id"], "report": document["report"]}
    digest = blake3.blake3(canonical(signed).encode("utf-8")).digest()
    if document["digest"] != digest.hex():
        fail("digest mismatch")
    if document["verification_code"] != verification_code(digest):
        fail("verification code mismatch")
    key = next((k for k in keys if k["key_id"] == document["key_id"]), None)
    if key is None:
        fail(f"unknown key {document['key_id']}")
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key["public_key"]))
        public.verify(bytes.fromhex(document["signature"]), digest)
    except InvalidSignature:
        fail("bad signature")
    valid_until = datetime.fromisoformat(document["report"]["valid_until"].replace("Z", "+00:00"))
    if datetime.now(timezone.utc) > valid_until:
        fail(f"expired at {valid_until.isoformat()}")
    report = document["report"]
    print(f"valid: {report['report_number']} {report['subject']['name']} key {document['key_id']} "
          f"code {document['verification_code']}")


if __name__ == "__main__":
    main()
