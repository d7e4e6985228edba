#!/usr/bin/env python3
"""An independent implementation of docs/integrity.md, written from the text
alone: recomputes the canonical bytes, content digests and hashes of the
committed vectors and checks them.

    python3 docs/integrity-reference.py proto/testdata/integrity-vectors.json
"""
import hashlib
import json
import struct
import sys
import uuid
from decimal import Decimal


def number(value):
    value = float(value)
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    # repr() is the shortest round-trip form; 'f' writes it without exponent.
    return format(Decimal(repr(value)), "f")


ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def string(text):
    out = '"'
    for char in text:
        if char in ESCAPES:
            out += ESCAPES[char]
        elif ord(char) < 0x20:
            out += "\\u%04x" % ord(char)
        else:
            out += char
    return out + '"'


def canonical_json(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    keys = sorted(value, key=lambda key: key.encode("utf-8"))
    return "{" + ",".join(string(key) + ":" + canonical_json(value[key]) for key in keys) + "}"


def text(value):
    data = value.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def canonical_bytes(entry):
    actor = entry["actor"] or {"id": "", "type": 0, "name": "", "email": ""}
    target = entry["target"] or {"type": "", "id": "", "name": ""}
    request = entry["request"] or {"method": "", "path": "", "status_code": 0}
    metadata = "" if entry["metadata"] is None else canonical_json(entry["metadata"])
    return b"".join([
        b"audit.v1.entry\n",
        text(entry["tenant_id"]),
        uuid.UUID(entry["id"]).bytes,
        struct.pack(">qqq", entry["sequence"], entry["occurred_at_us"], entry["received_at_us"]),
        text(entry["action"]),
        text(actor["id"]), struct.pack(">i", actor["type"]), text(actor["name"]), text(actor["email"]),
        text(target["type"]), text(target["id"]), text(target["name"]),
        struct.pack(">i", entry["result"]),
        text(entry["client_ip"]), text(entry["user_agent"]),
        text(request["method"]), text(request["path"]), struct.pack(">i", request["status_code"]),
        text(metadata), text(entry["request_id"]), text(entry["idempotency_key"]),
    ])


def main(path):
    vectors = json.load(open(path, encoding="utf-8"))
    previous = bytes.fromhex(vectors["genesis_hash"])
    ok = True
    for entry in vectors["entries"]:
        data = canonical_bytes(entry)
        digest = hashlib.sha256(data).digest()
        link = hashlib.sha256(digest + previous).digest()
        previous = link
        expected = entry["expected"]
        same = (data.hex(), digest.hex(), link.hex()) == (
            expected["canonical_bytes"], expected["content_digest"], expected["hash"])
        print(entry["sequence"], "ok" if same else "MISMATCH")
        ok = ok and same
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
