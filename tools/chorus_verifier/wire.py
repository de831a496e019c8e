"""Hand-written protobuf reader that applies the canonical encoding rule of
PROTOCOL.md section 2.1 directly, and the message schemas of objects.proto.

A decoding failure (what a standard proto3 decoder refuses: truncated input,
bad wire type for a defined field, invalid UTF-8, ...) raises Malformed; a
decodable message that is not in canonical encoding is reported by parse()
returning canonical=False.
"""

U32, U64, ENUM, BYTES, STRING, BOOL = "u32", "u64", "enum", "bytes", "string", "bool"

# Each schema maps a field number to (name, type, repeated); a dict type is an
# embedded message. A repeated u32 is packed, as proto3 writes repeated scalars.
SIGNATURE = {1: ("signer", BYTES, False), 2: ("signature", BYTES, False)}
ENVELOPE = {1: ("kind", ENUM, False), 2: ("body", BYTES, False), 3: ("signatures", SIGNATURE, True)}
BREADTH_RULE = {1: ("attribute", U32, False), 2: ("min_distinct", U32, False), 3: ("each_of", STRING, True)}
ADOPTION_RULE = {
    1: ("numerator", U32, False),
    2: ("denominator", U32, False),
    3: ("breadth", BREADTH_RULE, True),
}
ATTRIBUTE_SETS = {
    1: ("regions", STRING, True),
    2: ("phases", STRING, True),
    3: ("trust_types", STRING, True),
    4: ("school_bands", U32, True),
}
CHARTER = {
    1: ("positions", ADOPTION_RULE, False),
    2: ("membership", ADOPTION_RULE, False),
    3: ("amendments", ADOPTION_RULE, False),
    4: ("attributes", ATTRIBUTE_SETS, False),
    5: ("observers", ENUM, False),
}
MEMBER_ATTRIBUTES = {
    1: ("region", STRING, False),
    2: ("phase", STRING, False),
    3: ("trust_type", STRING, False),
    4: ("schools", U32, False),
    5: ("pupils", U32, False),
    6: ("labels", STRING, True),
}
MEMBER = {
    1: ("trust_key", BYTES, False),
    2: ("name", STRING, False),
    3: ("external_id", STRING, False),
    4: ("attributes", MEMBER_ATTRIBUTES, False),
}
AMEND_MEMBER = {1: ("trust", BYTES, False), 2: ("attributes", MEMBER_ATTRIBUTES, False)}
GENESIS = {
    1: ("name", STRING, False),
    2: ("charter", CHARTER, False),
    3: ("founders", MEMBER, True),
    4: ("created_at_ms", U64, False),
    5: ("nonce", BYTES, False),
}
LINK = {1: ("target", BYTES, False), 2: ("relation", ENUM, False)}
KEY_REPLACEMENT = {1: ("trust", BYTES, False), 2: ("new_key", BYTES, False)}
ACTION = {
    1: ("admit", MEMBER, False),
    2: ("remove", BYTES, False),
    3: ("replace_key", KEY_REPLACEMENT, False),
    4: ("amend_charter", CHARTER, False),
    5: ("amend_member", AMEND_MEMBER, False),
}
PROPOSAL = {
    1: ("coalition", BYTES, False),
    2: ("roster", BYTES, False),
    3: ("author", BYTES, False),
    4: ("created_at_ms", U64, False),
    5: ("closes_at_ms", U64, False),
    6: ("title", STRING, False),
    7: ("body", STRING, False),
    8: ("link", LINK, False),
    9: ("action", ACTION, False),
    10: ("roster_heads", BYTES, True),
    11: ("voting_opens_at_ms", U64, False),
    12: ("draft", BOOL, False),
    13: ("amendments", BYTES, True),
}
ENDORSEMENT = {
    1: ("coalition", BYTES, False),
    2: ("proposal", BYTES, False),
    3: ("trust", BYTES, False),
    4: ("created_at_ms", U64, False),
    5: ("stance", ENUM, False),
    6: ("comment", STRING, False),
    7: ("delegation", BYTES, False),
}
DELEGATION = {
    1: ("coalition", BYTES, False),
    2: ("trust", BYTES, False),
    3: ("delegate", BYTES, False),
    4: ("name", STRING, False),
    5: ("role", STRING, False),
    6: ("valid_from_ms", U64, False),
    7: ("valid_until_ms", U64, False),
    8: ("scope", U32, False),
    9: ("created_at_ms", U64, False),
}
REVOCATION = {
    1: ("coalition", BYTES, False),
    2: ("trust", BYTES, False),
    3: ("delegation", BYTES, False),
    4: ("keep", BYTES, True),
    5: ("created_at_ms", U64, False),
}
KEY_ROTATION = {
    1: ("coalition", BYTES, False),
    2: ("trust", BYTES, False),
    3: ("new_key", BYTES, False),
    4: ("keep", BYTES, True),
    5: ("created_at_ms", U64, False),
}
AMENDMENT = {1: ("body", STRING, False), 2: ("title", STRING, False)}
COMMENT = {
    1: ("coalition", BYTES, False),
    2: ("created_at_ms", U64, False),
    3: ("proposal", BYTES, False),
    4: ("trust", BYTES, False),
    5: ("delegation", BYTES, False),
    6: ("text", STRING, False),
    7: ("reply_to", BYTES, False),
    8: ("amendment", AMENDMENT, False),
}
OPEN_VOTING = {
    1: ("coalition", BYTES, False),
    2: ("created_at_ms", U64, False),
    3: ("proposal", BYTES, False),
    4: ("author", BYTES, False),
}
WITHDRAWAL = dict(OPEN_VOTING)
WITHDRAWAL[5] = ("reason", STRING, False)
SEAL_BODY = {
    1: ("coalition", BYTES, False),
    2: ("proposal", BYTES, False),
    3: ("trust", BYTES, False),
    4: ("delegation", BYTES, False),
    5: ("stances", BYTES, True),
}
SEAL = {1: ("body", BYTES, False), 2: ("signature", SIGNATURE, False)}
CERTIFICATE = {
    1: ("version", U32, False),
    2: ("genesis", ENVELOPE, False),
    3: ("proposal", ENVELOPE, False),
    4: ("endorsements", ENVELOPE, True),
    5: ("chain", ENVELOPE, True),
    6: ("dissent", ENVELOPE, True),
    7: ("seal", SEAL, False),
}

# Nesting budget of messages and groups, as a standard decoder bounds it.
RECURSION_LIMIT = 100


class Malformed(Exception):
    pass


def read_varint(buf, pos, end=None):
    """Returns (value, new position, minimal?); the varint ends before `end`
    (default: the end of `buf`)."""
    end = len(buf) if end is None else end
    start, value, shift = pos, 0, 0
    while True:
        if pos >= end:
            raise Malformed("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            break
        shift += 7
        if pos - start == 10:
            raise Malformed("varint longer than 10 bytes")
    if value >= 1 << 64:
        raise Malformed("varint above 2^64")
    return value, pos, (pos - start == 1 or buf[pos - 1] != 0)


def read_key(buf, pos):
    """Returns (field number, wire type, new position, minimal?)."""
    key, pos, minimal = read_varint(buf, pos)
    if key > 0xFFFFFFFF:
        raise Malformed(f"invalid key value {key}")
    wire_type = key & 7
    if wire_type > 5:
        raise Malformed(f"invalid wire type {wire_type}")
    field = key >> 3
    if field == 0:
        raise Malformed("field number 0")
    return field, wire_type, pos, minimal


def skip_field(buf, pos, field, wire_type, budget):
    """Skips an unknown field (a standard decoder skips it; it is never canonical)."""
    if budget <= 0:
        raise Malformed("recursion limit reached")
    if wire_type == 0:
        return read_varint(buf, pos)[1]
    if wire_type == 1:
        n = 8
    elif wire_type == 5:
        n = 4
    elif wire_type == 2:
        n, pos, _ = read_varint(buf, pos)
    elif wire_type == 3:  # a group: skip to its matching end
        while True:
            inner, inner_type, pos, _ = read_key(buf, pos)
            if inner_type == 4:
                if inner != field:
                    raise Malformed("unexpected end group tag")
                return pos
            pos = skip_field(buf, pos, inner, inner_type, budget - 1)
    else:
        raise Malformed("unexpected end group tag")
    if pos + n > len(buf):
        raise Malformed("truncated field")
    return pos + n


def default(kind, repeated):
    if repeated:
        return []
    if isinstance(kind, dict):
        return None
    if kind == BOOL:
        return False
    return b"" if kind == BYTES else "" if kind == STRING else 0


def parse(buf, schema, budget=RECURSION_LIMIT):
    """Decodes `buf` as the message `schema`. Returns (message, canonical?);
    raises Malformed if it does not decode at all."""
    msg = {"_raw": bytes(buf)}
    for name, kind, repeated in schema.values():
        msg[name] = default(kind, repeated)
    canonical, last, pos = True, 0, 0
    while pos < len(buf):
        field, wire_type, pos, minimal = read_key(buf, pos)
        canonical &= minimal
        if field not in schema:
            canonical = False  # unknown (or reserved) field
            pos = skip_field(buf, pos, field, wire_type, budget)
            continue
        name, kind, repeated = schema[field]
        if kind == U32 and repeated:
            # Packed (wire type 2) is the canonical form, written once when the
            # list is not empty; one element per varint field also decodes.
            if wire_type == 2:
                n, pos, minimal = read_varint(buf, pos)
                canonical &= minimal and n != 0 and field > last
                if pos + n > len(buf):
                    raise Malformed("truncated length-delimited field")
                end, inner = pos + n, pos
                while inner < end:
                    v, inner, minimal = read_varint(buf, inner, end)
                    canonical &= minimal and v < 1 << 32
                    msg[name].append(v & 0xFFFFFFFF)
                pos = end
            elif wire_type == 0:
                v, pos, _ = read_varint(buf, pos)
                canonical = False
                msg[name].append(v & 0xFFFFFFFF)
            else:
                raise Malformed(f"field {field} has wire type {wire_type}")
            last = max(last, field)
            continue
        expected = 0 if kind in (U32, U64, ENUM, BOOL) else 2
        if wire_type != expected:
            raise Malformed(f"field {field} has wire type {wire_type}")
        if field < last or (field == last and not repeated):
            canonical = False  # out of order, or written twice
        last = max(last, field)
        if wire_type == 0:
            v, pos, minimal = read_varint(buf, pos)
            canonical &= minimal and v != 0
            if kind == BOOL:
                # A decoder reads any non-zero varint as true; true is written as 1.
                canonical &= v == 1
                v = v != 0
            elif kind == U32:
                canonical &= v < 1 << 32
                v &= 0xFFFFFFFF
            elif kind == ENUM:
                # int32: non-negative below 2^31, negative sign-extended to 64 bits.
                canonical &= v < 1 << 31 or v >= (1 << 64) - (1 << 31)
                v &= 0xFFFFFFFF
                v = v - (1 << 32) if v >= 1 << 31 else v
        else:
            n, pos, minimal = read_varint(buf, pos)
            canonical &= minimal
            if pos + n > len(buf):
                raise Malformed("truncated length-delimited field")
            data = bytes(buf[pos : pos + n])
            pos += n
            if isinstance(kind, dict):
                if budget <= 0:
                    raise Malformed("recursion limit reached")
                v, ok = parse(data, kind, budget - 1)
                canonical &= ok  # an empty present message is canonical
            else:
                # A singular bytes/string field is written only when non-empty;
                # an element of a repeated bytes field is written whatever its length.
                canonical &= n != 0 or repeated
                if kind == STRING:
                    try:
                        v = data.decode("utf-8")
                    except UnicodeDecodeError:
                        raise Malformed(f"field {field} is not valid UTF-8")
                else:
                    v = data
        if repeated:
            msg[name].append(v)
        else:
            msg[name] = v
    return msg, canonical
