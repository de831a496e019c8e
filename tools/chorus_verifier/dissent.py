"""A certificate's dissent and seal (PROTOCOL.md section 9, steps 13a, 13b,
19a and 22) and what the report says of them: objectors with their reasons,
abstainers, silent members, the seal and the voting window.

The seal is a member's signed statement that the certificate carries every
on-time stance on the proposal its node held: a stance removed or added
afterwards breaks it. A certificate without a seal (every certificate made
before dissent was recorded) verifies; its report says dissent is not
recorded.
"""

from . import wire
from .crypto import key_rule
from .errors import Refused, nested
from .ledger import EARLY, LATE
from .rules import ENDORSEMENT, STANCES, Obj, decode, endorsement_body, envelope_shape, expect_kind

SEAL_PREFIX = b"chorus/v1/seal\n"
MAX_SEAL_STANCES = 65536
NOT_RECORDED = "dissent not recorded: this certificate carries no seal"
UNSEALED = "the certificate carries no seal, so it does not record dissent; export it again from a member's node"


def stance_entry(i, env, what, label, sorted_what, proposal, wrong_coalition, stance_refusal, previous):
    """Steps 13 and 13a, one entry `i` of a certificate's endorsements or dissent
    (`what`, errors nested under `label`): its form, its proposal, its stance
    (`stance_refusal(body)` returns the refusal or None), its time, and its trust
    after the `previous` entry's (the list, `sorted_what`, sorted by trust key).
    Returns the entry's body; the checks run in this order."""
    p = proposal.body
    try:
        envelope_shape(env)
        expect_kind(env, ENDORSEMENT)
        e = endorsement_body(env["body"])
        wrong_coalition(e["coalition"])
    except Refused as err:
        raise nested(label, f"{what} {i} is invalid", err)
    if e["proposal"] != proposal.id:
        raise Refused("WrongProposal", f"{what} {i} is for proposal {e['proposal'].hex()}, not {proposal.id.hex()}")
    refusal = stance_refusal(e)
    if refusal is not None:
        raise refusal
    if p["closes_at_ms"] and e["created_at_ms"] > p["closes_at_ms"]:
        raise Refused(
            "AfterClosing",
            f"{what} {i} was signed at {e['created_at_ms']} ms, after the proposal closed at {p['closes_at_ms']} ms",
        )
    if previous is not None and previous == e["trust"]:
        raise Refused("DuplicateTrust", f"{what} {i} counts trust {e['trust'].hex()} a second time")
    if previous is not None and previous > e["trust"]:
        raise Refused("NotSorted", f"{what} {i} is out of order ({sorted_what} must be sorted by trust key)")
    return e


def dissent_entries(envelopes, proposal, endorsements, wrong_coalition):
    """Step 13a: the form of each dissent entry, all of its checks before the next
    entry's. Returns the entries as objects."""
    endorsers = {o.body["trust"] for o in endorsements}
    out, previous = [], None
    for i, env in enumerate(envelopes):

        def not_dissent(e, i=i):
            if e["stance"] == 1:
                return Refused("NotDissent", f"dissent {i} has stance endorse; an endorsement goes in `endorsements`")
            return None

        e = stance_entry(i, env, "dissent", "Dissent", "dissent", proposal, wrong_coalition, not_dissent, previous)
        if e["trust"] in endorsers:
            raise Refused("DuplicateTrust", f"dissent {i} counts trust {e['trust'].hex()}, which also endorses")
        previous = e["trust"]
        out.append(Obj(ENDORSEMENT, env, e))
    return out


class Seal:
    """A seal whose form passed step 13b."""

    __slots__ = ("raw_body", "body", "signer", "signature")

    def __init__(self, raw_body, body, signer, signature):
        self.raw_body = raw_body
        self.body = body
        self.signer = signer
        self.signature = signature

    def signing_input(self):
        return SEAL_PREFIX + self.raw_body


def seal_form(seal, coalition, proposal_id):
    """Step 13b up to completeness: the seal body's rules and the signature's
    lengths — Seal(<rejection>) "seal is invalid: ..."."""

    def id32(field, x):
        if len(x) != 32:
            raise Refused("InvalidField", f"{field}: is {len(x)} bytes, an id is 32")
        return x

    try:
        b = decode(seal["body"], wire.SEAL_BODY, "seal body")
        if id32("coalition", b["coalition"]) != coalition:
            raise Refused(
                "InvalidField", f"coalition: is {b['coalition'].hex()}, not the certificate's coalition {coalition.hex()}"
            )
        if id32("proposal", b["proposal"]) != proposal_id:
            raise Refused(
                "InvalidField", f"proposal: is {b['proposal'].hex()}, not the certificate's proposal {proposal_id.hex()}"
            )
        key_rule("trust", b["trust"])
        if b["delegation"]:
            id32("delegation", b["delegation"])
        ids = b["stances"]
        if not ids:
            raise Refused("InvalidField", "stances: a seal lists at least one stance")
        if len(ids) > MAX_SEAL_STANCES:
            raise Refused("InvalidField", f"stances: lists {len(ids)}, more than {MAX_SEAL_STANCES}")
        previous = None
        for i, x in enumerate(ids):
            if len(x) != 32:
                raise Refused("InvalidField", f"stances: entry {i} is {len(x)} bytes, an id is 32")
            if previous is not None and previous >= x:
                raise Refused("InvalidField", f"stances: entry {i} is not sorted or an id twice")
            previous = x
        s = seal["signature"]
        if s is None:
            raise Refused("InvalidField", "signature: a seal carries one signature")
        if len(s["signer"]) != 32:
            raise Refused("BadKey", f"seal signer: a public key is 32 bytes, got {len(s['signer'])}")
        if len(s["signature"]) != 64:
            raise Refused(
                "SignatureLength", f"signature 0 is {len(s['signature'])} bytes; an ed25519 signature is 64 bytes"
            )
    except Refused as err:
        raise nested("Seal", "seal is invalid", err)
    return Seal(bytes(seal["body"]), b, bytes(s["signer"]), bytes(s["signature"]))


def seal_complete(seal, endorsements, dissent):
    """Step 13b, completeness: the seal lists exactly the carried stances."""
    carried = [o.id for o in endorsements] + [o.id for o in dissent]
    listed = seal.body["stances"]
    carried_set, listed_set = set(carried), set(listed)
    for x in listed:
        if x not in carried_set:
            raise Refused(
                "SealMismatch",
                f"the seal lists stance {x.hex()}, which the certificate does not carry: "
                "a stance was removed after the certificate was sealed",
            )
    for x in carried:
        if x not in listed_set:
            raise Refused(
                "SealMismatch",
                f"the certificate carries stance {x.hex()}, which its seal does not list: it was added after sealing",
            )


def not_on_time(what, t, window):
    """Steps 19 and 19a: NotOnTime for a stance the window does not count, else None."""
    timing = window.timing(t)
    if timing == EARLY:
        if window.opens_at_ms is None:
            return Refused(
                "NotOnTime",
                f"{what} was signed at {t} ms, before voting opened "
                "(the proposal is a draft and nothing carried opens it)",
            )
        return Refused("NotOnTime", f"{what} was signed at {t} ms, before voting opened at {window.opens_at_ms} ms")
    if timing == LATE:
        # Not the closing time: step 13 refused a stance signed after it.
        return Refused(
            "NotOnTime", f"{what} was signed at {t} ms, after the author withdrew the proposal at {window.withdrawn_at_ms} ms"
        )
    return None


def dissent_consistent(i, o, effective):
    """Step 19a, last part: dissent entry `i` records its trust's effective stance."""
    t, stance = o.body["trust"], o.body["stance"]
    if effective.get(t) != stance:
        now = STANCES.get(effective.get(t), "none")
        raise Refused(
            "DissentInconsistent",
            f"dissent {i} records trust {t.hex()} as {STANCES[stance]}, but its effective stance is {now}",
        )


def seal_authorised(ledger, version, seal):
    """Step 22: the sealing trust is a member of the version, and the signer is the
    current key of its key chain under the version, the key a stance signed now would
    need (no delegation; not a key rotated away from, nor an id a replacement made
    another key the root of), or the delegate of the named, admitted, node-scope
    delegation of it, authorised by the chain as a stance's would be, that no counted
    carried revocation withdraws. No clock: a delegation's period does not bound a seal."""
    trust, did = seal.body["trust"], seal.body["delegation"]
    ok = trust in version.members
    if ok and not did:
        ok = seal.signer == ledger.key_chain(version, trust)[2]
    elif ok:
        d = ledger.delegations.get(did)
        ok = (
            d is not None
            and d.body["trust"] == trust
            and d.body["delegate"] == seal.signer
            and d.body["scope"] & 2 != 0
            and ledger.authorised(version, trust, d.signer, d.id)
            and not any(
                # A revocation counts as 12.7 says: by the trust, signed by a key of its chain.
                r.body["trust"] == trust and r.signer in ledger.key_chain(version, trust)[0]
                for r in ledger.revocations[did]
            )
        )
    if not ok:
        raise Refused(
            "SealUnauthorised",
            f"the seal is signed by {seal.signer.hex()}, which is not a key of member trust {trust.hex()} "
            "nor the delegate of a node-scope delegation of it",
        )


def report(version, window, endorsements, dissent, seal):
    """What a valid certificate says beyond its endorsements (JSON-ready): objectors
    and abstainers with their comments, silent members (no carried stance), the
    seal, the voting window and the one-line dissent statement."""

    def dissenter(o):
        b = o.body
        return {
            "trust": b["trust"].hex(),
            "name": version.names[b["trust"]],
            "stance_id": o.id.hex(),
            "created_at_ms": b["created_at_ms"],
            "comment": b["comment"] or None,
        }

    stated = {o.body["trust"] for o in endorsements} | {o.body["trust"] for o in dissent}
    out = {
        "objectors": [dissenter(o) for o in dissent if o.body["stance"] == 2],
        "abstainers": [dissenter(o) for o in dissent if o.body["stance"] == 3],
        "silent": [[t.hex(), version.names[t]] for t in sorted(version.members) if t not in stated],
        "seal": None,
        "window": window.as_json(),
        "dissent": NOT_RECORDED,
    }
    if seal is not None:
        trust = seal.body["trust"]
        out["seal"] = {
            "trust": trust.hex(),
            "name": version.names[trust],
            "signer": seal.signer.hex(),
            "delegation": seal.body["delegation"].hex() if seal.body["delegation"] else None,
            "stances": len(seal.body["stances"]),
        }
        out["dissent"] = f"dissent known to {version.names[trust]}'s node"
    return out


def report_lines(r, dissent=True):
    """The report as people read it, one line each, after the result line: the
    voting window when it is not simply open from the start, and with `dissent`
    the objectors, abstainers, silent members and seal."""
    lines = []
    for label, key in (("objector", "objectors"), ("abstainer", "abstainers")) if dissent else ():
        for d in r[key]:
            reason = f": {' '.join(d['comment'].splitlines())}" if d["comment"] else ""
            lines.append(f"{label:<12} {d['name']} ({d['trust']}){reason}")
    if dissent and r["silent"]:
        # Only a seal vouches that no stance was left out: without one, a
        # member with no stance carried may well have responded.
        label = "did not respond" if r["seal"] is not None else "no stance carried"
        names = ", ".join(name for _, name in r["silent"])
        lines.append(f"{label:<12} {len(r['silent'])} member(s): {names}")
    w = r["window"]
    if w["opens_at_ms"] != 0 or w["withdrawn_at_ms"] is not None:
        if w["opens_at_ms"] is None:
            opening = "voting never opened"
        else:
            by = f" by {w['opened_by']}" if w["opened_by"] else ""
            opening = f"voting opened at {w['opens_at_ms']} ms{by}"
        if w["withdrawn_at_ms"] is not None:
            opening += f"; withdrawn at {w['withdrawn_at_ms']} ms by {w['withdrawn_by']}"
        lines.append(f"{'window':<12} {opening}")
    s = r["seal"]
    if not dissent:
        pass
    elif s is not None:
        via = f" under delegation {s['delegation']}" if s["delegation"] else ""
        lines.append(
            f"{'seal':<12} {r['dissent']}: {s['stances']} stance(s) sealed by {s['name']} ({s['trust']}), "
            f"signer {s['signer']}{via}"
        )
    else:
        lines.append(f"{'seal':<12} {r['dissent']}")
    return lines
