"""Checks the test vectors of PROTOCOL.md section 11 (every block, section
11.8's governance vectors, the member attribute vectors (`attr.*`) and the
deliberation vectors of 11.13 (`delib.*`) included)."""

from nacl.signing import SigningKey

from . import attributes as attrs
from . import wire
import re

from .certificate import verify_full
from .deliberation import check_deliberation, dissent_line, tally_line, window_line
from .errors import Refused
from .ledger import Ledger, effective_stances, tally
from .rules import (
    GENESIS,
    RESERVED_KINDS,
    Obj,
    body_of,
    envelope_shape,
    genesis_body,
    object_id,
    opaque_header,
    signing_input,
    version_id,
)
from .crypto import signature_ok


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


def strip_new_fields(result):
    """The `.result` form before decision= and rule= were added."""
    return " ".join(w for w in result.split() if not w.startswith(("decision=", "rule=")))


class Checker:
    def __init__(self, verbose):
        self.verbose = verbose
        self.passed = 0
        self.failed = 0

    def check(self, ok, name, detail):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        if self.verbose or not ok:
            print(f"{'pass' if ok else 'FAIL'} {name}: {detail}")


def ingest(c, prefix, coalition, genesis, objects):
    """A frozen ledger of `objects` on `genesis`, admitted in rounds until none
    more can be (an object waiting on another comes in a later round); checks
    as "<prefix> ingest" that every one was admitted."""
    ledger = Ledger(coalition, genesis)
    remaining = objects
    while remaining:
        waiting = []
        for o in remaining:
            try:
                if ledger.judge(o) is None:
                    ledger.admit(o)
                else:
                    waiting.append(o)
            except Refused:
                waiting.append(o)
        if len(waiting) == len(remaining):
            break
        remaining = waiting
    c.check(not remaining, f"{prefix} ingest", f"{len(remaining)} object(s) not admitted")
    ledger.freeze()
    return ledger


def breadth_line(b):
    """The breadth rules of a breakdown as the vectors write them."""
    return "; ".join(
        f"{attrs.rule_text(s['rule'])} distinct={s['distinct']} missing=[{','.join(s['missing'])}] "
        f"met={'true' if s['met'] else 'false'}"
        for s in b["breadth"]
    )


def check_attribute_ledger(v, c, geneses, objects):
    """The attribute vectors' ledger: the attribute genesis, attr.position with
    the endorsements of a and b, and attr.amend_member (not adopted: no stances)."""
    genesis = geneses.get("attr.genesis")
    if genesis is None or "attr.position" not in objects:
        return
    coalition = bytes.fromhex(v["attr.genesis.id"])
    if "attr.amended_version.id" in v and "attr.amend_member" in objects:
        got = version_id(coalition, [objects["attr.amend_member"].id]).hex()
        c.check(got == v["attr.amended_version.id"], "attr.amended_version.id", got)
    if "attr.ledger.breakdown" not in v:
        return
    names = ["attr.position", "attr.position.endorsement.a", "attr.position.endorsement.b", "attr.amend_member"]
    ledger = ingest(c, "attr.ledger", coalition, genesis, [objects[n] for n in names if n in objects])
    p = objects["attr.position"]
    version = ledger.version(p.body["roster_heads"])
    b = version.breakdown(p, effective_stances(ledger, p.id, version))

    def rows(a):
        return ",".join(f"{'-' if r['value'] is None else r['value']}={r['endorse']}" for r in b[a])

    got = (
        f"adopted={'true' if ledger.adopted(p.id) else 'false'} region={rows('region')} "
        f"size_band={rows('size_band')} schools={b['endorser_schools']} pupils={b['endorser_pupils']}"
    )
    c.check(got == v["attr.ledger.breakdown"], "attr.ledger.breakdown", got)
    if "attr.ledger.breakdown.stances" in v:

        def stances(a):
            return ",".join(
                f"{'-' if r['value'] is None else r['value']}:{r['endorse']}/{r['object']}/{r['abstain']}/{r['silent']}"
                for r in b[a]
            )

        got = " ".join(f"{attrs.PLURAL[a].replace(' ', '_')}=[{stances(a)}]" for a, *_ in attrs.ATTRIBUTES)
        c.check(got == v["attr.ledger.breakdown.stances"], "attr.ledger.breakdown.stances", got)


def deliberation_now(path):
    """The reader's clock of 11.13's ledger lines, `D + 2 days + 3 h`, D as the
    document states it ("`D` is `T + 20 days` (`1768953600000`, ...)"); None
    when the document has no such section."""
    with open(path, encoding="utf-8") as f:
        m = re.search(r"`D` is `[^`]*`\s+\(`(\d+)`", f.read())
    return None if m is None else int(m.group(1)) + 2 * 86_400_000 + 3 * 3_600_000


def check_vectors(path, verbose=False):
    v = read_vectors(path)
    c = Checker(verbose)

    # Keys: the seeds give the public keys.
    for name in sorted(k for k in v if k.startswith("key.") and k.endswith(".seed")):
        base = name[: -len(".seed")]
        public = SigningKey(bytes.fromhex(v[name])).verify_key.encode().hex()
        c.check(public == v.get(f"{base}.public"), base, "public key from seed")

    # Objects: envelope rules, body rules, id and signatures.
    genesis = None
    geneses = {}
    objects = {}
    # A seal (`delib.seal`) has a body but no envelope: deliberation.py checks it.
    for name in sorted(k[: -len(".body")] for k in v if k.endswith(".body") and k[: -len(".body")] + ".envelope" in v):
        body = bytes.fromhex(v[f"{name}.body"])
        try:
            env, canonical = wire.parse(bytes.fromhex(v[f"{name}.envelope"]), wire.ENVELOPE)
            if not canonical:
                raise Refused("NonCanonical", "envelope")
            kind = envelope_shape(env, alone=True)
            if kind in RESERVED_KINDS:
                # An opaque object (3.4): the header names this coalition and
                # gives the sync key; the tail is never read.
                coalition, created_at_ms = opaque_header(body)
                ok = coalition.hex() == v["genesis.id"] and str(kind) == v.get(f"{name}.kind")
                ok &= f"{created_at_ms} {object_id(kind, body).hex()}" == v.get(f"{name}.sync_key")
                if not ok:
                    raise Refused("Vector", "header, kind or sync key differ from the document")
            elif kind == GENESIS:
                parsed = genesis_body(body)
                geneses[name] = parsed
                if name == "genesis":
                    genesis = parsed
            else:
                parsed = body_of(kind, body, env["signatures"][0]["signer"])
                objects[name] = Obj(kind, env, parsed)
            ok = env["body"] == body and object_id(kind, body).hex() == v[f"{name}.id"]
            ok &= all(signature_ok(s["signer"], signing_input(kind, body), s["signature"]) for s in env["signatures"])
            detail = "envelope, body rules, id and signatures"
        except Refused as e:
            ok, detail = False, f"{e.code}: {e.reason}"
        c.check(ok, name, detail)

    coalition = bytes.fromhex(v["genesis.id"])
    if "gov.version.id" in v and "gov.admit.id" in v:
        got = version_id(coalition, [bytes.fromhex(v["gov.admit.id"])]).hex()
        c.check(got == v["gov.version.id"], "gov.version.id", got)

    # Ledgers: the objects of 11.3-11.4, and those of 11.8.
    if genesis is not None:
        for prefix, proposal in (("ledger", "proposal"), ("gov.ledger", "gov.position")):
            if f"{prefix}.tally" not in v or proposal not in objects:
                continue
            names = [
                n
                for n in objects
                if (n.startswith("gov.") if prefix == "gov.ledger" else n == "proposal" or n.startswith("endorsement."))
            ]
            ledger = ingest(c, prefix, coalition, genesis, [objects[n] for n in names])
            t = tally(ledger, objects[proposal].id)
            if t is None:
                c.check(False, f"{prefix}.tally", "the proposal is not tallied")
                continue
            got = tally_line(t, v[f"{prefix}.tally"])
            c.check(got == v[f"{prefix}.tally"], f"{prefix}.tally", got)
            if f"{prefix}.certificate_endorsements" in v:
                got = ",".join(x.hex() for x in t["certificate_endorsements"])
                c.check(got == v[f"{prefix}.certificate_endorsements"], f"{prefix}.certificate_endorsements", got)
            heads = objects[proposal].body["roster_heads"]
            version = ledger.version(heads)
            if f"{prefix}.roster" in v:
                got = ",".join(sorted(m.hex() for m in version.members))
                c.check(got == v[f"{prefix}.roster"], f"{prefix}.roster", got)
            if f"{prefix}.charter" in v:
                got = " ".join(f"{k}={n}/{d}" for k, (n, d) in version.rules.items())
                c.check(got == v[f"{prefix}.charter"], f"{prefix}.charter", got)
            if f"{prefix}.head_version" in v:
                # The newest version: the adopted governance proposals that no other adopted one pins.
                adopted = [g for g, p in ledger.proposals.items() if p.body["action"] is not None and ledger.adopted(g)]
                tips = sorted(g for g in adopted if not any(g != o and g in ledger.closure(o) for o in adopted))
                got = f"{version_id(coalition, tips).hex()} heads={','.join(h.hex() for h in tips)}"
                c.check(got == v[f"{prefix}.head_version"], f"{prefix}.head_version", got)

    check_attribute_ledger(v, c, geneses, objects)
    if genesis is not None:
        now = deliberation_now(path)

        def delib_ledger(names):
            return ingest(c, "delib.ledger", coalition, genesis, [objects[n] for n in names])

        check_deliberation(v, c, delib_ledger, objects, now)

    # Certificates, verified with the expected coalition id the last genesis id
    # before them in the document (genesis.id, or attr.genesis.id for the
    # attribute vectors).
    coalition_of, current = {}, None
    for name in v:
        if name == "genesis.id" or name.endswith(".genesis.id"):
            current = bytes.fromhex(v[name])
        elif name.startswith("certificate.") and name.count(".") == 1:
            coalition_of[name] = current
    for name in sorted(coalition_of):
        try:
            got, breakdown, report = verify_full(bytes.fromhex(v[name]), coalition_of[name])
            want = v.get(f"{name}.result")
            ok = want is not None and (got == want or strip_new_fields(got) == want)
            if f"{name}.breadth" in v:
                line = breadth_line(breakdown)
                c.check(line == v[f"{name}.breadth"], f"{name}.breadth", line)
            for key, line in (("dissent", dissent_line(report)), ("window", window_line(report["window"]))):
                if f"{name}.{key}" in v:
                    c.check(line == v[f"{name}.{key}"], f"{name}.{key}", line)
        except Refused as e:
            got = f"{e.code}: {e.reason}"
            ok = e.code == v.get(f"{name}.error")
            if ok and v.get(f"{name}.message") not in (None, e.reason):
                # Wording is free (PROTOCOL.md 1): reported, not counted as a failure.
                print(f"note {name}: message {e.reason!r} differs from the document's {v[f'{name}.message']!r}")
        c.check(ok, name, got)
        if name == "certificate.gov_valid" and "gov.ledger.certificate_chain" in v:
            cert, _ = wire.parse(bytes.fromhex(v[name]), wire.CERTIFICATE)
            ids = ",".join(object_id(e["kind"], e["body"]).hex() for e in cert["chain"])
            c.check(ids == v["gov.ledger.certificate_chain"], "gov.ledger.certificate_chain", "ids of certificate.gov_valid's chain")
        if name == "certificate.delib_valid" and "delib.ledger.revision.certificate_chain" in v:
            cert, _ = wire.parse(bytes.fromhex(v[name]), wire.CERTIFICATE)
            ids = ",".join(object_id(e["kind"], e["body"]).hex() for e in cert["chain"])
            key = "delib.ledger.revision.certificate_chain"
            c.check(ids == v[key], key, "ids of certificate.delib_valid's chain")
    return c.passed, c.failed
