#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/<target>/seed-*: a few requests
a client could send, hand-encoded in the protobuf wire format (no protobuf
library needed): python3 fuzz/seeds.py"""

import os
import struct


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, value):
    """One field: int → varint, bool → varint, str/bytes → length-delimited."""
    if isinstance(value, bool) or isinstance(value, int):
        return varint(number << 3) + varint(int(value))
    if isinstance(value, float):
        return varint(number << 3 | 1) + struct.pack("<d", value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def message(*fields):
    return b"".join(fields)


def timestamp(seconds, nanos=0):
    return message(field(1, seconds), field(2, nanos))


def struct_value(kind, value):
    # google.protobuf.Value: null 1, number 2, string 3, bool 4, struct 5, list 6
    return message(field(kind, value))


def struct_of(pairs):
    # google.protobuf.Struct: map<string, Value> fields = 1
    return message(*(field(1, message(field(1, k), field(2, v))) for k, v in pairs))


def entry(action, idempotency_key="", metadata=None, occurred_at=None):
    parts = [
        field(2, action),
        field(3, message(field(1, "u_42"), field(2, 1), field(4, "ada@example.com"))),
        field(4, message(field(1, "api_key"), field(2, "key_7"))),
        field(5, 1),
        field(6, "203.0.113.7"),
        field(7, "curl/8.5"),
        field(8, message(field(1, "POST"), field(2, "/v1/keys"), field(3, 201))),
        field(10, "req-1"),
    ]
    if occurred_at is not None:
        parts.insert(0, field(1, occurred_at))
    if metadata is not None:
        parts.append(field(9, metadata))
    if idempotency_key:
        parts.append(field(11, idempotency_key))
    return message(*parts)


scopes = struct_of([
    ("scopes", struct_value(6, message(field(1, struct_value(3, "read"))))),
    ("count", struct_value(2, 3.0)),
    ("nested", struct_value(5, struct_of([("k", struct_value(3, "v"))]))),
])
append = {
    "seed-login": message(field(1, message(field(2, "user.login"), field(5, 1)))),
    "seed-full": message(field(1, entry("api_key.created", "key-1", scopes,
                                           timestamp(1_700_000_000, 123_456_789)))),
    "seed-batch": message(field(1, entry("user.login", "a")), field(1, entry("user.logout", "b"))),
    "seed-repeated-key": message(field(1, entry("user.login", "a")), field(1, entry("user.login", "a"))),
}

# filter: the first byte 0 reads the rest as protobuf, 2 as an admin's.
def list_request(*fields):
    return message(*fields)

filters = {
    "seed-empty": b"\x00",
    "seed-action": b"\x00" + list_request(field(1, message(field(4, "user.*"), field(8, "10.0.0.0/8"))),
                                          field(3, 50), field(6, True)),
    "seed-range": b"\x00" + list_request(field(1, message(field(1, "u_42"), field(3, 1), field(7, 1),
                                                          field(9, timestamp(1_600_000_000)),
                                                          field(10, timestamp(1_800_000_000)))),
                                         field(2, 2), field(4, 10)),
    "seed-admin": b"\x02" + list_request(field(1, message(field(11, "globex"))), field(7, True)),
    "seed-token": b"\x00" + list_request(field(5, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5")),
    "seed-fields": b"\x01" + bytes(range(64)),
}

# page_token: the first four bytes pick the case (forged, sealed, issued,
# issued follow), the rest fills it.
tokens = {
    f"seed-case-{i}": bytes([0, 0, 0, i * 0x40]) + bytes(range(7, 71))
    for i in range(4)
}

os.chdir(os.path.dirname(os.path.abspath(__file__)))
for target, seeds in [("append_request", append), ("filter", filters), ("page_token", tokens)]:
    os.makedirs(f"corpus/{target}", exist_ok=True)
    for name, data in seeds.items():
        with open(f"corpus/{target}/{name}", "wb") as out:
            out.write(data)
