"""The verifier's check of PROTOCOL.md 11.13 (`delib.*` ledger lines, the seal,
and the `.dissent` and `.window` lines of certificates), on a document written
here for the scenario 11.13 describes, with every expected line worked out by
hand from section 8 rather than by the verifier.

Run: python3 -m unittest discover -s tools/tests   (needs PyNaCl)
"""

import contextlib
import io
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from builder import ABSTAIN, OBJECT, Coalition, by_trust, seal, seal_body, sealed  # noqa: E402
from chorus_verifier.vectors import check_vectors  # noqa: E402

HOUR, DAY = 3_600_000, 86_400_000
T = 1_767_225_600_000
D = T + 20 * DAY


class Scenario:
    """11.13's objects, in a coalition of three (a, b, c; 2 of 3 adopt)."""

    def __init__(self):
        c = self.c = Coalition(3)
        closes = D + 10 * DAY
        o = self.objects = {}
        draft = o["delib.draft"] = c.proposal(0, at=D, closes=closes, title="Teacher workload", draft=True)
        comment = o["delib.comment"] = c.comment(1, draft, "Which schools?", at=D + HOUR)
        o["delib.reply"] = c.comment(2, draft, "All of them.", at=D + 2 * HOUR, reply_to=comment.id)
        amendment = o["delib.amendment"] = c.comment(
            2, draft, "Costed.", at=D + 3 * HOUR, amendment=("A costed text", "Teacher workload, costed")
        )
        o["delib.draft.endorsement.a"] = c.endorsement(0, draft, at=D + 4 * HOUR)
        o["delib.draft.endorsement.b"] = c.endorsement(1, draft, at=D + 4 * HOUR)
        o["delib.stray_open_voting"] = c.notice(13, 1, draft, D + 5 * HOUR)
        o["delib.draft.withdrawal"] = c.notice(14, 0, draft, D + DAY, reason="Replaced by the revised text.")
        revision = o["delib.revision"] = c.proposal(
            0,
            at=D + DAY,
            closes=closes,
            title="Teacher workload, costed",
            draft=True,
            opens=D + 3 * DAY,
            link=draft.id,
            amendments=[amendment.id],
        )
        o["delib.revision.early.b"] = c.endorsement(1, revision, at=D + DAY + HOUR)
        o["delib.revision.open_voting"] = c.notice(13, 0, revision, D + 2 * DAY)
        o["delib.revision.endorsement.a"] = c.endorsement(0, revision, at=D + 2 * DAY + HOUR)
        o["delib.revision.endorsement.b"] = c.endorsement(1, revision, at=D + 2 * DAY + HOUR)
        o["delib.revision.abstention.c"] = c.endorsement(2, revision, ABSTAIN, at=D + 2 * DAY + HOUR)
        o["delib.revision.objection.c"] = c.endorsement(
            2, revision, OBJECT, at=D + 2 * DAY + 2 * HOUR, comment="The workload section still needs a costing."
        )
        withdrawn = o["delib.withdrawn"] = c.proposal(1, at=D, closes=closes, title="Longer lunch")
        o["delib.withdrawn.withdrawal"] = c.notice(14, 1, withdrawn, D + 2 * HOUR)
        o["delib.withdrawn.endorsement.a"] = c.endorsement(0, withdrawn, at=D + HOUR)
        o["delib.withdrawn.endorsement.c"] = c.endorsement(2, withdrawn, at=D + 3 * HOUR)
        self.ends = by_trust([o["delib.revision.endorsement.a"], o["delib.revision.endorsement.b"]])
        self.dissent = [o["delib.revision.objection.c"]]
        ids = [e.id for e in self.ends + self.dissent]
        self.seal_body = seal_body(c.id, revision.id, c.trust(0), ids)
        self.valid = sealed(c, revision, self.ends, chain=[o["delib.revision.open_voting"]], dissent=self.dissent)

    def document(self, lines):
        c, o = self.c, self.objects
        out = ["`D` is `T + 20 days`", f"(`{D}`, 2026-01-21T00:00:00Z).", "", "```vectors"]
        out.append(f"genesis.body: {c.genesis_body.hex()}")
        out.append(f"genesis.envelope: {c.genesis.hex()}")
        out.append(f"genesis.id: {c.id.hex()}")
        for name, obj in o.items():
            out += [f"{name}.body: {obj.body.hex()}", f"{name}.envelope: {obj.env.hex()}", f"{name}.id: {obj.id.hex()}"]
        signature = seal(self.seal_body, c.key(0))[-64:]
        out += [f"delib.seal.body: {self.seal_body.hex()}", f"delib.seal.signature: {signature.hex()}"]
        out += [f"{k}: {v}" for k, v in lines.items()]
        out.append("```")
        return "\n".join(out) + "\n"


def check(text):
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as f:
        f.write(text)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            passed, failed = check_vectors(f.name, verbose=True)
    finally:
        os.unlink(f.name)
    return passed, failed, out.getvalue()


class DeliberationVectors(unittest.TestCase):
    def test_the_scenario_of_11_13(self):
        s = Scenario()
        c, o = s.c, s.objects

        def h(name):
            return o[name].id.hex()

        closes = D + 10 * DAY
        a, b, t_c = (c.trust(i).hex() for i in range(3))
        lines = {
            "delib.ledger.draft.window": f"opens_at=- opened_by=- closes_at={closes} withdrawn_at={D + DAY} "
            f"withdrawn_by={h('delib.draft.withdrawal')}",
            "delib.ledger.draft.status": "withdrawn",
            "delib.ledger.draft.tally": "members=3 required=2 endorse=0 object=0 abstain=0 equivocations=0 late=0 early=2",
            "delib.ledger.draft.comments": f"{h('delib.comment')}:counted,{h('delib.reply')}:counted,"
            f"{h('delib.amendment')}:counted",
            "delib.ledger.draft.notices": f"{h('delib.stray_open_voting')}:open_voting:not_counted,"
            f"{h('delib.draft.withdrawal')}:withdrawal:counted",
            "delib.ledger.draft.revisions": h("delib.revision"),
            "delib.ledger.revision.window": f"opens_at={D + 2 * DAY} opened_by={h('delib.revision.open_voting')} "
            f"closes_at={closes} withdrawn_at=- withdrawn_by=-",
            "delib.ledger.revision.status": "adopted",
            "delib.ledger.revision.tally": "members=3 required=2 endorse=2 object=1 abstain=0 equivocations=1 late=0 "
            "early=1",
            "delib.ledger.revision.certificate_endorsements": ",".join(e.id.hex() for e in s.ends),
            "delib.ledger.revision.certificate_dissent": h("delib.revision.objection.c"),
            "delib.ledger.revision.certificate_chain": h("delib.revision.open_voting"),
            "delib.ledger.withdrawn.window": f"opens_at=0 opened_by=- closes_at={closes} withdrawn_at={D + 2 * HOUR} "
            f"withdrawn_by={h('delib.withdrawn.withdrawal')}",
            "delib.ledger.withdrawn.status": "withdrawn",
            "delib.ledger.withdrawn.tally": "members=3 required=2 endorse=1 object=0 abstain=0 equivocations=0 late=1 "
            "early=0",
            "certificate.delib_valid": s.valid.hex(),
            "certificate.delib_valid.result": f"ok coalition={c.id.hex()} proposal={h('delib.revision')} "
            f"decision=position rule=positions:1/2 members=3 required=2 endorsers={','.join(sorted([a, b]))}",
            "certificate.delib_valid.dissent": f"objectors={t_c}:{h('delib.revision.objection.c')} abstainers=- "
            f"silent=- seal={a}:-:3",
            "certificate.delib_valid.window": f"opens_at={D + 2 * DAY} opened_by={h('delib.revision.open_voting')} "
            f"closes_at={closes} withdrawn_at=- withdrawn_by=-",
        }
        passed, failed, out = check(s.document(lines))
        self.assertEqual(failed, 0, out)
        for name in list(lines) + ["delib.seal", "delib.comment", "delib.stray_open_voting"]:
            if not name.endswith(".result") and name != "certificate.delib_valid":
                self.assertIn(f"pass {name}:", out)
        # A wrong line fails.
        lines["delib.ledger.draft.status"] = "draft"
        passed, failed, out = check(s.document(lines))
        self.assertEqual(failed, 1, out)
        self.assertIn("FAIL delib.ledger.draft.status: withdrawn", out)


if __name__ == "__main__":
    unittest.main()
