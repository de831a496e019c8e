"""Deliberation as a node's ledger shows it (PROTOCOL.md section 8: comments
counted or not, open-voting and withdrawal notices, revisions, status at a
reader's clock, the dissent a certificate carries) and the lines of the
vectors of section 11.13 (`delib.*`, and the `.dissent` and `.window` lines
of a certificate).

None of this decides adoption: the ledger's window (ledger.py) does.
"""

from . import wire
from .crypto import signature_ok
from .dissent import SEAL_PREFIX
from .errors import Refused
from .ledger import ON_TIME, effective_stances, tally
from .rules import OPEN_VOTING, decode


def version_of(ledger, pid):
    """The roster version of a held proposal, or None when it does not resolve."""
    p = ledger.proposals.get(pid)
    if p is None or not ledger.resolvable(p.body["roster_heads"]):
        return None
    return ledger.version(p.body["roster_heads"])


def by_time(objects):
    return sorted(objects, key=lambda o: (o.body["created_at_ms"], o.id))


def comments(ledger, pid):
    """[(comment, counted)] of every comment held on `pid`, by (created_at_ms, id):
    counted when its trust is a member of the proposal's version and the comment
    is authorised for it as a stance record would be (12.4-12.7)."""
    v = version_of(ledger, pid)
    return [
        (o, v is not None and o.body["trust"] in v.members and ledger.record_authorised(v, o))
        for o in by_time(ledger.comments[pid])
    ]


def notices(ledger, pid):
    """[(open-voting or withdrawal, counted)] held on `pid`, by (created_at_ms, id)."""
    return [(o, ledger.notice_counted(o)) for o in by_time(ledger.notices[pid])]


def revisions(ledger, pid):
    """The revisions of `pid` (8): held proposals whose link targets it with
    relation amends (1), by (created_at_ms, id). One that supersedes it (2)
    replaces it and is not a revision."""
    linked = [
        p
        for p in ledger.proposals.values()
        if p.body["link"] is not None and p.body["link"]["target"] == pid and p.body["link"]["relation"] == 1
    ]
    return by_time(linked)


def status(ledger, pid, now):
    """The status of a held proposal at a reader's clock `now` (8): adopted,
    withdrawn, closed, draft or open."""
    if ledger.adopted(pid):
        return "adopted"
    w = ledger.window(pid)
    if w.withdrawn_at_ms is not None:
        return "withdrawn"
    if w.closes_at_ms is not None and now > w.closes_at_ms:
        return "closed"
    if w.opens_at_ms is None or now < w.opens_at_ms:
        return "draft"
    return "open"


def certificate_dissent(ledger, pid):
    """For every member whose effective stance is object or abstain, its counted
    on-time record of that stance with the lowest id, in trust order; None when
    the proposal is not adopted."""
    if not ledger.adopted(pid):
        return None
    v = version_of(ledger, pid)
    window = ledger.window(pid)
    effective = effective_stances(ledger, pid, v)
    out = []
    for t in sorted(effective):
        if effective[t] == 1:
            continue
        records = [
            e
            for e in ledger.records[pid]
            if e.body["trust"] == t
            and e.body["stance"] == effective[t]
            and window.timing(e.body["created_at_ms"]) == ON_TIME
            and ledger.record_authorised(v, e)
        ]
        out.append(min(records, key=lambda e: e.id).id)
    return out


# --- The lines of the vectors ------------------------------------------------------------


def dash(x):
    if x is None:
        return "-"
    return x.hex() if isinstance(x, bytes) else str(x)


def window_line(w):
    """`opens_at=<ms, 0 or -> opened_by=<id or -> closes_at=... withdrawn_at=... withdrawn_by=...`;
    `w` is a Window or its JSON form."""
    j = w if isinstance(w, dict) else w.as_json()
    return " ".join(
        f"{k}={'-' if j[f] is None else j[f]}"
        for k, f in (
            ("opens_at", "opens_at_ms"),
            ("opened_by", "opened_by"),
            ("closes_at", "closes_at_ms"),
            ("withdrawn_at", "withdrawn_at_ms"),
            ("withdrawn_by", "withdrawn_by"),
        )
    )


def dissent_line(report):
    """`objectors=<trust>:<stance id>,… abstainers=… silent=<trust>,… seal=<trust>:<delegation or ->:<n>`."""

    def listed(items):
        return ",".join(items) or "-"

    def stances(key):
        return listed(d["trust"] + ":" + d["stance_id"] for d in report[key])

    seal = report["seal"]
    sealed = "none" if seal is None else f"{seal['trust']}:{seal['delegation'] or '-'}:{seal['stances']}"
    silent = listed(t for t, _ in report["silent"])
    return f"objectors={stances('objectors')} abstainers={stances('abstainers')} silent={silent} seal={sealed}"


def tally_line(t, want):
    """The tally line of 11.5, with ` early=N` when the vector `want` has it."""
    if t is None:
        return "not tallied"
    keys = ["members", "required", "endorse", "object", "abstain", "equivocations", "late"]
    if "early=" in want:
        keys.append("early")
    return " ".join(f"{k}={t[k]}" for k in keys)


def seal_vector(v, objects):
    """`delib.seal`: the body is a canonical SealBody whose signature verifies
    under its trust's key (no delegation), listing the revision's stances."""
    body = bytes.fromhex(v["delib.seal.body"])
    s = decode(body, wire.SEAL_BODY, "seal body")
    ok = not s["delegation"] and signature_ok(s["trust"], SEAL_PREFIX + body, bytes.fromhex(v["delib.seal.signature"]))
    names = ["delib.revision.endorsement.a", "delib.revision.endorsement.b", "delib.revision.objection.c"]
    if all(n in objects for n in names):
        ok &= s["stances"] == sorted(objects[n].id for n in names)
    return ok


def check_deliberation(v, c, ledger_of, objects, now):
    """The ledger lines of 11.13 (`delib.ledger.<p>.*`) for a ledger holding every
    `delib.*` object. `ledger_of(names)` builds the ledger; `c.check` records."""
    if "delib.seal.body" in v and "delib.seal.signature" in v:
        try:
            ok, detail = seal_vector(v, objects), "seal body and signature"
        except Refused as e:
            ok, detail = False, f"{e.code}: {e.reason}"
        c.check(ok, "delib.seal", detail)
    if not any(k.startswith("delib.ledger.") for k in v):
        return
    ledger = ledger_of([n for n in objects if n.startswith("delib.")])
    for p in ("draft", "revision", "withdrawn"):
        prefix, name = f"delib.ledger.{p}", f"delib.{p}"
        if name not in objects:
            continue
        pid = objects[name].id
        lines = {"window": lambda: window_line(ledger.window(pid))}
        if now is not None:
            lines["status"] = lambda: status(ledger, pid, now)
        lines["comments"] = lambda: ",".join(
            f"{o.id.hex()}:{'counted' if n else 'not_counted'}" for o, n in comments(ledger, pid)
        )
        lines["notices"] = lambda: ",".join(
            f"{o.id.hex()}:{'open_voting' if o.kind == OPEN_VOTING else 'withdrawal'}:"
            f"{'counted' if n else 'not_counted'}"
            for o, n in notices(ledger, pid)
        )
        lines["revisions"] = lambda: ",".join(o.id.hex() for o in revisions(ledger, pid))
        lines["certificate_dissent"] = lambda: ",".join(x.hex() for x in certificate_dissent(ledger, pid) or [])
        lines["certificate_endorsements"] = lambda: ",".join(
            x.hex() for x in (tally(ledger, pid) or {}).get("certificate_endorsements", [])
        )
        lines["tally"] = lambda: tally_line(tally(ledger, pid), v[f"{prefix}.tally"])
        for key, line in lines.items():
            if f"{prefix}.{key}" in v:
                got = line()
                c.check(got == v[f"{prefix}.{key}"], f"{prefix}.{key}", got)
    return ledger
