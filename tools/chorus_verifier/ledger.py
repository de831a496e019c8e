"""The ledger of PROTOCOL.md sections 8 and 12.3-12.8, as a certificate verifier
needs it: a set of admitted objects on top of a genesis, the knowledge rules
of ingest (12.8 V6 and V7, with V7.4: declared values in the pinned charter's
sets), and the derived state: roster versions, closures, rosters with their
members' attributes, charters, key chains, authorised records, voting windows
(drafts, open-voting and withdrawal) and adoption (with breadth, 12.4).

Everything derived is a function of the set of admitted objects; an object is
applied once, by id (the first copy admitted is the one kept).
"""

from collections import defaultdict

from . import attributes as attrs
from .errors import Refused
from .rules import (
    COMMENT,
    DELEGATION,
    ENDORSEMENT,
    KEY_ROTATION,
    OPEN_VOTING,
    PROPOSAL,
    REVOCATION,
    WITHDRAWAL,
    required,
)

# Waiting reasons (verdict Ignore at ingest).
WAIT_SIGNER = "signer"  # (WAIT_SIGNER, key, trust): UnknownSigner
WAIT_ROSTER = "roster"  # (WAIT_ROSTER, version): UnknownRoster


class Ledger:
    def __init__(self, coalition, genesis):
        self.coalition = coalition
        self.founders = {m["trust_key"] for m in genesis["founders"]}
        self.founder_attributes = {m["trust_key"]: m["attrs"] for m in genesis["founders"]}
        self.founder_names = {m["trust_key"]: m["name"] for m in genesis["founders"]}
        self.genesis_charter = genesis["charter_of"]
        self.held = {}  # id -> Obj, every admitted object
        self.proposals = {}  # id -> Obj
        self.delegations = {}  # id -> Obj
        self.records = defaultdict(list)  # proposal id -> endorsements naming it
        self.revocations = defaultdict(list)  # delegation id -> revocations naming it
        self.rotations = defaultdict(list)  # trust -> rotations naming it
        self.admitted = set()  # trusts named by a held admit
        self.replacements = defaultdict(list)  # trust -> new keys of held replace_keys of it
        self.comments = defaultdict(list)  # proposal id -> comments naming it
        self.notices = defaultdict(list)  # proposal id -> open-votings and withdrawals naming it
        self._known = {}
        self._frozen = False
        self._cl = {}
        self._adopted = {}
        self._versions = {}
        self._windows = {}

    # --- Ingest (12.8) ------------------------------------------------------------------

    def known_keys(self, trust):
        """Known keys of a trust (12.8 V6): its id if it is a founder or named by a held
        admit, then the new keys of held replace_keys of it, then, until nothing
        changes, the new keys of held rotations of it signed by a known key."""
        keys = self._known.get(trust)
        if keys is not None:
            return keys
        keys = set()
        if trust in self.founders or trust in self.admitted:
            keys.add(trust)
            keys.update(self.replacements[trust])
            grew = True
            while grew:
                grew = False
                for r in self.rotations[trust]:
                    if r.signer in keys and r.body["new_key"] not in keys:
                        keys.add(r.body["new_key"])
                        grew = True
        self._known[trust] = keys
        return keys

    def judge(self, obj):
        """The knowledge rules V6 (signer) and V7 (roster heads) of 12.8 against what
        the ledger holds now. Returns None when the object may be admitted, a
        waiting reason (verdict Ignore: UnknownSigner, UnknownRoster) when it must
        wait, and raises Refused (verdict Reject) otherwise. A comment,
        open-voting or withdrawal object whose body rules refused it (V5a) is
        refused here, before V6."""
        if obj.refused is not None:
            raise obj.refused
        trust = obj.trust()
        if obj.kind in (ENDORSEMENT, COMMENT) and obj.body["delegation"]:
            d = self.delegations.get(obj.body["delegation"])
            if d is None:
                return (WAIT_SIGNER, obj.signer, trust)
            if d.body["trust"] != trust:
                raise Refused(
                    "InvalidField", f"delegation: is a delegation of trust {d.body['trust'].hex()}, not {trust.hex()}"
                )
            if d.body["delegate"] != obj.signer:
                raise Refused(
                    "SignerMismatch",
                    f"signed by {obj.signer.hex()}, but the delegate named in the body is {d.body['delegate'].hex()}",
                )
            if d.signer not in self.known_keys(trust):
                return (WAIT_SIGNER, obj.signer, trust)
            return None
        if obj.signer not in self.known_keys(trust):
            return (WAIT_SIGNER, obj.signer, trust)
        if obj.kind == PROPOSAL:
            heads = obj.body["roster_heads"]
            for h in heads:
                p = self.proposals.get(h)
                if p is not None and p.body["action"] is None:
                    raise Refused("InvalidField", f"roster heads: {h.hex()} is not a governance proposal")
            if not all(self._pinned(h) for h in heads):
                return (WAIT_ROSTER, obj.body["roster"])
            if not self._antichain(heads):
                raise Refused("InvalidField", "roster heads: a head is in the closure of another")
            # Declared values are in the sets of the charter of the pinned version,
            # which the held heads fix whatever their adoption.
            a = obj.body["action"]
            declared = None
            if a is not None and a["admit"] is not None:
                declared = (a["admit"]["trust_key"], a["admit"]["attrs"])
            elif a is not None and a["amend_member"] is not None:
                declared = (a["amend_member"]["trust"], a["amend_member"]["attrs"])
            if declared is not None and declared[1] != attrs.NO_ATTRIBUTES:
                charter = self.charter_of(self.closure_of(heads))
                attrs.check_values(declared[1], charter["sets"], f"trust {declared[0].hex()}")
        return None

    def _pinned(self, head):
        """The head is a held governance proposal whose heads are, recursively."""
        stack, seen = [head], set()
        while stack:
            h = stack.pop()
            if h in seen:
                continue
            seen.add(h)
            p = self.proposals.get(h)
            if p is None or p.body["action"] is None:
                return False
            stack.extend(p.body["roster_heads"])
        return True

    def admit(self, obj):
        """Applies an object (idempotent by id)."""
        assert not self._frozen
        if obj.id in self.held:
            return
        self.held[obj.id] = obj
        self._known.clear()
        # Closures need no reset: a proposal is admitted only once its heads are, recursively.
        b = obj.body
        if obj.kind == PROPOSAL:
            self.proposals[obj.id] = obj
            a = b["action"]
            if a is not None:
                if a["admit"] is not None:
                    self.admitted.add(a["admit"]["trust_key"])
                elif a["replace_key"] is not None:
                    self.replacements[a["replace_key"]["trust"]].append(a["replace_key"]["new_key"])
        elif obj.kind == ENDORSEMENT:
            self.records[b["proposal"]].append(obj)
        elif obj.kind == DELEGATION:
            self.delegations[obj.id] = obj
        elif obj.kind == REVOCATION:
            self.revocations[b["delegation"]].append(obj)
        elif obj.kind == KEY_ROTATION:
            self.rotations[b["trust"]].append(obj)
        elif obj.kind == COMMENT:
            self.comments[b["proposal"]].append(obj)
        elif obj.kind in (OPEN_VOTING, WITHDRAWAL):
            self.notices[b["proposal"]].append(obj)

    def freeze(self):
        """No more objects: derived state may be cached from now on."""
        self._frozen = True

    # --- Closures and roster versions (12.3) ---------------------------------------------

    def governance(self, pid):
        p = self.proposals.get(pid)
        return p if p is not None and p.body["action"] is not None else None

    def closure(self, gid):
        """cl(G) = {G} and the closures of its heads (held governance proposals only)."""
        done = self._cl.get(gid)
        if done is not None:
            return done
        stack = [gid]
        while stack:
            g = stack[-1]
            if g in self._cl:
                stack.pop()
                continue
            p = self.governance(g)
            heads = [h for h in p.body["roster_heads"] if self.governance(h) is not None] if p else []
            todo = [h for h in heads if h not in self._cl]
            if todo:
                stack.extend(todo)
                continue
            cl = {g}
            for h in heads:
                cl |= self._cl[h]
            self._cl[g] = frozenset(cl)
            stack.pop()
        return self._cl[gid]

    def closure_of(self, heads):
        out = set()
        for h in heads:
            out |= self.closure(h)
        return out

    def charter_of(self, closure):
        """The charter after the charter amendments of a closure (12.3): the last by
        (closure size, id), else the genesis charter."""
        amendments = [g for g in closure if self.proposals[g].body["action"]["amend_charter"] is not None]
        if not amendments:
            return self.genesis_charter
        last = max(amendments, key=lambda g: (len(self.closure(g)), g))
        return self.proposals[last].body["action"]["charter_of"]

    def _antichain(self, heads):
        for a in heads:
            for b in heads:
                if a != b and self.governance(b) is not None and a in self.closure(b):
                    return False
        return True

    def resolvable(self, heads):
        """Every head a held, adopted governance proposal, and the heads an antichain."""
        for h in heads:
            if self.governance(h) is None or not self.adopted(h):
                return False
        return self._antichain(heads)

    def version(self, heads):
        """Roster, root keys and charter rules of the version named by `heads`
        (which must be held governance proposals)."""
        key = tuple(heads)
        v = self._versions.get(key)
        if v is None:
            v = Version(self, heads)
            self._versions[key] = v
        return v

    # --- Tallies (12.4-12.7, 8) ----------------------------------------------------------------

    def key_chain(self, version, trust):
        """(keys in T's chain, keep lists of superseded/frozen keys, current key or None)."""
        cached = version.chains.get(trust)
        if cached is not None:
            return cached
        k = version.root_key(trust)
        chain, keep, current = [k], {}, None
        while True:
            rots = [r for r in self.rotations[trust] if r.signer == k]
            if not rots:
                current = k
                break
            if len(rots) > 1:  # equivocated key: frozen
                kept = set(rots[0].body["keep"])
                for r in rots[1:]:
                    kept &= set(r.body["keep"])
                keep[k] = kept
                break
            keep[k] = set(rots[0].body["keep"])
            k = rots[0].body["new_key"]
            if k in chain:
                break
            chain.append(k)
        result = (set(chain), keep, current)
        version.chains[trust] = result
        return result

    def authorised(self, version, trust, signer, oid):
        """An object `oid` signed by `signer` is authorised for `trust` under the version (12.6)."""
        chain, keep, current = self.key_chain(version, trust)
        return signer in chain and (signer == current or oid in keep.get(signer, ()))

    def record_authorised(self, version, e):
        """An endorsement is authorised for its trust under the version (12.4, 12.5, 12.7)."""
        trust = e.body["trust"]
        did = e.body["delegation"]
        if not did:
            return self.authorised(version, trust, e.signer, e.id)
        d = self.delegations.get(did)
        if d is None:
            return False
        b = d.body
        if b["trust"] != trust or not self.authorised(version, trust, d.signer, d.id):
            return False
        if not b["scope"] & 1 or b["delegate"] != e.signer:
            return False
        t = e.body["created_at_ms"]
        if t < b["valid_from_ms"] or (b["valid_until_ms"] and t > b["valid_until_ms"]):
            return False
        chain = self.key_chain(version, trust)[0]
        for r in self.revocations[did]:
            if r.body["trust"] == trust and r.signer in chain and e.id not in r.body["keep"]:
                return False
        return True

    def void_reason(self, p, version):
        """None if the proposal counts under its (resolvable) version, else why it is void (12.2, 12.4)."""
        author = p.body["author"]
        if author not in version.members:
            return f"its author {author.hex()} is not a member under that version"
        if not self.authorised(version, author, p.signer, p.id):
            return f"it is not signed by a key authorised for its author {author.hex()} under that version"
        return version.inapplicable(p)

    # --- Voting windows (8) ----------------------------------------------------------------

    def notice_counted(self, n):
        """An open-voting or withdrawal takes effect: its proposal is held (and its
        version resolves), it names the proposal's author, and its signer is
        authorised for the author under the proposal's roster version, as the
        proposal's own signer must be (12.6)."""
        p = self.proposals.get(n.body["proposal"])
        if p is None or n.body["author"] != p.body["author"]:
            return False
        heads = p.body["roster_heads"]
        if not self.resolvable(heads):
            return False
        return self.authorised(self.version(heads), n.body["author"], n.signer, n.id)

    def window(self, pid):
        """The voting window of a held proposal (8)."""
        done = self._windows.get(pid)
        if done is not None:
            return done
        p = self.proposals[pid].body
        opening, withdrawal = [], []
        for n in self.notices[pid]:
            if self.notice_counted(n):
                (opening if n.kind == OPEN_VOTING else withdrawal).append((n.body["created_at_ms"], n.id))
        w = Window()
        if not p["draft"] and not p["voting_opens_at_ms"]:
            w.opens_at_ms = 0
        else:
            fixed = [(p["voting_opens_at_ms"], None)] if p["voting_opens_at_ms"] else []
            # The fixed time first among equal times: an open-voting then sets nothing earlier.
            candidates = sorted(fixed + opening, key=lambda c: (c[0], c[1] is not None, c[1] or b""))
            if candidates:
                w.opens_at_ms, w.opened_by = candidates[0]
        w.closes_at_ms = p["closes_at_ms"] or None
        if withdrawal:
            w.withdrawn_at_ms, w.withdrawn_by = min(withdrawal)
        self._windows[pid] = w
        return w

    def adopted(self, gid):
        """Whether a held proposal is adopted in the ledger (8, 12.4)."""
        done = self._adopted.get(gid)
        if done is not None:
            return done
        # Decide the heads first, in order of closure size, to avoid deep recursion.
        pending = sorted(
            (g for g in self.closure(gid) if g not in self._adopted and g != gid), key=lambda g: len(self.closure(g))
        )
        for g in pending:
            self._adopted[g] = self._decide(g)
        self._adopted[gid] = self._decide(gid)
        return self._adopted[gid]

    def _decide(self, pid):
        p = self.proposals.get(pid)
        if p is None:
            return False
        heads = p.body["roster_heads"]
        if not self.resolvable(heads):
            return False
        v = self.version(heads)
        if self.void_reason(p, v) is not None:
            return False
        window = self.window(pid)
        endorsing = set()
        for e in self.records[pid]:
            t = e.body["trust"]
            if e.body["stance"] != 1 or t not in v.members or t in endorsing:
                continue
            if window.timing(e.body["created_at_ms"]) != ON_TIME:
                continue
            if self.record_authorised(v, e):
                endorsing.add(t)
        if len(endorsing) < required(len(v.members), v.rule_for(p)):
            return False
        rules = v.charter["breadth"][v.rule_name(p)]
        return attrs.first_shortfall(v.charter["sets"], rules, [v.attributes[t] for t in endorsing]) is None


EARLY, ON_TIME, LATE = "early", "on time", "late"


class Window:
    """The voting window of a proposal (8): opens_at_ms None when voting has not
    opened (O = infinity), 0 when open from the start; closes_at_ms and
    withdrawn_at_ms None when not set (infinity). opened_by is the counted
    open-voting that sets O, withdrawn_by the counted withdrawal with the
    lowest (created_at_ms, id)."""

    def __init__(self):
        self.opens_at_ms = None
        self.opened_by = None
        self.closes_at_ms = None
        self.withdrawn_at_ms = None
        self.withdrawn_by = None

    def ends_at_ms(self):
        """E = min(C, W), None for infinity."""
        ends = [t for t in (self.closes_at_ms, self.withdrawn_at_ms) if t is not None]
        return min(ends) if ends else None

    def timing(self, t):
        """A record signed at `t` is early (before O), late (after E) or on time."""
        if self.opens_at_ms is None or t < self.opens_at_ms:
            return EARLY
        ends = self.ends_at_ms()
        return LATE if ends is not None and t > ends else ON_TIME

    def as_json(self):
        def hex_or_none(x):
            return None if x is None else x.hex()

        return {
            "opens_at_ms": self.opens_at_ms,
            "opened_by": hex_or_none(self.opened_by),
            "closes_at_ms": self.closes_at_ms,
            "withdrawn_at_ms": self.withdrawn_at_ms,
            "withdrawn_by": hex_or_none(self.withdrawn_by),
        }


class Version:
    """A roster version (12.3): roster, root keys, charter."""

    def __init__(self, ledger, heads):
        self.ledger = ledger
        self.heads = list(heads)
        self.chains = {}
        cl = ledger.closure_of(heads)
        events = defaultdict(list)  # trust -> [(proposal id, action type)], in id order
        for g in sorted(cl):
            a = ledger.proposals[g].body["action"]
            if a["admit"] is not None:
                events[a["admit"]["trust_key"]].append((g, "admit"))
            elif a["remove"]:
                events[a["remove"]].append((g, "remove"))
            elif a["replace_key"] is not None:
                events[a["replace_key"]["trust"]].append((g, "replace_key"))
            elif a["amend_member"] is not None:
                events[a["amend_member"]["trust"]].append((g, "amend_member"))
        self.events = events
        candidates = set(ledger.founders) | {t for t, evs in events.items() if any(k == "admit" for _, k in evs)}
        self.members = set()
        for t in candidates:
            if not any(kind == "remove" for _, kind in self._maximal(events[t])):
                self.members.add(t)
        self._roots = {}
        self.charter = ledger.charter_of(cl)
        self.rules = self.charter["rules"]
        # Attributes (12.3 with issue 15): a founder's from the genesis, an admitted
        # trust's from its admission (the first by id of the latest ones), replaced
        # by an amend_member when the first by id of the latest admissions and
        # amendments of the trust is one.
        self.attributes = {}
        self.names = {}  # trust -> its name in the roster, from the same admission as its attributes
        for t in self.members:
            evs = events.get(t, ())
            admits = self._maximal([e for e in evs if e[1] == "admit"])
            if admits:
                admitted = ledger.proposals[admits[0][0]].body["action"]["admit"]
                current = admitted["attrs"]
                self.names[t] = admitted["name"]
            else:
                current = ledger.founder_attributes[t]
                self.names[t] = ledger.founder_names[t]
            latest = self._maximal([e for e in evs if e[1] in ("admit", "amend_member")])
            if latest and latest[0][1] == "amend_member":
                current = ledger.proposals[latest[0][0]].body["action"]["amend_member"]["attrs"]
            self.attributes[t] = current

    def _maximal(self, evs):
        cl = self.ledger.closure
        return [e for e in evs if not any(o[0] != e[0] and e[0] in cl(o[0]) for o in evs)]

    def root_key(self, trust):
        k = self._roots.get(trust)
        if k is None:
            key_events = [e for e in self.events.get(trust, ()) if e[1] in ("admit", "replace_key")]
            if not key_events:
                k = trust
            else:
                g = min(e[0] for e in self._maximal(key_events))
                a = self.ledger.proposals[g].body["action"]
                k = a["admit"]["trust_key"] if a["admit"] is not None else a["replace_key"]["new_key"]
            self._roots[trust] = k
        return k

    def rule_name(self, p):
        t = p.body["kind_of_action"]
        return "positions" if t is None else "amendments" if t == "amend_charter" else "membership"

    def breakdown(self, p, stances):
        """The tally of proposal `p` broken down by attribute (attributes.breakdown),
        `stances` mapping members to their effective stance."""
        name = self.rule_name(p)
        members = {t: self.attributes[t] for t in sorted(self.members)}
        return attrs.breakdown(name, self.charter["sets"], self.charter["breadth"][name], members, stances)

    def rule_for(self, p):
        return self.rules[self.rule_name(p)]

    def inapplicable(self, p):
        """None if the proposal's action applies to this version (12.2 Applicability), else why not."""
        a = p.body["action"]
        t = p.body["kind_of_action"]
        if t is None or t == "amend_charter":
            return None
        roots = {self.root_key(m) for m in self.members}
        if t == "admit":
            trust = a["admit"]["trust_key"]
            if trust in self.members or trust in roots:
                return f"its action does not apply: it admits {trust.hex()}, which is already the trust id or root key of a member"
            return None
        if t == "remove":
            trust = a["remove"]
            if trust not in self.members:
                return f"its action does not apply: it removes {trust.hex()}, which is not a member"
            if len(self.members) < 2:
                return "its action does not apply: it removes the only member"
            return None
        if t == "amend_member":
            trust = a["amend_member"]["trust"]
            if trust not in self.members:
                return f"its action does not apply: it amends the attributes of {trust.hex()}, which is not a member"
            return None
        r = a["replace_key"]
        if r["trust"] not in self.members:
            return f"its action does not apply: it replaces the key of {r['trust'].hex()}, which is not a member"
        if r["new_key"] in self.members or r["new_key"] in roots:
            return f"its action does not apply: its new key {r['new_key'].hex()} is already the trust id or root key of a member"
        return None


def records_of(ledger, pid, v):
    """The authorised records of members under version `v` for a proposal: (stances
    each trust signed (early, on time or late), on-time records by trust, number
    of late records, number of early records)."""
    window = ledger.window(pid)
    stances, on_time, late, early = defaultdict(set), defaultdict(list), 0, 0
    for e in ledger.records[pid]:
        t = e.body["trust"]
        if t not in v.members or not ledger.record_authorised(v, e):
            continue
        stances[t].add(e.body["stance"])
        timing = window.timing(e.body["created_at_ms"])
        if timing == LATE:
            late += 1
        elif timing == EARLY:
            early += 1
        else:
            on_time[t].append(e)
    return stances, on_time, late, early


def effective_stances(ledger, pid, v):
    """Each member's effective stance on a proposal (8): endorse (1) over object (2)
    over abstain (3), among its authorised on-time records."""
    return effective_of(records_of(ledger, pid, v)[1])


def effective_of(on_time):
    """The effective stance of each trust of `on_time` (records by trust):
    endorse (1) over object (2) over abstain (3)."""
    return {t: min(r.body["stance"] for r in rs) for t, rs in on_time.items()}


def tally(ledger, pid):
    """The tally of section 8 (with 12.4) of a held proposal whose version
    resolves, as a dict; None when its version does not resolve or it is void."""
    p = ledger.proposals[pid]
    heads = p.body["roster_heads"]
    if not ledger.resolvable(heads):
        return None
    v = ledger.version(heads)
    if ledger.void_reason(p, v) is not None:
        return None
    stances, on_time, late, early = records_of(ledger, pid, v)
    effective = effective_of(on_time)
    members = len(v.members)
    chosen = [
        min((r for r in on_time[t] if r.body["stance"] == 1), key=lambda r: r.id).id
        for t in sorted(effective)
        if effective[t] == 1
    ]
    return {
        "members": members,
        "required": required(members, v.rule_for(p)),
        "endorse": sum(1 for s in effective.values() if s == 1),
        "object": sum(1 for s in effective.values() if s == 2),
        "abstain": sum(1 for s in effective.values() if s == 3),
        "equivocations": sum(1 for s in stances.values() if len(s) > 1),
        "late": late,
        "early": early,
        "certificate_endorsements": chosen,
    }
