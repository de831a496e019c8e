#!/usr/bin/env python3
"""Certificates with drafts, voting windows, comments, open-voting, withdrawal,
dissent and seals, one per rule and error of PROTOCOL.md 9.2 steps 11-22 that
deliberation added, each with the verdict (error name, or "ok") this verifier
gives; and random certificates of voting windows and dissent. For comparing
verifiers: run as a script, it prints one "<certificate hex> <coalition hex>
<name> <expected>" line per case (`--random N [SEED]`: N random ones after
them, expected "-"), which `verify_certificate.py --batch` reads as it is (it
ignores the extra columns).

Deterministic: the same bytes every run (fixed seeds, ed25519 is deterministic).
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from builder import (  # noqa: E402
    ABSTAIN,
    OBJECT,
    T0,
    Coalition,
    Key,
    Signed,
    blob,
    by_trust,
    certificate,
    message,
    repeated,
    seal,
    seal_body,
    sealed,
    signature,
    uint,
)


def flip_last(obj):
    """The same object with the last byte of its envelope (its signature) changed."""
    return Signed(obj.kind, obj.body, obj.env[:-1] + bytes([obj.env[-1] ^ 1]))


def cases():
    """[(name, certificate bytes, coalition id, expected verdict)]."""
    out = []
    c = Coalition(5)

    def add(name, cert, expected):
        out.append((name, cert, c.id, expected))

    def ends_of(p, who=(0, 1, 2), at=T0 + 2000):
        return by_trust([c.endorsement(i, p, at=at) for i in who])

    p = c.proposal()
    ends = ends_of(p)
    obj3 = c.endorsement(3, p, OBJECT, comment="Too costly")
    abs4 = c.endorsement(4, p, ABSTAIN)
    dis = by_trust([obj3, abs4])
    ids = [o.id for o in ends + dis]

    # Made as before: no dissent, no seal.
    add("unsealed", certificate(c, p, ends), "ok")
    add("unsealed with dissent", certificate(c, p, ends, dissent=dis), "ok")
    add("sealed", sealed(c, p, ends, dissent=dis, sealer=1), "ok")
    add("sealed, nobody dissents", sealed(c, p, ends), "ok")

    # The voting window.
    d = c.proposal(title="A draft", draft=True)
    opening = c.notice(13, 0, d, T0 + 1500)
    add("draft never opened", certificate(c, d, ends_of(d)), "NotOnTime")
    add("draft opened", certificate(c, d, ends_of(d), chain=[opening]), "ok")
    add("draft opened at the stance's time", certificate(c, d, ends_of(d, at=T0 + 1500), chain=[opening]), "ok")
    add("draft, stance before the opening", certificate(c, d, ends_of(d, at=T0 + 1499), chain=[opening]), "NotOnTime")
    add("draft opened by another trust", certificate(c, d, ends_of(d), chain=[c.notice(13, 1, d, T0 + 1500)]), "NotOnTime")
    forged = c.notice(13, 0, d, T0 + 1500, by=c.key(1))
    add("draft opened with another trust's key", certificate(c, d, ends_of(d), chain=[forged]), "MissingLink")
    f = c.proposal(title="Fixed opening", opens=T0 + 1800)
    add("fixed opening", certificate(c, f, ends_of(f)), "ok")
    add("before the fixed opening", certificate(c, f, ends_of(f, at=T0 + 1700)), "NotOnTime")
    earlier = c.notice(13, 0, f, T0 + 1600)
    add("opened before the fixed time", certificate(c, f, ends_of(f, at=T0 + 1700), chain=[earlier]), "ok")
    add("withdrawn before the stances", certificate(c, p, ends, chain=[c.notice(14, 0, p, T0 + 1900)]), "NotOnTime")
    add("withdrawn at the stances' time", certificate(c, p, ends, chain=[c.notice(14, 0, p, T0 + 2000)]), "ok")
    add("withdrawn after the stances", sealed(c, p, ends, chain=[c.notice(14, 0, p, T0 + 9000, reason="Done")]), "ok")
    add("withdrawn by another trust", certificate(c, p, ends, chain=[c.notice(14, 1, p, T0 + 1900)]), "ok")

    # Comments in the chain.
    first = c.comment(3, p, "Why now?")
    reply = c.comment(0, p, "Because.", reply_to=first.id, at=T0 + 1600)
    amendment = c.comment(4, p, "", amendment=("Another text", "Another title"))
    add("comments in the chain", certificate(c, p, ends, chain=[first, reply, amendment]), "ok")
    add("empty comment in the chain", certificate(c, p, ends, chain=[c.comment(3, p, "")]), "Chain/InvalidField")
    add(
        "empty comment, forged proposal",
        certificate(c, flip_last(p), ends, chain=[c.comment(3, p, "")]),
        "Proposal/BadSignature",
    )
    bad_author = blob(1, c.id) + uint(2, T0 + 5) + blob(3, p.id) + blob(4, b"\x00" * 32)
    add("withdrawal with a bad author key", certificate(c, p, ends, chain=[c.signed(14, bad_author, c.key(0))]), "Chain/BadKey")
    other = Coalition(2, name="Other")
    add("another coalition's comment", certificate(c, p, ends, chain=[other.comment(0, p, "Hello")]), "Chain/WrongCoalition")
    leader = Key(98)
    of_1, of_3 = c.delegation(1, leader, 1), c.delegation(3, leader, 1)
    wrong = c.comment(3, p, "By another trust's delegate", delegation=of_1.id, by=leader)
    add("comment under another trust's delegation", certificate(c, p, ends, chain=[of_1, wrong]), "Chain/InvalidField")
    delegated = c.comment(3, p, "By a delegate", delegation=of_3.id, by=leader)
    add("comment, delegation not carried", certificate(c, p, ends, chain=[delegated]), "MissingLink")
    add("comment by a delegate", certificate(c, p, ends, chain=[of_3, delegated]), "ok")

    # Dissent entries (13a, 14-16, 19a).
    other_p = c.proposal(title="Another")
    for name, dissent, expected in [
        ("dissent of another kind", [p], "Dissent/InvalidField"),
        ("dissent for another proposal", [obj3, c.endorsement(4, other_p, OBJECT)], "WrongProposal"),
        ("dissent that endorses", [c.endorsement(3, p)], "NotDissent"),
        ("dissent twice by a trust", [obj3, c.endorsement(3, p, ABSTAIN)], "DuplicateTrust"),
        ("dissent out of order", list(reversed(dis)), "NotSorted"),
        ("dissent by an endorser", [c.endorsement(0, p, OBJECT)], "DuplicateTrust"),
        ("dissent with no stance", [c.endorsement(3, p, 7)], "Dissent/InvalidField"),
        ("dissent forged", [flip_last(obj3)], "Dissent/BadSignature"),
        ("dissent with another trust's key", [c.endorsement(3, p, OBJECT, by=c.key(2))], "MissingLink"),
    ]:
        add(name, certificate(c, p, ends, dissent=dissent), expected)
    closing = c.proposal(title="Closing", closes=T0 + 3000)
    late = c.endorsement(3, closing, OBJECT, at=T0 + 3001)
    add("dissent after closing", certificate(c, closing, ends_of(closing), dissent=[late]), "AfterClosing")
    via = c.endorsement(3, p, OBJECT, delegation=of_3.id, by=leader)
    add("dissent, delegation not carried", certificate(c, p, ends, dissent=[via]), "MissingLink")
    add("dissent by a delegate", sealed(c, p, ends, chain=[of_3], dissent=[via]), "ok")
    expired = c.delegation(3, leader, 1, valid_until=T0 + 100, at=T0 + 11)
    via_expired = c.endorsement(3, p, OBJECT, delegation=expired.id, by=leader)
    add("dissent outside its delegation's period", certificate(c, p, ends, chain=[expired], dissent=[via_expired]), "Unauthorised")
    early = c.endorsement(3, d, OBJECT, at=T0 + 1400)
    add("dissent before the opening", certificate(c, d, ends_of(d), chain=[opening], dissent=[early]), "NotOnTime")
    endorsed = c.endorsement(3, d, at=T0 + 1600)
    objected = c.endorsement(3, d, OBJECT, at=T0 + 1600)
    abstained = c.endorsement(3, d, ABSTAIN, at=T0 + 1700)
    add(
        "dissent by a trust that also endorsed",
        certificate(c, d, ends_of(d), chain=[opening, endorsed], dissent=[objected]),
        "DissentInconsistent",
    )
    add(
        "abstention of a trust that objected",
        certificate(c, d, ends_of(d), chain=[opening, objected], dissent=[abstained]),
        "DissentInconsistent",
    )
    early_endorse = c.endorsement(3, d, at=T0 + 1400)
    add(
        "dissent, the trust's endorsement early",
        certificate(c, d, ends_of(d), chain=[opening, early_endorse], dissent=[objected]),
        "ok",
    )

    # Seals (13b, 14, 15, 22).
    def with_seal(msg, chain=()):
        return certificate(c, p, ends, chain, dis, msg)

    def body(**kw):
        args = dict(coalition_id=c.id, proposal_id=p.id, trust=c.trust(0), stance_ids=ids)
        args.update(kw)
        return seal_body(**args)

    key = c.key(0)
    good = body()
    for name, msg, expected in [
        ("seal body malformed", blob(1, b"\xff"), "Seal/Malformed"),
        ("seal body not canonical", blob(1, good + uint(6, 1)), "Seal/NonCanonical"),
        ("seal of another coalition", seal(body(coalition_id=b"\x07" * 32), key), "Seal/InvalidField"),
        ("seal with a short coalition", seal(body(coalition_id=b"\x07" * 3), key), "Seal/InvalidField"),
        ("seal of another proposal", seal(body(proposal_id=b"\x07" * 32), key), "Seal/InvalidField"),
        ("seal with a bad trust", seal(body(trust=b"\x01" * 31), key), "Seal/BadKey"),
        ("seal with a short delegation", seal(body(delegation=b"\x01" * 5), key), "Seal/InvalidField"),
        ("seal listing nothing", seal(body(stance_ids=[]), key), "Seal/InvalidField"),
        ("seal with a short id", seal(body(stance_ids=[b"\x01" * 31]), key), "Seal/InvalidField"),
        (
            "seal listing an id twice",
            seal(blob(1, c.id) + blob(2, p.id) + blob(3, c.trust(0)) + repeated(5, [ids[0], ids[0]]), key),
            "Seal/InvalidField",
        ),
        ("seal without a signature", blob(1, good), "Seal/InvalidField"),
        ("seal with an empty signature", blob(1, good) + message(2, b""), "Seal/BadKey"),
        ("seal with a short signature", blob(1, good) + message(2, signature(key.public, b"\x01" * 63)), "Seal/SignatureLength"),
        ("seal forged", blob(1, good) + message(2, signature(key.public, b"\x01" * 64)), "Seal/BadSignature"),
        (
            "seal by a weak key",
            blob(1, good) + message(2, signature(b"\x01" + b"\x00" * 31, b"\x01" * 64)),
            "Seal/BadKey",
        ),
        ("seal by another member's key", seal(good, c.key(1)), "SealUnauthorised"),
        ("seal by a stranger", seal(body(trust=Key(55).public), Key(55)), "SealUnauthorised"),
    ]:
        add(name, with_seal(msg), expected)
    kept = [x for x in dis if x is not obj3]
    add(
        "objection removed after sealing",
        certificate(c, p, ends, dissent=kept, seal_msg=seal(good, key)),
        "SealMismatch",
    )
    short = seal_body(c.id, p.id, c.trust(0), [o.id for o in ends + kept])
    add("objection added after sealing", certificate(c, p, ends, dissent=dis, seal_msg=seal(short, key)), "SealMismatch")
    node = Key(77)
    scope_node, scope_stances = c.delegation(2, node, 2), c.delegation(2, node, 1, at=T0 + 11)
    old_node = c.delegation(2, node, 2, valid_until=T0 + 1, at=T0 + 12)
    for name, dl, chain, expected in [
        ("sealed by a node", scope_node, [scope_node], "ok"),
        ("sealed by a node, delegation not carried", scope_node, [], "MissingLink"),
        ("sealed by a node with stance scope", scope_stances, [scope_stances], "SealUnauthorised"),
        ("sealed by a revoked node", scope_node, [scope_node, c.revocation(2, scope_node)], "SealUnauthorised"),
        ("sealed by a node after its delegation's period", old_node, [old_node], "ok"),
    ]:
        b = seal_body(c.id, p.id, c.trust(2), ids, dl.id)
        add(name, with_seal(seal(b, node), chain), expected)
    add("sealed by a node key without delegation", with_seal(seal(seal_body(c.id, p.id, c.trust(2), ids), node)), "SealUnauthorised")

    # Step 22 with rotations and replacements: only the current key of the
    # sealing trust's chain may seal, and a delegation only if that chain
    # authorises it.
    rotated_to = Key(88)
    rotation = c.rotation(2, rotated_to, at=T0 + 5)
    rot_ends = by_trust([c.endorsement(i, p) for i in (0, 1)] + [c.endorsement(2, p, by=rotated_to)])
    rot_ids = [o.id for o in rot_ends + dis]
    for name, signer, expected in [
        ("sealed by a key rotated away from", c.key(2), "SealUnauthorised"),
        ("sealed by the key rotated to", rotated_to, "ok"),
    ]:
        msg = seal(seal_body(c.id, p.id, c.trust(2), rot_ids), signer)
        add(name, certificate(c, p, rot_ends, [rotation], dis, msg), expected)
    old_grant = c.delegation(2, node, 2, at=T0 + 4)
    b = seal_body(c.id, p.id, c.trust(2), rot_ids, old_grant.id)
    add(
        "sealed by a node whose delegation the rotation does not keep",
        certificate(c, p, rot_ends, [rotation, old_grant], dis, seal(b, node)),
        "SealUnauthorised",
    )
    kept_rotation = c.rotation(2, rotated_to, keep=[old_grant.id], at=T0 + 5)
    add(
        "sealed by a node whose delegation the rotation keeps",
        certificate(c, p, rot_ends, [kept_rotation, old_grant], dis, seal(b, node)),
        "ok",
    )
    replaced_by = Key(89)
    replace = message(3, blob(1, c.trust(2)) + blob(2, replaced_by.public))
    rep = c.proposal(title="Replace a lost key", action=replace, at=T0 + 500)
    rep_chain = [rep] + by_trust([c.endorsement(i, rep, at=T0 + 600) for i in range(5)])
    under = c.proposal(title="After the replacement", heads=[rep.id], at=T0 + 3000)
    under_ends = by_trust([c.endorsement(i, under, at=T0 + 4000) for i in (0, 1)] + [c.endorsement(2, under, at=T0 + 4000, by=replaced_by)])
    under_ids = [o.id for o in under_ends]
    for name, signer, expected in [
        ("sealed by a trust id whose key was replaced", c.key(2), "SealUnauthorised"),
        ("sealed by the replacement key", replaced_by, "ok"),
    ]:
        msg = seal(seal_body(c.id, under.id, c.trust(2), under_ids), signer)
        add(name, certificate(c, under, under_ends, rep_chain, (), msg), expected)

    # A governance draft in the chain.
    removal = blob(2, c.trust(4))
    gov = c.proposal(title="Remove trust 4", draft=True, action=removal)
    gov_chain = [gov] + by_trust([c.endorsement(i, gov) for i in range(4)])
    position = c.proposal(title="Under the new roster", heads=[gov.id], at=T0 + 3000)
    pos_ends = ends_of(position, at=T0 + 4000)
    gov_open = c.notice(13, 0, gov, T0 + 1500)
    add("governance draft not opened", certificate(c, position, pos_ends, chain=gov_chain), "ChainNotAdopted")
    add("governance draft opened", certificate(c, position, pos_ends, chain=gov_chain + [gov_open]), "ok")
    gov_out = c.notice(14, 0, gov, T0 + 1600)
    add("governance draft withdrawn", certificate(c, position, pos_ends, chain=gov_chain + [gov_open, gov_out]), "ChainNotAdopted")

    # The charter's observer access (field 5) changes no verdict; a value
    # outside the enum makes the genesis invalid.
    for value, expected in ((1, "ok"), (2, "ok"), (3, "Genesis/InvalidField")):
        o = Coalition(3, name=f"Observed {value}", charter=uint(5, value))
        op = o.proposal()
        cert = certificate(o, op, by_trust([o.endorsement(i, op) for i in (0, 1)]))
        out.append((f"charter observers {value}", cert, o.id, expected))
    return out


def random_cases(seed, n):
    """[(name, certificate bytes, coalition id)]: `n` certificates of random
    voting windows (draft or not, fixed opening or not, closing or not),
    open-votings and withdrawals by the author or another member, up to two
    stances per member at times around the window's edges, endorsements and
    dissent picked from them, other records and notices in the chain, sealed
    by a random member half of the time. Most fail (NotOnTime, BelowThreshold,
    DissentInconsistent, ...); the point is that verifiers agree."""
    rng = random.Random(seed)
    c = Coalition(5)
    times = [1000, 1500, 1999, 2000, 2001, 2500, 3000, 3001, 4000]

    def at():
        return T0 + rng.choice(times)

    out = []
    for k in range(n):
        closes = rng.choice([0, 0, T0 + 3000, T0 + 2500])
        opens = rng.choice([0, 0, T0 + 1500, T0 + 2000, T0 + 2001])
        if closes and opens > closes:
            opens = 0
        p = c.proposal(at=T0 + 1000, closes=closes, draft=rng.random() < 0.5, opens=opens, title=f"Random {seed} {k}")
        chain = {}
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            kind = rng.choice([13, 13, 14])
            author = 0 if rng.random() < 0.8 else rng.randrange(1, 5)
            notice = c.notice(kind, author, p, at(), reason="r" if kind == 14 and rng.random() < 0.5 else "")
            if rng.random() < 0.9:
                chain[notice.id] = notice
        ends, dissent = [], []
        for i in range(5):
            records = [
                c.endorsement(i, p, rng.choice([1, 1, 2, 3]), at=at(), comment=rng.choice(["", "why"]))
                for _ in range(rng.choice([0, 1, 1, 2]))
            ]
            if closes and rng.random() < 0.9:
                records = [r for r in records if r.at <= closes]
            endorse = [r for r in records if r.stance == 1]
            other = [r for r in records if r.stance != 1]
            if endorse and rng.random() < 0.85:
                chosen = min(endorse, key=lambda r: r.id)
                ends.append(chosen)
            elif other and rng.random() < 0.85:
                chosen = rng.choice(other)
                dissent.append(chosen)
            else:
                continue
            chain.update({r.id: r for r in records if r is not chosen and rng.random() < 0.3})
        ends, dissent, chain = by_trust(ends), by_trust(dissent), list(chain.values())
        if (ends or dissent) and rng.random() < 0.5:
            cert = sealed(c, p, ends, chain=chain, dissent=dissent, sealer=rng.randrange(5))
        else:
            cert = certificate(c, p, ends, chain, dissent)
        out.append((f"random {seed} {k}", cert, c.id))
    return out


def main():
    """Prints the cases, then with `--random N [SEED]` N random certificates
    (expected verdict "-": whatever both verifiers say)."""
    for name, cert, coalition, expected in cases():
        print(f"{cert.hex()} {coalition.hex()} {name.replace(' ', '_')} {expected}")
    if len(sys.argv) > 2 and sys.argv[1] == "--random":
        seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        for name, cert, coalition in random_cases(seed, int(sys.argv[2])):
            print(f"{cert.hex()} {coalition.hex()} {name.replace(' ', '_')} -")


if __name__ == "__main__":
    main()
