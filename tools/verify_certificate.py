#!/usr/bin/env python3
"""Independent verifier of Chorus v1 certificates, written from docs/PROTOCOL.md.

An auditor's tool: it shares no code with the Rust implementation. It uses
only the Python standard library (hashlib) and PyNaCl (libsodium) for ed25519,
with a hand-written protobuf reader that applies the canonical encoding rule
of PROTOCOL.md section 2 directly.

Usage:
    verify_certificate.py CERT_FILE [--coalition HEX]   # raw certificate bytes ("-" for stdin)
    verify_certificate.py --hex HEX [--coalition HEX]
    verify_certificate.py --vectors docs/PROTOCOL.md     # check against the document's test vectors

Prints "ok coalition=... proposal=... members=N required=R endorsers=K1,K2,..."
and exits 0 for a valid certificate; prints "<Error>: <reason>" and exits 1
otherwise. <Error> is the error name of PROTOCOL.md section 9.1.
"""

import argparse
import hashlib
import sys

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

# --- Bounds (PROTOCOL.md 6.2) ---------------------------------------------

MAX_ENVELOPE = 96 * 1024
MAX_GENESIS_ENVELOPE = 4 * 1024 * 1024
MAX_CERTIFICATE = 16 * 1024 * 1024
MAX_MEMBERS = 10_000
MAX_NAME = 128
MAX_EXTERNAL_ID = 64
MAX_NONCE = 32
MAX_TITLE = 200
MAX_BODY = 64 * 1024
MAX_COMMENT = 1000
MAX_DENOMINATOR = 1_000_000

KINDS = {1: "genesis", 2: "proposal", 3: "endorsement"}


class Refused(Exception):
    """A rule of PROTOCOL.md failed: `code` is the error name, `reason` free text."""

    def __init__(self, code, reason):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def nested(prefix, err):
    """Wraps an object's rejection as the certificate reports it (Genesis/..., Proposal/...)."""
    return Refused(f"{prefix}/{err.code}", err.reason)


# --- Protobuf reader with the canonical rule (PROTOCOL.md 2.1) ----------------

U32, U64, ENUM, BYTES, STRING = "u32", "u64", "enum", "bytes", "string"

SIGNATURE = {1: ("signer", BYTES, False), 2: ("signature", BYTES, False)}
ENVELOPE = {1: ("kind", ENUM, False), 2: ("body", BYTES, False), 3: ("signatures", SIGNATURE, True)}
ADOPTION_RULE = {1: ("numerator", U32, False), 2: ("denominator", U32, False)}
CHARTER = {1: ("positions", ADOPTION_RULE, False)}
MEMBER = {1: ("trust_key", BYTES, False), 2: ("name", STRING, False), 3: ("external_id", STRING, False)}
GENESIS = {
    1: ("name", STRING, False),
    2: ("charter", CHARTER, False),
    3: ("founders", MEMBER, True),
    4: ("created_at_ms", U64, False),
    5: ("nonce", BYTES, False),
}
LINK = {1: ("target", BYTES, False), 2: ("relation", ENUM, False)}
PROPOSAL = {
    1: ("coalition", BYTES, False),
    2: ("roster", BYTES, False),
    3: ("author", BYTES, False),
    4: ("created_at_ms", U64, False),
    5: ("closes_at_ms", U64, False),
    6: ("title", STRING, False),
    7: ("body", STRING, False),
    8: ("link", LINK, False),
}
ENDORSEMENT = {
    1: ("coalition", BYTES, False),
    2: ("proposal", BYTES, False),
    3: ("trust", BYTES, False),
    4: ("created_at_ms", U64, False),
    5: ("stance", ENUM, False),
    6: ("comment", STRING, False),
}
CERTIFICATE = {
    1: ("version", U32, False),
    2: ("genesis", ENVELOPE, False),
    3: ("proposal", ENVELOPE, False),
    4: ("endorsements", ENVELOPE, True),
}


class Malformed(Exception):
    pass


def read_varint(buf, pos):
    """Returns (value, new position, minimal?)."""
    start, value, shift = pos, 0, 0
    while True:
        if pos >= len(buf):
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


def skip_field(buf, pos, wire_type):
    if wire_type == 0:
        return read_varint(buf, pos)[1]
    if wire_type == 1:
        pos += 8
    elif wire_type == 2:
        n, pos, _ = read_varint(buf, pos)
        pos += n
    elif wire_type == 5:
        pos += 4
    else:
        raise Malformed(f"wire type {wire_type}")
    if pos > len(buf):
        raise Malformed("truncated field")
    return pos


def parse(buf, schema):
    """Decodes `buf` as the message `schema`. Returns (message, canonical?);
    raises Malformed if it does not decode at all."""
    msg = {"_raw": bytes(buf)}
    for name, kind, repeated in schema.values():
        msg[name] = [] if repeated else (None if isinstance(kind, dict) else (b"" if kind == BYTES else "" if kind == STRING else 0))
    canonical, last, pos = True, 0, 0
    while pos < len(buf):
        key, pos, minimal = read_varint(buf, pos)
        canonical &= minimal
        field, wire_type = key >> 3, key & 7
        if field == 0:
            raise Malformed("field number 0")
        if field not in schema:
            canonical = False  # unknown (or reserved) field
            pos = skip_field(buf, pos, wire_type)
            continue
        name, kind, repeated = schema[field]
        expected = 0 if kind in (U32, U64, ENUM) else 2
        if wire_type != expected:
            raise Malformed(f"field {field} has wire type {wire_type}")
        if field < last or (field == last and not repeated):
            canonical = False  # out of order, or written twice
        last = max(last, field)
        if wire_type == 0:
            v, pos, minimal = read_varint(buf, pos)
            canonical &= minimal and v != 0
            if kind == U32:
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
                v, ok = parse(data, kind)
                canonical &= ok  # an empty present message is canonical
            else:
                canonical &= n != 0
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


def decode(buf, schema, what):
    try:
        msg, canonical = parse(buf, schema)
    except Malformed as e:
        raise Refused("Malformed", f"malformed {what}: {e}")
    if not canonical:
        raise Refused("NonCanonical", f"{what} is not canonically encoded")
    return msg


# --- Keys (PROTOCOL.md 5, key rule), in pure Python --------------------------

P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decompress(b):
    """RFC 8032 5.1.3 point decoding of a canonical encoding, or None."""
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    sign = b[31] >> 7
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x2 = u * pow(v, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = (P - x) % P  # x = 0 with the sign bit set stays 0 (small order, refused next)
    return x, y


def add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + y1 * x2) * pow(1 + t, P - 2, P) % P, (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P)


def key_rule(field, b):
    if len(b) != 32:
        raise Refused("BadKey", f"{field}: a public key is 32 bytes, got {len(b)}")
    if int.from_bytes(b, "little") & ((1 << 255) - 1) >= P:
        raise Refused("BadKey", f"{field}: public key {b.hex()} is not a canonical point encoding")
    point = decompress(b)
    if point is None:
        raise Refused("BadKey", f"{field}: public key {b.hex()} is not a point on the curve")
    q = point
    for _ in range(3):
        q = add(q, q)
    if q == (0, 1):
        raise Refused("BadKey", f"{field}: public key {b.hex()} is a small-order (weak) point")
    return bytes(b)


def signature_ok(key, message, signature):
    """libsodium's crypto_sign_verify_detached: the strict rule of section 5."""
    try:
        VerifyKey(key).verify(message, signature)
        return True
    except BadSignatureError:
        return False


# --- Field rules (PROTOCOL.md 6.1) --------------------------------------------


def text(field, s, lo, hi, single_line):
    n = len(s.encode("utf-8"))
    if n < lo:
        raise Refused("InvalidField", f"{field}: must not be empty")
    if n > hi:
        raise Refused("InvalidField", f"{field}: is {n} bytes, over the limit of {hi}")
    for c in s:
        o = ord(c)
        if (o < 0x20 or 0x7F <= o <= 0x9F) and (single_line or c not in "\t\n\r"):
            raise Refused("InvalidField", f"{field}: contains control character U+{o:04X}")


def ident(field, b):
    if len(b) != 32:
        raise Refused("InvalidField", f"{field}: must be 32 bytes, is {len(b)}")
    return b


def time(field, t):
    if t == 0:
        raise Refused("InvalidField", f"{field}: must be set (milliseconds since 1970)")
    return t


def object_id(kind, body):
    return hashlib.sha256(f"chorus/v1/{KINDS[kind]}\n".encode("ascii") + body).digest()


def signing_input(kind, body):
    if kind == 1:  # genesis: founders sign the prefix and the 32-byte genesis id
        return b"chorus/v1/genesis-id\n" + object_id(kind, body)
    return f"chorus/v1/{KINDS[kind]}\n".encode("ascii") + body


# --- Envelope and bodies (PROTOCOL.md 3.3, 6.3-6.5) ----------------------------


def envelope_shape(env):
    """E1, E4-E9 for an envelope nested in a canonical certificate (E2-E3 done)."""
    size = len(env["_raw"])
    if size > MAX_GENESIS_ENVELOPE:
        raise Refused("TooLarge", f"envelope is {size} bytes")
    kind = env["kind"]
    if kind not in KINDS:
        raise Refused("UnknownKind", f"object kind {kind} is not part of protocol v1")
    limit = MAX_GENESIS_ENVELOPE if kind == 1 else MAX_ENVELOPE
    if size > limit:
        raise Refused("TooLarge", f"envelope is {size} bytes, over the limit of {limit} bytes")
    n = len(env["signatures"])
    if not (1 <= n <= (MAX_MEMBERS if kind == 1 else 1)):
        raise Refused("SignatureCount", f"a {KINDS[kind]} carries {n} signatures")
    previous = None
    for i, s in enumerate(env["signatures"]):
        if len(s["signer"]) != 32:
            raise Refused("BadKey", f"envelope signer: a public key is 32 bytes, got {len(s['signer'])}")
        if len(s["signature"]) != 64:
            raise Refused("SignatureLength", f"signature {i} is {len(s['signature'])} bytes")
        if previous is not None and previous >= s["signer"]:
            raise Refused("SignaturesNotSorted", f"signatures not sorted by signer (at signature {i})")
        previous = s["signer"]
    return kind


def expect_kind(env, kind):
    if env["kind"] != kind:
        raise Refused("InvalidField", f"kind: expected a {KINDS[kind]}, got a {KINDS[env['kind']]}")


def genesis_body(body):
    g = decode(body, GENESIS, "genesis body")
    text("coalition name", g["name"], 1, MAX_NAME, True)
    if not 1 <= len(g["founders"]) <= MAX_MEMBERS:
        raise Refused("InvalidField", f"founders: must list 1 to {MAX_MEMBERS} members, lists {len(g['founders'])}")
    if len(g["nonce"]) > MAX_NONCE:
        raise Refused("InvalidField", f"nonce: must be at most {MAX_NONCE} bytes")
    previous = None
    for m in g["founders"]:
        text("member name", m["name"], 1, MAX_NAME, True)
        text("member external id", m["external_id"], 0, MAX_EXTERNAL_ID, True)
        key_rule("member trust key", m["trust_key"])
        if previous is not None and previous >= m["trust_key"]:
            raise Refused("InvalidField", f"founders: must be sorted by trust key with no key twice (at {m['trust_key'].hex()})")
        previous = m["trust_key"]
    n, d = 1, 2
    if g["charter"] is not None and g["charter"]["positions"] is not None:
        n, d = g["charter"]["positions"]["numerator"], g["charter"]["positions"]["denominator"]
        if not 1 <= d <= MAX_DENOMINATOR:
            raise Refused("InvalidField", f"adoption rule denominator: must be between 1 and {MAX_DENOMINATOR}")
        if n > d:
            raise Refused("InvalidField", "adoption rule numerator: must not exceed the denominator")
    time("genesis created_at_ms", g["created_at_ms"])
    g["rule"] = (n, d)
    return g


def proposal_body(body):
    p = decode(body, PROPOSAL, "proposal body")
    text("title", p["title"], 1, MAX_TITLE, True)
    text("body", p["body"], 0, MAX_BODY, False)
    time("proposal created_at_ms", p["created_at_ms"])
    if p["closes_at_ms"] and p["closes_at_ms"] < p["created_at_ms"]:
        raise Refused("InvalidField", "closes_at_ms: is before created_at_ms")
    if p["link"] is not None:
        if p["link"]["relation"] not in (1, 2):
            raise Refused("InvalidField", f"link relation: {p['link']['relation']} is not amends (1) or supersedes (2)")
        ident("link target", p["link"]["target"])
    ident("coalition", p["coalition"])
    ident("roster", p["roster"])
    key_rule("author", p["author"])
    return p


def endorsement_body(body, coalition_id, members):
    e = decode(body, ENDORSEMENT, "endorsement body")
    ident("coalition", e["coalition"])
    text("comment", e["comment"], 0, MAX_COMMENT, False)
    if e["stance"] not in (1, 2, 3):
        raise Refused("InvalidField", f"stance: {e['stance']} is not endorse (1), object (2) or abstain (3)")
    ident("proposal", e["proposal"])
    if e["coalition"] != coalition_id:
        raise Refused("WrongCoalition", f"object belongs to coalition {e['coalition'].hex()}")
    if e["trust"] not in members:
        raise Refused("NotAMember", f"{e['trust'].hex()} is not a member trust of this coalition")
    time("endorsement created_at_ms", e["created_at_ms"])
    return e


def single_signer(env, field, named, members):
    signer = env["signatures"][0]["signer"]
    if signer != named:
        raise Refused("SignerMismatch", f"signed by {signer.hex()}, but the {field} named in the body is {named.hex()}")
    if signer not in members:
        raise Refused("NotAMember", f"{signer.hex()} is not a member trust of this coalition")


# --- Certificate (PROTOCOL.md 9.1) ----------------------------------------------


def verify(cert, expected=None):
    if not cert:  # 1
        raise Refused("Empty", "certificate is empty")
    if len(cert) > MAX_CERTIFICATE:  # 2
        raise Refused("TooLarge", f"certificate is {len(cert)} bytes")
    c = decode(cert, CERTIFICATE, "certificate")  # 3, 4
    if c["version"] != 1:  # 5
        raise Refused("UnsupportedVersion", f"certificate format version {c['version']} is not supported")
    genesis = c["genesis"]
    if genesis is None:  # 6
        raise Refused("Missing", "certificate has no genesis")
    try:  # 7, 8
        envelope_shape(genesis)
        expect_kind(genesis, 1)
        g = genesis_body(genesis["body"])
        founders = [m["trust_key"] for m in g["founders"]]
        if len(genesis["signatures"]) != len(founders):
            raise Refused("SignatureCount", f"a genesis carries {len(founders)} signatures")
        for i, (s, f) in enumerate(zip(genesis["signatures"], founders)):
            if s["signer"] != f:
                raise Refused("InvalidField", f"genesis signatures: signature {i} is not by the founder at that place")
    except Refused as e:
        raise nested("Genesis", e)
    coalition = object_id(1, genesis["body"])
    if expected is not None and coalition != expected:  # 9
        raise Refused("WrongCoalition", f"certificate is for coalition {coalition.hex()}, not {expected.hex()}")
    message = signing_input(1, genesis["body"])
    for s in genesis["signatures"]:  # 10
        if not signature_ok(s["signer"], message, s["signature"]):
            raise Refused("Genesis/BadSignature", f"signature by {s['signer'].hex()} does not verify")
    members = {m["trust_key"]: m["name"] for m in g["founders"]}

    proposal = c["proposal"]
    if proposal is None:  # 11
        raise Refused("Missing", "certificate has no proposal")
    try:  # 12
        envelope_shape(proposal)
        expect_kind(proposal, 2)
        p = proposal_body(proposal["body"])
        if p["coalition"] != coalition:
            raise Refused("WrongCoalition", f"object belongs to coalition {p['coalition'].hex()}")
        if p["roster"] != coalition:
            raise Refused("UnknownRoster", f"roster version {p['roster'].hex()} is unknown")
        single_signer(proposal, "author", p["author"], members)
    except Refused as e:
        raise nested("Proposal", e)
    proposal_id = object_id(2, proposal["body"])
    s = proposal["signatures"][0]
    if not signature_ok(s["signer"], signing_input(2, proposal["body"]), s["signature"]):  # 13
        raise Refused("Proposal/BadSignature", f"signature by {s['signer'].hex()} does not verify")

    endorsers, previous = [], None
    for i, env in enumerate(c["endorsements"]):  # 14
        try:
            envelope_shape(env)
            expect_kind(env, 3)
            e = endorsement_body(env["body"], coalition, members)
            single_signer(env, "trust", e["trust"], members)
        except Refused as err:
            raise nested("Endorsement", err)
        if e["proposal"] != proposal_id:
            raise Refused("WrongProposal", f"endorsement {i} is for proposal {e['proposal'].hex()}")
        if e["stance"] != 1:
            raise Refused("NotAnEndorsement", f"endorsement {i} has stance {e['stance']}")
        if p["closes_at_ms"] and e["created_at_ms"] > p["closes_at_ms"]:
            raise Refused("AfterClosing", f"endorsement {i} was signed after the proposal closed")
        if previous is not None and previous == e["trust"]:
            raise Refused("DuplicateTrust", f"endorsement {i} counts trust {e['trust'].hex()} a second time")
        if previous is not None and previous > e["trust"]:
            raise Refused("NotSorted", f"endorsement {i} is out of order")
        if not signature_ok(e["trust"], signing_input(3, env["body"]), env["signatures"][0]["signature"]):
            raise Refused("BadSignature", f"endorsement {i} has a bad signature (signer {e['trust'].hex()})")
        previous = e["trust"]
        endorsers.append(e["trust"])

    m = len(members)  # 15
    n, d = g["rule"]
    required = min(m * n // d + 1, m)
    if len(endorsers) < required:
        raise Refused("BelowThreshold", f"{len(endorsers)} endorsements, but adoption needs {required} of {m} members")
    return (
        f"ok coalition={coalition.hex()} proposal={proposal_id.hex()} members={m} required={required} "
        f"endorsers={','.join(k.hex() for k in endorsers)}"
    )


# --- Test vectors (PROTOCOL.md 11) ------------------------------------------------


def read_vectors(path):
    vectors, inside = {}, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n").rstrip()
            if not inside:
                inside = line == "```vectors"
                continue
            if line == "```":
                inside = False
                continue
            if line and not line.startswith("#"):
                name, value = line.split(": ", 1)
                vectors[name] = value
    return vectors


def check_vectors(path):
    v = read_vectors(path)
    failures = 0
    # Section 12 (governance) is not implemented here: its vectors (gov.*,
    # certificate.gov_*) are skipped.
    for name in sorted(k[: -len(".body")] for k in v if k.endswith(".body") and not k.startswith("gov.")):
        kind = {"genesis": 1, "proposal": 2}.get(name, 3)
        body = bytes.fromhex(v[f"{name}.body"])
        ok = object_id(kind, body).hex() == v[f"{name}.id"]
        env = decode(bytes.fromhex(v[f"{name}.envelope"]), ENVELOPE, "envelope")
        ok &= env["body"] == body and all(
            signature_ok(s["signer"], signing_input(kind, body), s["signature"]) for s in env["signatures"]
        )
        print(f"{'pass' if ok else 'FAIL'} {name}: id and signatures")
        failures += not ok
    coalition = bytes.fromhex(v["genesis.id"])
    for name in sorted(
        k for k in v if k.startswith("certificate.") and k.count(".") == 1 and not k.startswith("certificate.gov_")
    ):
        try:
            got = verify(bytes.fromhex(v[name]), coalition)
            ok = got == v.get(f"{name}.result")
        except Refused as e:
            got = e.code
            ok = got == v.get(f"{name}.error")
        print(f"{'pass' if ok else 'FAIL'} {name}: {got}")
        failures += not ok
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", help="certificate file (raw bytes), - for stdin")
    ap.add_argument("--hex", help="certificate as hex")
    ap.add_argument("--coalition", help="expected coalition id (hex)")
    ap.add_argument("--vectors", help="check the test vectors of PROTOCOL.md")
    args = ap.parse_args()
    if args.vectors:
        sys.exit(1 if check_vectors(args.vectors) else 0)
    if args.hex is not None:
        cert = bytes.fromhex(args.hex)
    elif args.file == "-":
        cert = sys.stdin.buffer.read()
    elif args.file:
        with open(args.file, "rb") as f:
            cert = f.read()
    else:
        ap.error("give a certificate file, --hex or --vectors")
    expected = bytes.fromhex(args.coalition) if args.coalition else None
    try:
        print(verify(cert, expected))
    except Refused as e:
        print(f"{e.code}: {e.reason}")
        sys.exit(1)


if __name__ == "__main__":
    main()
