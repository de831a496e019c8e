"""Envelopes, ids, field rules and body rules (PROTOCOL.md sections 3 (3.4:
the common header of the reserved kinds), 4, 6 (6.6: with attributes.py;
6.7-6.8: comments, open-voting and withdrawal), 12.2, 12.3 (version id),
12.5, 12.6, 12.7).

Body parsers return the decoded message as a dict (see wire.py) and raise
Refused on the first rule that fails, in the document's order. None of them
depends on a coalition or a ledger.
"""

import hashlib

from . import attributes as attrs
from . import wire
from .crypto import key_rule
from .errors import Refused

# --- Bounds (6.2) ------------------------------------------------------------------

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
MAX_HEADS = 64
MAX_KEEP = 2048
MAX_DELEGATE_NAME = 128
MAX_DELEGATE_ROLE = 128
MAX_AMENDMENTS = 64
MAX_COMMENT_TEXT = 8192
MAX_REASON = 1000

GENESIS, PROPOSAL, ENDORSEMENT, DELEGATION, REVOCATION, KEY_ROTATION = 1, 2, 3, 5, 6, 7
COMMENT, OPEN_VOTING, WITHDRAWAL = 10, 13, 14
KINDS = {
    GENESIS: "genesis",
    PROPOSAL: "proposal",
    ENDORSEMENT: "endorsement",
    DELEGATION: "delegation",
    REVOCATION: "revocation",
    KEY_ROTATION: "key-rotation",
    # Defined after they were reserved: 13 and 14 keep the signing names fixed then.
    COMMENT: "comment",
    OPEN_VOTING: "kind-13",
    WITHDRAWAL: "kind-14",
}
# Reserved kinds (3.1, 3.4): named now, bodies defined by a later version;
# admitted on their own as opaque objects, never inside a certificate.
RESERVED_KINDS = {4: "kind-4", 8: "kind-8", 9: "node-certificate", 11: "ballot", 12: "roster-head"}
RESERVED_KINDS.update({n: f"kind-{n}" for n in range(15, 32)})
STANCES = {1: "endorse", 2: "object", 3: "abstain"}
# Kinds defined after they were reserved: judged by their header up to the
# signature, as an older node judges them, then by their own body rules (12.8 V5a).
HEADER_FIRST = (COMMENT, OPEN_VOTING, WITHDRAWAL)

# Charter defaults (6.3, 12.2).
DEFAULT_RULES = {"positions": (1, 2), "membership": (2, 3), "amendments": (3, 4)}
RULE_NAMES = ("positions", "membership", "amendments")


def decode(buf, schema, what):
    """Decodes and checks canonical encoding: Malformed / NonCanonical naming `what`."""
    try:
        msg, canonical = wire.parse(buf, schema)
    except wire.Malformed as e:
        raise Refused("Malformed", f"malformed {what}: {e}")
    if not canonical:
        raise Refused(
            "NonCanonical",
            f"{what} is not canonically encoded (unknown fields, default values written out, "
            "fields out of order, repeated or non-minimal varints)",
        )
    return msg


# --- Field rules (6.1) -----------------------------------------------------------------


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


def required(members, rule):
    """required(m) = min(floor(m * n / d) + 1, m) (6.3)."""
    n, d = rule
    return min(members * n // d + 1, members)


# --- Ids (4, 12.3) ------------------------------------------------------------------------


def preimage(kind, body):
    name = KINDS[kind] if kind in KINDS else RESERVED_KINDS[kind]
    return f"chorus/v1/{name}\n".encode("ascii") + body


def object_id(kind, body):
    return hashlib.sha256(preimage(kind, body)).digest()


def signing_input(kind, body):
    if kind == GENESIS:  # founders sign the prefix and the 32-byte genesis id
        return b"chorus/v1/genesis-id\n" + object_id(kind, body)
    return preimage(kind, body)


def version_id(coalition, heads):
    if not heads:
        return bytes(coalition)
    return hashlib.sha256(b"chorus/v1/roster\n" + bytes(coalition) + b"".join(heads)).digest()


# --- Envelope (3.3) ------------------------------------------------------------------------


def envelope_shape(env, alone=False):
    """E1, E4-E9 for an envelope nested in a canonical certificate (E2-E3 are
    covered by the certificate's own decoding), where E4 admits only the
    defined kinds; with `alone`, for an envelope received on its own, where
    it admits the reserved kinds too (3.4). Returns the kind."""
    size = len(env["_raw"])
    if size > MAX_GENESIS_ENVELOPE:
        raise Refused("TooLarge", f"envelope is {size} bytes, over the limit of {MAX_GENESIS_ENVELOPE} bytes")
    kind = env["kind"]
    if kind not in KINDS and not (alone and kind in RESERVED_KINDS):
        raise Refused("UnknownKind", f"object kind {kind} is not part of protocol v1")
    limit = MAX_GENESIS_ENVELOPE if kind == GENESIS else MAX_ENVELOPE
    if size > limit:
        raise Refused("TooLarge", f"envelope is {size} bytes, over the limit of {limit} bytes")
    n = len(env["signatures"])
    most = MAX_MEMBERS if kind == GENESIS else 1
    if n < 1 or n > most:
        raise Refused(
            "SignatureCount",
            f"a {KINDS.get(kind) or RESERVED_KINDS[kind]} carries {1 if n < 1 else most} signature(s), this one carries {n}",
        )
    previous = None
    for i, s in enumerate(env["signatures"]):
        if len(s["signer"]) != 32:
            raise Refused("BadKey", f"envelope signer: a public key is 32 bytes, got {len(s['signer'])}")
        if len(s["signature"]) != 64:
            raise Refused("SignatureLength", f"signature {i} is {len(s['signature'])} bytes; an ed25519 signature is 64 bytes")
        if previous is not None and previous >= s["signer"]:
            raise Refused(
                "SignaturesNotSorted", f"signatures must be sorted by signer key with no signer twice (at signature {i})"
            )
        previous = s["signer"]
    return kind


def expect_kind(env, kind):
    if env["kind"] != kind:
        article = "an" if KINDS[kind][0] in "aeiou" else "a"
        raise Refused("InvalidField", f"kind: expected {article} {KINDS[kind]}, got a {KINDS[env['kind']]}")


# --- Bodies --------------------------------------------------------------------------------


def member_rules(m):
    """The member rules of G6 / A2: name, external id, trust key, attributes.
    Sets m["attrs"] to the member's attributes (attributes.py)."""
    text("member name", m["name"], 1, MAX_NAME, True)
    text("member external id", m["external_id"], 0, MAX_EXTERNAL_ID, True)
    key_rule("member trust key", m["trust_key"])
    m["attrs"] = attrs.member_attributes(m["attributes"])


def charter_rules(charter):
    """G7 / A5: positions, membership, amendments (each if present, with its
    breadth rules), the value sets, the observer access, then each breadth
    rule against the sets. Returns the charter as {"rules": {name: (n, d)},
    "sets": ..., "breadth": {name: [rule]}, "observers": name} (absent
    charter or rule: the default)."""
    rules, breadth = {}, {}
    for name in RULE_NAMES:
        rule = charter[name] if charter is not None else None
        breadth[name] = []
        if rule is None:
            rules[name] = DEFAULT_RULES[name]
            continue
        if not 1 <= rule["denominator"] <= MAX_DENOMINATOR:
            raise Refused("InvalidField", f"adoption rule denominator: must be between 1 and {MAX_DENOMINATOR}")
        if rule["numerator"] > rule["denominator"]:
            raise Refused("InvalidField", "adoption rule numerator: must not exceed the denominator")
        rules[name] = (rule["numerator"], rule["denominator"])
        field = f"{name} breadth rule"
        if len(rule["breadth"]) > attrs.MAX_BREADTH_RULES:
            raise Refused(
                "InvalidField",
                f"{field}: the rule has {len(rule['breadth'])} breadth rules, over the limit of {attrs.MAX_BREADTH_RULES}",
            )
        breadth[name] = [attrs.breadth_rule(field, b) for b in rule["breadth"]]
    sets = attrs.attribute_sets(charter["attributes"] if charter is not None else None)
    observers = observer_access(charter["observers"] if charter is not None else 0)
    for name in RULE_NAMES:
        for b in breadth[name]:
            attrs.check_against(f"{name} breadth rule", b, sets)
    return {"rules": rules, "sets": sets, "breadth": breadth, "observers": observers}


OBSERVER_ACCESS = {0: "positions", 1: "everything", 2: "none"}


def observer_access(v):
    """Charter.observers (6.3): who may follow the coalition without being a
    member. It changes nothing a certificate shows, but a value outside the
    enum makes the charter invalid."""
    if v not in OBSERVER_ACCESS:
        raise Refused("InvalidField", f"observers: {v} is not positions (0), everything (1) or none (2)")
    return OBSERVER_ACCESS[v]


def genesis_body(body):
    g = decode(body, wire.GENESIS, "genesis body")  # G1, G2
    text("coalition name", g["name"], 1, MAX_NAME, True)  # G3
    if not 1 <= len(g["founders"]) <= MAX_MEMBERS:  # G4
        raise Refused("InvalidField", f"founders: must list 1 to {MAX_MEMBERS} members, lists {len(g['founders'])}")
    if len(g["nonce"]) > MAX_NONCE:  # G5
        raise Refused("InvalidField", f"nonce: must be at most {MAX_NONCE} bytes")
    previous = None
    for m in g["founders"]:  # G6
        member_rules(m)
        if previous is not None and previous >= m["trust_key"]:
            raise Refused(
                "InvalidField", f"founders: must be sorted by trust key with no key twice (at {m['trust_key'].hex()})"
            )
        previous = m["trust_key"]
    g["charter_of"] = charter_rules(g["charter"])  # G7
    for m in g["founders"]:  # founders' values in the genesis charter's sets
        attrs.check_values(m["attrs"], g["charter_of"]["sets"], f"founder {m['trust_key'].hex()}")
    time("genesis created_at_ms", g["created_at_ms"])  # G8
    return g


def id_list(field, ids, most, message):
    """A list of at most `most` ids, each I(field), strictly ascending."""
    if len(ids) > most:
        raise Refused("InvalidField", message)
    previous = None
    for x in ids:
        ident(field, x)
        if previous is not None and previous >= x:
            raise Refused("InvalidField", message)
        previous = x


def action_rules(a):
    """A1-A5 (12.2)."""
    present = [
        a["admit"] is not None,
        len(a["remove"]) != 0,
        a["replace_key"] is not None,
        a["amend_charter"] is not None,
        a["amend_member"] is not None,
    ]
    if sum(present) != 1:  # A1
        raise Refused(
            "InvalidField", "action: must set exactly one of admit, remove, replace_key, amend_charter, amend_member"
        )
    if a["admit"] is not None:  # A2
        member_rules(a["admit"])
    elif a["remove"]:  # A3
        key_rule("remove", a["remove"])
    elif a["replace_key"] is not None:  # A4
        r = a["replace_key"]
        key_rule("replace trust", r["trust"])
        key_rule("replace new key", r["new_key"])
        if r["trust"] == r["new_key"]:
            raise Refused("InvalidField", "replace new key: must differ from the trust id")
    elif a["amend_member"] is not None:
        m = a["amend_member"]
        key_rule("amend member trust", m["trust"])
        m["attrs"] = attrs.member_attributes(m["attributes"])
    else:  # A5
        a["charter_of"] = charter_rules(a["amend_charter"])


def action_type(p):
    """None (ordinary proposal), "admit", "remove", "replace_key", "amend_member" or "amend_charter"."""
    a = p["action"]
    if a is None:
        return None
    if a["admit"] is not None:
        return "admit"
    if a["remove"]:
        return "remove"
    if a["replace_key"] is not None:
        return "replace_key"
    if a["amend_member"] is not None:
        return "amend_member"
    return "amend_charter"


def amendments_rules(p):
    """P5b: at most 64 ids of 32 bytes, strictly ascending, and only with a link."""
    ids = p["amendments"]
    if len(ids) > MAX_AMENDMENTS:
        raise Refused("InvalidField", f"amendments: lists {len(ids)} ids, more than {MAX_AMENDMENTS}")
    previous = None
    for i, x in enumerate(ids):
        if len(x) != 32:
            raise Refused("InvalidField", f"amendments: entry {i} is {len(x)} bytes, an id is 32")
        if previous is not None and previous >= x:
            raise Refused("InvalidField", f"amendments: not sorted or an id twice (entry {i})")
        previous = x
    if ids and p["link"] is None:
        raise Refused("InvalidField", "amendments: a text that takes up amendments must link to the draft it revises")


def proposal_body(body):
    """P1-P8 and P8a (A1-A7)."""
    p = decode(body, wire.PROPOSAL, "proposal body")  # P1
    text("title", p["title"], 1, MAX_TITLE, True)  # P2
    text("body", p["body"], 0, MAX_BODY, False)  # P3
    time("proposal created_at_ms", p["created_at_ms"])  # P4
    if p["closes_at_ms"] and p["closes_at_ms"] < p["created_at_ms"]:  # P5
        raise Refused("InvalidField", "closes_at_ms: is before created_at_ms")
    opens = p["voting_opens_at_ms"]
    if opens and opens < p["created_at_ms"]:  # P5a
        raise Refused("InvalidField", "voting_opens_at_ms: is before created_at_ms")
    if opens and p["closes_at_ms"] and opens > p["closes_at_ms"]:
        raise Refused("InvalidField", "voting_opens_at_ms: is after closes_at_ms")
    amendments_rules(p)  # P5b
    if p["link"] is not None:  # P6
        if p["link"]["relation"] not in (1, 2):
            raise Refused(
                "InvalidField", f"link relation: {p['link']['relation']} is not amends (1) or supersedes (2)"
            )
        ident("link target", p["link"]["target"])
    ident("coalition", p["coalition"])  # P7
    ident("roster", p["roster"])
    key_rule("author", p["author"])  # P8
    if p["action"] is not None:  # A1-A5
        action_rules(p["action"])
    id_list("roster heads", p["roster_heads"], MAX_HEADS, "roster heads: must list at most 64 ids, sorted, none twice")  # A6
    if p["roster"] != version_id(p["coalition"], p["roster_heads"]):  # A7
        raise Refused("InvalidField", "roster: is not the version id of roster_heads")
    p["kind_of_action"] = action_type(p)
    return p


def endorsement_body(body):
    """N1-N5, I(delegation) if non-empty, K(trust), M(created_at)."""
    e = decode(body, wire.ENDORSEMENT, "endorsement body")  # N1
    ident("coalition", e["coalition"])  # N2
    text("comment", e["comment"], 0, MAX_COMMENT, False)  # N3
    if e["stance"] not in STANCES:  # N4
        raise Refused("InvalidField", f"stance: {e['stance']} is not endorse (1), object (2) or abstain (3)")
    ident("proposal", e["proposal"])  # N5
    if e["delegation"]:
        ident("delegation", e["delegation"])
    key_rule("trust", e["trust"])
    time("endorsement created_at_ms", e["created_at_ms"])
    return e


def comment_body(body):
    """C1-C9 (6.7): a comment, or with `amendment` a proposed text."""
    c = decode(body, wire.COMMENT, "comment body")
    ident("coalition", c["coalition"])
    time("comment created_at_ms", c["created_at_ms"])
    ident("proposal", c["proposal"])
    key_rule("trust", c["trust"])
    if c["delegation"]:
        ident("delegation", c["delegation"])
    text("text", c["text"], 0, MAX_COMMENT_TEXT, False)
    if c["reply_to"]:
        ident("reply_to", c["reply_to"])
    a = c["amendment"]
    if a is not None:
        text("amendment body", a["body"], 1, MAX_BODY, False)
        text("amendment title", a["title"], 0, MAX_TITLE, True)
    elif not c["text"]:
        raise Refused("InvalidField", "text: a comment must say something (only an amendment may leave it empty)")
    return c


def notice_body(body, kind):
    """6.8: an open-voting (kind 13) or withdrawal (kind 14) by a proposal's author."""
    schema, what = (wire.OPEN_VOTING, "open-voting body") if kind == OPEN_VOTING else (wire.WITHDRAWAL, "withdrawal body")
    n = decode(body, schema, what)
    ident("coalition", n["coalition"])
    label = "open-voting" if kind == OPEN_VOTING else "withdrawal"
    time(f"{label} created_at_ms", n["created_at_ms"])
    ident("proposal", n["proposal"])
    key_rule("author", n["author"])
    if kind == WITHDRAWAL:
        text("reason", n["reason"], 0, MAX_REASON, False)
    return n


def delegation_body(body):
    """12.5."""
    d = decode(body, wire.DELEGATION, "delegation body")
    ident("coalition", d["coalition"])
    key_rule("trust", d["trust"])
    key_rule("delegate", d["delegate"])
    if d["delegate"] == d["trust"]:
        raise Refused("InvalidField", "delegate: must differ from the trust id")
    text("delegate name", d["name"], 1, MAX_DELEGATE_NAME, True)
    text("delegate role", d["role"], 0, MAX_DELEGATE_ROLE, True)
    time("valid_from_ms", d["valid_from_ms"])
    if d["valid_until_ms"] and d["valid_until_ms"] < d["valid_from_ms"]:
        raise Refused("InvalidField", "valid_until_ms: is before valid_from_ms")
    if d["scope"] == 0 or d["scope"] & ~3:
        raise Refused("InvalidField", f"scope: {d['scope']} must be a non-empty combination of stances (1) and node (2)")
    time("delegation created_at_ms", d["created_at_ms"])
    return d


KEEP_MESSAGE = f"keep: must list at most {MAX_KEEP} ids, sorted, none twice"


def revocation_body(body):
    """12.7."""
    r = decode(body, wire.REVOCATION, "revocation body")
    ident("coalition", r["coalition"])
    key_rule("trust", r["trust"])
    ident("delegation", r["delegation"])
    id_list("keep", r["keep"], MAX_KEEP, KEEP_MESSAGE)
    time("revocation created_at_ms", r["created_at_ms"])
    return r


def rotation_body(body, signer):
    """12.6, with the signer check last as 12.8 V2 orders it; `signer` is the envelope's one signer."""
    r = decode(body, wire.KEY_ROTATION, "key rotation body")
    ident("coalition", r["coalition"])
    key_rule("trust", r["trust"])
    key_rule("new_key", r["new_key"])
    id_list("keep", r["keep"], MAX_KEEP, KEEP_MESSAGE)
    time("rotation created_at_ms", r["created_at_ms"])
    # Last (12.8 V2): the new key differs from the envelope's signer, compared as bytes.
    if r["new_key"] == signer:
        raise Refused("InvalidField", "new_key: must differ from the signing key")
    return r


def opaque_header(body):
    """H1-H3 (3.4): the common header of a reserved kind, read from the start
    of the body; whatever follows is never read. Returns (coalition, created_at_ms)."""
    if len(body) < 34 or body[:2] != b"\x0a\x20":  # H1
        raise Refused("InvalidField", "header coalition: must be the body's first field (field 1, 32 bytes)")
    if len(body) < 35 or body[34] != 0x10:  # H2
        raise Refused(
            "InvalidField",
            "header created_at_ms: must be set (milliseconds since 1970) and follow the coalition (field 2)",
        )
    value = 0
    for i, b in enumerate(body[35:45]):  # H3
        if i == 9 and b > 1:
            break
        value |= (b & 0x7F) << (7 * i)
        if b & 0x80 == 0:
            if b == 0:
                raise Refused("NonCanonical", "object header is not canonically encoded")
            return body[2:34], value
    short = len(body) - 35 < 10
    raise Refused("Malformed", f"malformed object header: {'buffer underflow' if short else 'invalid varint'}")


def body_of(kind, body, signer):
    """The body rules of a non-genesis kind."""
    if kind == PROPOSAL:
        return proposal_body(body)
    if kind == ENDORSEMENT:
        return endorsement_body(body)
    if kind == DELEGATION:
        return delegation_body(body)
    if kind == REVOCATION:
        return revocation_body(body)
    if kind == COMMENT:
        return comment_body(body)
    if kind in (OPEN_VOTING, WITHDRAWAL):
        return notice_body(body, kind)
    return rotation_body(body, signer)


class Obj:
    """A carried signed object (not a genesis) whose envelope and body passed their
    rules; or, for a comment, open-voting or withdrawal object (HEADER_FIRST),
    whose header passed them: then `refused` is its body rules' refusal (12.8
    V5a, judged after the signature), or None."""

    __slots__ = ("kind", "id", "body", "signer", "signature", "raw_body", "refused")

    def __init__(self, kind, env, body, refused=None):
        self.kind = kind
        self.refused = refused
        self.raw_body = env["body"]
        self.id = object_id(kind, env["body"])
        self.body = body
        self.signer = bytes(env["signatures"][0]["signer"])
        self.signature = bytes(env["signatures"][0]["signature"])

    def trust(self):
        """The trust the body names: the author of a proposal, open-voting or
        withdrawal, any other kind's trust."""
        return self.body["author"] if self.kind in (PROPOSAL, OPEN_VOTING, WITHDRAWAL) else self.body["trust"]
