"""The certificate verification algorithm (PROTOCOL.md sections 9 and 12.9):
one algorithm for every certificate, with or without a proof chain, dissent
or seal (dissent.py holds the steps of the last two)."""

from . import attributes as attrs
from . import dissent as dissent_rules
from . import wire
from .crypto import key_error, signature_ok
from .errors import Refused, nested
from .ledger import WAIT_ROSTER, Ledger, effective_stances
from .rules import (
    ENDORSEMENT,
    GENESIS,
    HEADER_FIRST,
    MAX_CERTIFICATE,
    PROPOSAL,
    STANCES,
    Obj,
    body_of,
    endorsement_body,
    envelope_shape,
    expect_kind,
    genesis_body,
    object_id,
    opaque_header,
    proposal_body,
    required,
    signing_input,
)

DECISIONS = {
    None: "position",
    "admit": "admission",
    "remove": "removal",
    "replace_key": "key_replacement",
    "amend_charter": "charter_amendment",
    "amend_member": "member_amendment",
}


def missing_link(reason):
    if reason[0] == WAIT_ROSTER:
        return Refused("MissingLink", f"the proof chain is missing a governance proposal of roster version {reason[1].hex()}")
    _, key, trust = reason
    return Refused(
        "MissingLink",
        f"the proof chain is missing what makes {key.hex()} a key of trust {trust.hex()} "
        "(an admission, key replacement, rotation or delegation)",
    )


def verify(cert, expected=None):
    """Returns the `ok ...` line for a valid certificate; raises Refused otherwise."""
    return verify_report(cert, expected)[0]


def verify_report(cert, expected=None):
    """Returns (the `ok ...` line, the breakdown by attribute) for a valid
    certificate; raises Refused otherwise. The breakdown is attributes.breakdown
    under the proposal's roster version of the certificate's endorsements alone
    (step 21): every other member is silent, even one whose stance on the
    proposal is carried in the chain."""
    line, breakdown, _ = verify_full(cert, expected)
    return line, breakdown


def verify_full(cert, expected=None, require_seal=False):
    """Returns (the `ok ...` line, the breakdown, the report of dissent.report) for
    a valid certificate; raises Refused otherwise. With `require_seal`, a
    certificate that passes every step but carries no seal is refused as
    `Unsealed`."""
    if not cert:  # 1
        raise Refused("Empty", "certificate is empty")
    if len(cert) > MAX_CERTIFICATE:  # 2
        raise Refused("TooLarge", f"certificate is {len(cert)} bytes, over the limit of {MAX_CERTIFICATE} bytes")
    try:  # 3, 4
        c, canonical = wire.parse(cert, wire.CERTIFICATE)
    except wire.Malformed as e:
        raise Refused("Malformed", f"malformed certificate: {e}")
    if not canonical:
        raise Refused("NonCanonical", "certificate is not canonically encoded")
    if c["version"] != 1:  # 5
        raise Refused(
            "UnsupportedVersion",
            f"certificate format version {c['version']} is not supported (this verifier knows version 1)",
        )

    # --- 6-10: the genesis ---
    genesis = c["genesis"]
    if genesis is None:  # 6
        raise Refused("Missing", "certificate has no genesis")
    try:  # 7, 8
        envelope_shape(genesis)
        expect_kind(genesis, GENESIS)
        g = genesis_body(genesis["body"])
        founders = [m["trust_key"] for m in g["founders"]]
        if len(genesis["signatures"]) != len(founders):
            raise Refused(
                "SignatureCount",
                f"a genesis carries {len(founders)} signature(s), this one carries {len(genesis['signatures'])}",
            )
        for i, (s, f) in enumerate(zip(genesis["signatures"], founders)):
            if s["signer"] != f:
                raise Refused(
                    "InvalidField",
                    f"genesis signatures: signature {i} is by {s['signer'].hex()}, which is not the founder "
                    f"at that place ({f.hex()})",
                )
    except Refused as e:
        raise nested("Genesis", "genesis is invalid", e)
    coalition = object_id(GENESIS, genesis["body"])
    if expected is not None and coalition != expected:  # 9
        raise Refused("WrongCoalition", f"certificate is for coalition {coalition.hex()}, not the expected {expected.hex()}")
    message = signing_input(GENESIS, genesis["body"])
    for s in genesis["signatures"]:  # 10
        if not signature_ok(s["signer"], message, s["signature"]):
            raise Refused("Genesis/BadSignature", f"genesis is invalid: signature by {s['signer'].hex()} does not verify")

    def wrong_coalition(found):
        if found != coalition:
            raise Refused("WrongCoalition", f"object belongs to coalition {found.hex()}, not {coalition.hex()}")

    # --- 11: the proof chain, each entry checked completely before the next ---
    chain = []
    for i, env in enumerate(c["chain"]):
        label = f"chain object {i} is invalid"
        try:
            kind = envelope_shape(env)
            if kind == GENESIS:
                raise Refused("InvalidField", "kind: a chain carries no genesis")
        except Refused as e:
            raise nested("Chain", label, e)
        oid = object_id(kind, env["body"])
        if chain and oid <= chain[-1].id:
            raise Refused(
                "ChainNotSorted", f"chain object {i} is out of order (the chain must be sorted by id with no object twice)"
            )
        if kind in HEADER_FIRST:
            # A kind that was reserved: its form is its header (12.8 V2, V3), as
            # for an opaque object; its own body rules come after the signature
            # (V5a), so a refusal by them is reported at step 16.
            try:
                coalition_of, _ = opaque_header(env["body"])
                wrong_coalition(coalition_of)
            except Refused as e:
                raise nested("Chain", label, e)
            try:
                body, refused = body_of(kind, env["body"], env["signatures"][0]["signer"]), None
            except Refused as e:
                body, refused = None, e
            chain.append(Obj(kind, env, body, refused))
            continue
        try:
            body = body_of(kind, env["body"], env["signatures"][0]["signer"])
            wrong_coalition(body["coalition"])
        except Refused as e:
            raise nested("Chain", label, e)
        chain.append(Obj(kind, env, body))

    # --- 12: the proposal ---
    env = c["proposal"]
    if env is None:
        raise Refused("Missing", "certificate has no proposal")
    try:
        envelope_shape(env)
        expect_kind(env, PROPOSAL)
        body = proposal_body(env["body"])
        wrong_coalition(body["coalition"])
    except Refused as e:
        raise nested("Proposal", "proposal is invalid", e)
    proposal = Obj(PROPOSAL, env, body)
    p = proposal.body

    # --- 13: the endorsements ---
    endorsements, previous = [], None
    for i, env in enumerate(c["endorsements"]):

        def not_endorsement(e, i=i):
            if e["stance"] != 1:
                return Refused(
                    "NotAnEndorsement",
                    f"endorsement {i} has stance {STANCES[e['stance']]}; a certificate carries only endorsements",
                )
            return None

        e = dissent_rules.stance_entry(
            i, env, "endorsement", "Endorsement", "endorsements", proposal, wrong_coalition, not_endorsement, previous
        )
        previous = e["trust"]
        endorsements.append(Obj(ENDORSEMENT, env, e))

    # --- 13a: the dissent entries; 13b: the seal's form and completeness ---
    dissent = dissent_rules.dissent_entries(c["dissent"], proposal, endorsements, wrong_coalition)
    seal = None
    if c["seal"] is not None:
        seal = dissent_rules.seal_form(c["seal"], coalition, proposal.id)
        dissent_rules.seal_complete(seal, endorsements, dissent)

    # --- 14: links named by id are carried in the chain ---
    carried = {o.id for o in chain}

    def need(oid, what):
        if oid not in carried:
            raise Refused("MissingLink", f"the proof chain is missing {what} {oid.hex()}")

    for h in p["roster_heads"]:
        need(h, "governance proposal")
    for o in chain:
        if o.kind == PROPOSAL:
            for h in o.body["roster_heads"]:
                need(h, "governance proposal")
        elif o.kind == ENDORSEMENT and o.body["delegation"]:
            need(o.body["delegation"], "delegation")
    for o in endorsements + dissent:
        if o.body["delegation"]:
            need(o.body["delegation"], "delegation")
    if seal is not None and seal.body["delegation"]:
        need(seal.body["delegation"], "delegation")

    # --- 15: signatures, in the order chain, proposal, endorsements, dissent, seal ---
    def check_signature(o, prefix, label):
        reason = key_error(o.signer)
        if reason is not None:
            raise Refused(f"{prefix}/BadKey", f"{label}: envelope signer: {reason}")
        return signature_ok(o.signer, signing_input(o.kind, o.raw_body), o.signature)

    for i, o in enumerate(chain):
        if not check_signature(o, "Chain", f"chain object {i} is invalid"):
            raise Refused("Chain/BadSignature", f"chain object {i} is invalid: signature by {o.signer.hex()} does not verify")
    if not check_signature(proposal, "Proposal", "proposal is invalid"):
        raise Refused("Proposal/BadSignature", f"proposal is invalid: signature by {proposal.signer.hex()} does not verify")
    for i, o in enumerate(endorsements):
        if not check_signature(o, "Endorsement", f"endorsement {i} is invalid"):
            raise Refused("BadSignature", f"endorsement {i} has a bad signature (signer {o.signer.hex()})")
    for i, o in enumerate(dissent):
        if not check_signature(o, "Dissent", f"dissent {i} is invalid"):
            raise Refused("Dissent/BadSignature", f"dissent {i} is invalid: signature by {o.signer.hex()} does not verify")
    if seal is not None:
        reason = key_error(seal.signer)
        if reason is not None:
            raise Refused("Seal/BadKey", f"seal is invalid: seal signer: {reason}")
        if not signature_ok(seal.signer, seal.signing_input(), seal.signature):
            raise Refused("Seal/BadSignature", f"seal is invalid: signature by {seal.signer.hex()} does not verify")

    # --- 16: ingest, as a node would, without a clock ---
    ledger = Ledger(coalition, g)
    objects = (
        [(o, "Chain", f"chain object {i} is invalid") for i, o in enumerate(chain)]
        + [(proposal, "Proposal", "proposal is invalid")]
        + [(o, "Endorsement", f"endorsement {i} is invalid") for i, o in enumerate(endorsements)]
        + [(o, "Dissent", f"dissent {i} is invalid") for i, o in enumerate(dissent)]
    )
    remaining = objects
    while remaining:
        waiting, admitted = [], False
        for item in remaining:
            o, prefix, label = item
            try:
                reason = ledger.judge(o)
            except Refused as e:
                raise nested(prefix, label, e)
            if reason is None:
                ledger.admit(o)
                admitted = True
            else:
                waiting.append((item, reason))
        if waiting and not admitted:
            raise missing_link(waiting[0][1])
        remaining = [item for item, _ in waiting]
    ledger.freeze()

    # --- 17: every governance proposal of the chain is adopted ---
    unadopted = [o for o in chain if o.kind == PROPOSAL and o.body["action"] is not None and not ledger.adopted(o.id)]
    if unadopted:
        first = next(
            (o for o in unadopted if all(ledger.adopted(h) for h in o.body["roster_heads"])),
            unadopted[0],
        )
        raise Refused(
            "ChainNotAdopted",
            f"governance proposal {first.id.hex()} is not adopted by the endorsements the certificate carries",
        )

    # --- 18: the proposal is tallied under its roster version ---
    def void(reason):
        return Refused("ProposalVoid", f"proposal {proposal.id.hex()} is void under its roster version: {reason}")

    heads = p["roster_heads"]
    if not ledger.resolvable(heads):
        raise void("its roster version does not resolve")
    version = ledger.version(heads)
    # The ledger's copy: an object is applied once, by id, and the first copy
    # admitted is the one it keeps (the same id may be carried twice, e.g. in the
    # chain too, possibly with another signature).
    reason = ledger.void_reason(ledger.held[proposal.id], version)
    if reason is not None:
        raise void(reason)

    # --- 19: each endorsement counts and is on time; 19a: so does each dissent
    # entry, and it records its trust's effective stance ---
    window = ledger.window(proposal.id)
    effective = effective_stances(ledger, proposal.id, version) if dissent else {}
    for what, entries in (("endorsement", endorsements), ("dissent", dissent)):
        for i, o in enumerate(entries):
            held = ledger.held[o.id]
            if o.body["trust"] not in version.members or not ledger.record_authorised(version, held):
                raise Refused(
                    "Unauthorised",
                    f"{what} {i} is not authorised for trust {o.body['trust'].hex()} under the proposal's roster version",
                )
            late = dissent_rules.not_on_time(f"{what} {i}", held.body["created_at_ms"], window)
            if late is not None:
                raise late
            if what == "dissent":
                dissent_rules.dissent_consistent(i, o, effective)

    # --- 20: the threshold of the rule the proposal's action calls for ---
    rule_name = version.rule_name(proposal)
    rule = version.rules[rule_name]
    members = len(version.members)
    need_n = required(members, rule)
    if len(endorsements) < need_n:
        raise Refused(
            "BelowThreshold", f"{len(endorsements)} endorsements, but the {rule_name} rule needs {need_n} of {members} members"
        )
    # --- 21: every breadth rule of that rule, in charter order, met by the
    # endorsements of step 19 alone: a stance on the proposal carried in the
    # chain counts neither here nor in the breakdown, where every member that
    # did not endorse in the certificate is silent ---
    stances = {o.body["trust"]: 1 for o in endorsements}
    endorsing = [version.attributes[t] for t in sorted(version.members) if stances.get(t) == 1]
    short = attrs.first_shortfall(version.charter["sets"], version.charter["breadth"][rule_name], endorsing)
    if short is not None:
        breadth, why = short
        raise Refused("Breadth", f"breadth: {why} (breadth rule of the {rule_name} rule: {attrs.rule_text(breadth)})")
    # --- 22: the seal's signer may seal for a member trust ---
    if seal is not None:
        dissent_rules.seal_authorised(ledger, version, seal)
    if seal is None and require_seal:
        raise Refused("Unsealed", dissent_rules.UNSEALED)
    report = dissent_rules.report(version, window, endorsements, dissent, seal)
    return (
        f"ok coalition={coalition.hex()} proposal={proposal.id.hex()} decision={DECISIONS[p['kind_of_action']]} "
        f"rule={rule_name}:{rule[0]}/{rule[1]} members={members} required={need_n} "
        f"endorsers={','.join(o.body['trust'].hex() for o in endorsements)}"
    ), version.breakdown(ledger.held[proposal.id], stances), report
