"""Just enough protobuf for the two places kubectl insists on it.

- kubectl 1.33 sends some request bodies as ``application/vnd.kubernetes.protobuf`` (the
  review objects of ``auth can-i`` / ``auth whoami``, the Eviction of ``drain``) while
  accepting a JSON answer. Those few kinds are decoded here into the JSON the handlers
  take; any other protobuf body gets 415, as from a server without that kind.
- kubectl 1.27/1.28 read ``/openapi/v2`` only as a protobuf gnostic ``Document``; the
  encoder builds that (see :func:`openapi.v2_document`).

Field numbers are those of the ``generated.proto`` files of k8s.io/api and of gnostic.
"""

from __future__ import annotations

from typing import Any

from .store import ApiError

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"


# ---- wire format --------------------------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def fields(data: bytes) -> list[tuple[int, Any]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, value))
    return out


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_bytes(number: int, payload: bytes | str) -> bytes:
    if isinstance(payload, str):
        payload = payload.encode()
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def field_varint(number: int, value: int) -> bytes:
    return encode_varint(number << 3) + encode_varint(value)


# ---- Kubernetes objects -------------------------------------------------------------------------

Schema = dict[int, tuple[str, Any]]  # field number -> (json name, "str" | "int" | "bool" | sub-schema)

_META: Schema = {1: ("name", "str"), 2: ("generateName", "str"), 3: ("namespace", "str"),
                 5: ("uid", "str"), 6: ("resourceVersion", "str")}
_RESOURCE_ATTRS: Schema = {1: ("namespace", "str"), 2: ("verb", "str"), 3: ("group", "str"),
                           4: ("version", "str"), 5: ("resource", "str"),
                           6: ("subresource", "str"), 7: ("name", "str")}
_ACCESS_SPEC: Schema = {1: ("resourceAttributes", _RESOURCE_ATTRS),
                        2: ("nonResourceAttributes", {1: ("path", "str"), 2: ("verb", "str")})}
_DELETE_OPTIONS: Schema = {1: ("gracePeriodSeconds", "int"),
                           2: ("preconditions", {1: ("uid", "str"), 2: ("resourceVersion", "str")}),
                           4: ("propagationPolicy", "str"), 5: ("dryRun", "list")}
KINDS: dict[str, Schema] = {
    "SelfSubjectRulesReview": {1: ("metadata", _META), 2: ("spec", {1: ("namespace", "str")})},
    "SelfSubjectAccessReview": {1: ("metadata", _META), 2: ("spec", _ACCESS_SPEC)},
    "SelfSubjectReview": {1: ("metadata", _META)},
    "Eviction": {1: ("metadata", _META), 2: ("deleteOptions", _DELETE_OPTIONS)},
}


def _decode(data: bytes, schema: Schema) -> dict:
    out: dict = {}
    for number, value in fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if isinstance(kind, dict):
            out[name] = _decode(value, kind)
        elif kind == "str":
            out[name] = value.decode()
        elif kind == "list":
            out.setdefault(name, []).append(value.decode())
        else:
            out[name] = value
    return out


def decode_object(body: bytes) -> dict:
    """A ``k8s\\0``-framed runtime.Unknown holding one of :data:`KINDS`, as JSON."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body without the k8s envelope")
    envelope = dict(fields(body[len(MAGIC):]))
    type_meta = dict(fields(envelope.get(1, b"")))
    api_version, kind = type_meta.get(1, b"").decode(), type_meta.get(2, b"").decode()
    schema = KINDS.get(kind)
    if schema is None:
        raise ApiError(415, "UnsupportedMediaType",
                       f"the body of the request was in an unknown format - accepted media types "
                       f"include: application/json, application/yaml (protobuf only for {sorted(KINDS)})")
    obj = _decode(envelope.get(2, b""), schema)
    obj.update(apiVersion=api_version, kind=kind)
    return obj
