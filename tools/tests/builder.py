"""Builds signed Chorus v1 objects and certificates in canonical encoding, for the
independent verifier's own tests (written from docs/PROTOCOL.md and
proto/chorus/v1/objects.proto, like the verifier; it shares no code with it
beyond what the tests choose to call).

Every message is written field by field in ascending order, defaults left
out, as the canonical rule of PROTOCOL.md section 2 requires.
"""

import hashlib

from nacl.signing import SigningKey

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
ENDORSE, OBJECT, ABSTAIN = 1, 2, 3
NAMES = {1: "genesis", 2: "proposal", 3: "endorsement", 5: "delegation", 6: "revocation", 7: "key-rotation"}
NAMES.update({10: "comment", 13: "kind-13", 14: "kind-14"})


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def uint(field, n):
    """A varint field, left out when 0."""
    return varint(field << 3) + varint(n) if n else b""


def raw(field, data):
    """A length-delimited field written whatever its length (an element of a
    repeated field, or a present message)."""
    data = data.encode("utf-8") if isinstance(data, str) else data
    return varint(field << 3 | 2) + varint(len(data)) + data


def blob(field, data):
    """A singular bytes/string field, left out when empty."""
    return raw(field, data) if data else b""


def message(field, data):
    """An embedded message, left out when None."""
    return raw(field, data) if data is not None else b""


def repeated(field, items):
    return b"".join(raw(field, x) for x in items)


def object_id(kind, body):
    return hashlib.sha256(f"chorus/v1/{NAMES[kind]}\n".encode() + body).digest()


def signature(signer, sig):
    return blob(1, signer) + blob(2, sig)


def envelope(kind, body, signatures):
    """signatures: [(signer public key, 64-byte signature)], in the order given."""
    return uint(1, kind) + blob(2, body) + repeated(3, [signature(k, s) for k, s in signatures])


class Key:
    def __init__(self, seed_byte):
        self.sk = SigningKey(bytes([seed_byte]) * 32)
        self.public = self.sk.verify_key.encode()

    def sign(self, message):
        return self.sk.sign(message).signature


def sign_object(key, kind, body):
    """An envelope of one signature by `key` over "chorus/v1/<kind>\\n" || body."""
    preimage = f"chorus/v1/{NAMES[kind]}\n".encode() + body
    return envelope(kind, body, [(key.public, key.sign(preimage))])


class Signed:
    """An envelope with its kind, body and id."""

    def __init__(self, kind, body, env):
        self.kind, self.body, self.env = kind, body, env
        self.id = object_id(kind, body)


class Coalition:
    """A coalition of `n` founders (seeds 1..n, founders sorted by key), charter
    absent (positions: more than one half) unless `charter` gives the encoded
    Charter message."""

    def __init__(self, n=3, name="Test Coalition", charter=None):
        self.keys = sorted((Key(i + 1) for i in range(n)), key=lambda k: k.public)
        founders = [blob(1, k.public) + blob(2, f"Trust {i}") for i, k in enumerate(self.keys)]
        self.genesis_body = blob(1, name) + message(2, charter) + repeated(3, founders) + uint(4, T0)
        self.id = object_id(1, self.genesis_body)
        signed = b"chorus/v1/genesis-id\n" + self.id
        self.genesis = envelope(1, self.genesis_body, [(k.public, k.sign(signed)) for k in self.keys])

    def key(self, i):
        return self.keys[i]

    def trust(self, i):
        return self.keys[i].public

    def signed(self, kind, body, by):
        return Signed(kind, body, sign_object(by, kind, body))

    def proposal(
        self,
        author=0,
        at=T0 + 1000,
        closes=0,
        title="A position",
        draft=False,
        opens=0,
        link=None,
        relation=1,
        amendments=(),
        draft_raw=None,
        by=None,
        action=None,
        heads=(),
    ):
        """action: the encoded Action message, or None; heads: roster heads (sorted);
        relation: the link's, 1 amends, 2 supersedes."""
        roster = hashlib.sha256(b"chorus/v1/roster\n" + self.id + b"".join(heads)).digest() if heads else self.id
        body = (
            blob(1, self.id)
            + blob(2, roster)
            + blob(3, self.trust(author))
            + uint(4, at)
            + uint(5, closes)
            + blob(6, title)
            + message(8, None if link is None else blob(1, link) + uint(2, relation))
            + message(9, action)
            + repeated(10, heads)
            + uint(11, opens)
            + (draft_raw if draft_raw is not None else uint(12, 1 if draft else 0))
            + repeated(13, amendments)
        )
        return self.signed(2, body, by or self.key(author))

    def endorsement(self, i, proposal, stance=ENDORSE, at=T0 + 2000, comment="", delegation=b"", by=None):
        body = (
            blob(1, self.id)
            + blob(2, proposal.id)
            + blob(3, self.trust(i))
            + uint(4, at)
            + uint(5, stance)
            + blob(6, comment)
            + blob(7, delegation)
        )
        e = self.signed(3, body, by or self.key(i))
        e.stance, e.at = stance, at
        return e

    def comment(self, i, proposal, text="I agree", at=T0 + 1500, reply_to=b"", amendment=None, delegation=b"", by=None):
        """amendment: None or (body, title)."""
        am = None if amendment is None else blob(1, amendment[0]) + blob(2, amendment[1])
        body = (
            blob(1, self.id)
            + uint(2, at)
            + blob(3, proposal.id)
            + blob(4, self.trust(i))
            + blob(5, delegation)
            + blob(6, text)
            + blob(7, reply_to)
            + message(8, am)
        )
        return self.signed(10, body, by or self.key(i))

    def notice(self, kind, author, proposal, at, reason="", by=None):
        """An open-voting (13) or withdrawal (14)."""
        body = blob(1, self.id) + uint(2, at) + blob(3, proposal.id) + blob(4, self.trust(author))
        if kind == 14:
            body += blob(5, reason)
        return self.signed(kind, body, by or self.key(author))

    def delegation(self, i, delegate, scope, valid_from=T0, valid_until=0, at=T0 + 10):
        body = (
            blob(1, self.id)
            + blob(2, self.trust(i))
            + blob(3, delegate.public)
            + blob(4, "Node")
            + uint(6, valid_from)
            + uint(7, valid_until)
            + uint(8, scope)
            + uint(9, at)
        )
        return self.signed(5, body, self.key(i))

    def rotation(self, i, new_key, keep=(), at=T0 + 5, by=None):
        """A rotation of trust i's key (signed by its root key unless `by`) to `new_key`."""
        body = blob(1, self.id) + blob(2, self.trust(i)) + blob(3, new_key.public) + repeated(4, sorted(keep)) + uint(5, at)
        return self.signed(7, body, by or self.key(i))

    def revocation(self, i, delegation, at=T0 + 20):
        body = blob(1, self.id) + blob(2, self.trust(i)) + blob(3, delegation.id) + uint(5, at)
        return self.signed(6, body, self.key(i))


def seal_body(coalition_id, proposal_id, trust, stance_ids, delegation=b""):
    return (
        blob(1, coalition_id)
        + blob(2, proposal_id)
        + blob(3, trust)
        + blob(4, delegation)
        + repeated(5, sorted(stance_ids))
    )


def seal(body, key):
    """A Seal message: the body and the signature over "chorus/v1/seal\\n" || body."""
    return blob(1, body) + message(2, signature(key.public, key.sign(b"chorus/v1/seal\n" + body)))


def certificate(c, proposal, endorsements, chain=(), dissent=(), seal_msg=None, sort_chain=True):
    """A certificate's bytes; endorsements and dissent in the order given."""
    chain = sorted(chain, key=lambda o: o.id) if sort_chain else list(chain)
    return (
        uint(1, 1)
        + raw(2, c.genesis)
        + raw(3, proposal.env)
        + repeated(4, [e.env for e in endorsements])
        + repeated(5, [o.env for o in chain])
        + repeated(6, [d.env for d in dissent])
        + message(7, seal_msg)
    )


def sealed(c, proposal, endorsements, chain=(), dissent=(), sealer=0, key=None, delegation=b""):
    """A certificate sealed by member `sealer` (with `key`, its own by default)
    over every carried stance."""
    ids = [e.id for e in endorsements] + [d.id for d in dissent]
    body = seal_body(c.id, proposal.id, c.trust(sealer), ids, delegation)
    return certificate(c, proposal, endorsements, chain, dissent, seal(body, key or c.key(sealer)))


def by_trust(stances):
    """Endorsements sorted by trust, as a certificate carries them (an endorsement
    body starts with coalition and proposal, 34 bytes each, then the trust)."""
    return sorted(stances, key=lambda o: o.body[70:102])
