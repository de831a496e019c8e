#!/usr/bin/env python3
"""Independent verifier of Chorus v1 certificates, written from docs/PROTOCOL.md.

An auditor's tool: it shares no code with the Rust implementation. It uses
only the Python standard library and PyNaCl (libsodium) for ed25519, with a
hand-written protobuf reader that applies the canonical encoding rule of
PROTOCOL.md section 2 directly. It implements the whole document, governance
(section 12: roster versions, governance proposals, delegation, revocation,
key rotation, proof chains) and member attributes and breadth rules (6.6,
12.4, 9.2 step 21) included; the code is in tools/chorus_verifier/.

Usage:
    verify_certificate.py CERT_FILE [--coalition HEX] [--json] [--require-seal]   # raw bytes ("-": stdin)
    verify_certificate.py --hex HEX [--coalition HEX] [--json] [--require-seal]
    verify_certificate.py --vectors docs/PROTOCOL.md     # check against the document's test vectors
    verify_certificate.py --batch FILE [--json]          # one "<cert hex> <coalition hex or ->" per line

Prints "ok coalition=... proposal=... decision=... rule=<rule>:<n>/<d> members=M required=R
endorsers=K1,K2,..." and exits 0 for a valid certificate, followed, when its coalition uses
member attributes or breadth rules, by its breadth as `chorus verify` words it:
"breadth      endorsed by 34 of 52 member trusts, from 8 of 9 regions, running 412 schools
with 198,000 pupils" (regions when the charter has a region set, schools and pupils when an
endorser declares them) and one "breadth rule from at least 6 of 9 regions: 8, met" line per
breadth rule of the rule applied, its voting window when not simply open from the start
("window       voting opened at O ms by X; withdrawn at W ms by Y"), and, when it records
dissent (carries a seal or dissent entries), its objectors with their reasons, abstainers,
members with no stance carried ("did not respond" only when sealed, else "no stance carried")
and seal: "seal         dissent known to <name>'s node: ..."
or "seal         dissent not recorded: this certificate carries no seal". With
--require-seal, a certificate without a seal fails as `Unsealed`. Otherwise prints "<Error>: <reason>" and exits 1. <Error>
is the error name of PROTOCOL.md (e.g. Endorsement/InvalidField, Chain/BadSignature,
MissingLink, ProposalVoid, Breadth). With --batch, prints one verdict line per input line
and exits 0.

With --json, prints one JSON object instead (one per input line with --batch):
{"valid": true, "result": "<ok line>", "summary": "<endorsed by ...>", "breakdown": {...}} or
{"valid": false, "code": "<Error>", "error": "<reason>"}. The breakdown is the tally by
attribute under the proposal's roster version of the certificate's endorsements (9.2 step
21: every other member is silent, even one whose stance is carried in the chain): "rule", "members", "endorsers"; "region",
"phase", "trust_type", "size_band" as rows {"value", "endorse", "object", "abstain",
"silent"} for every value of the charter's set in set order, then "value": null (not
declared); "endorser_schools", "endorsers_declaring_schools", "endorser_pupils",
"endorsers_declaring_pupils"; "breadth": [{"rule": {"attribute", "min_distinct",
"each_of"}, "distinct", "missing", "met"}]. "report" (every valid certificate): "objectors" and
"abstainers" as [{"trust", "name", "stance_id", "created_at_ms", "comment" (null: none)}], "silent" as
[[trust, name]] (members of the version with no stance in `endorsements` or `dissent`), "seal"
(null, or {"trust", "name", "signer", "delegation", "stances"}), "window" ({"opens_at_ms"
(null: never opened, 0: from the start), "opened_by", "closes_at_ms", "withdrawn_at_ms",
"withdrawn_by"}) and "dissent": "dissent known to <name>'s node" or "dissent not recorded:
this certificate carries no seal".
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chorus_verifier.attributes import breadth_lines, informative, summary  # noqa: E402
from chorus_verifier.certificate import verify_full  # noqa: E402
from chorus_verifier.dissent import report_lines  # noqa: E402
from chorus_verifier.errors import Refused  # noqa: E402
from chorus_verifier.vectors import check_vectors  # noqa: E402


def verdict(cert, expected, require_seal=False):
    """The verdict as JSON-ready dict (see the module's help)."""
    try:
        line, breakdown, report = verify_full(cert, expected, require_seal)
    except Refused as e:
        return {"valid": False, "code": e.code, "error": " ".join(str(e.reason).splitlines())}
    return {"valid": True, "result": line, "summary": summary(breakdown), "breakdown": breakdown, "report": report}


def records_dissent(report):
    """The certificate carries a seal or dissent entries (made once dissent was recorded)."""
    return report["seal"] is not None or bool(report["objectors"]) or bool(report["abstainers"])


def verdict_line(v):
    """The verdict as one line: the `ok ...` line, or "<Error>: <reason>"."""
    return v["result"] if v["valid"] else f"{v['code']}: {v['error']}"


def run_batch(path, as_json, require_seal):
    def emit(v):
        print(json.dumps(v, ensure_ascii=False) if as_json else verdict_line(v))

    source = sys.stdin if path == "-" else open(path, encoding="ascii")
    with source:
        for n, line in enumerate(source, 1):
            parts = line.split()
            if not parts:
                emit({"valid": False, "code": "Input", "error": "empty line"})
                continue
            try:
                cert = bytes.fromhex(parts[0]) if parts[0] != "-" else b""
                expected = None
                if len(parts) > 1 and parts[1] != "-":
                    expected = bytes.fromhex(parts[1])
            except ValueError:
                error = f"line {n} is not '<certificate hex> <coalition hex or ->'"
                emit({"valid": False, "code": "Input", "error": error})
                continue
            try:
                v = verdict(cert, expected, require_seal)
            except Exception as e:  # a bug here: keep one line per input so a comparison sees it
                error = f"{type(e).__name__}: {' '.join(str(e).splitlines())}"
                v = {"valid": False, "code": "InternalError", "error": error}
            emit(v)
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", help="certificate file (raw bytes), - for stdin")
    ap.add_argument("--hex", help="certificate as hex")
    ap.add_argument("--coalition", help="expected coalition id (hex)")
    ap.add_argument("--vectors", metavar="PROTOCOL_MD", help="check the test vectors of PROTOCOL.md")
    ap.add_argument("--batch", metavar="FILE", help="verify one '<hex> <coalition hex or ->' per line")
    ap.add_argument("--json", action="store_true", help="print the verdict and the breakdown as JSON")
    ap.add_argument("--require-seal", action="store_true", help="fail (Unsealed) when the certificate carries no seal")
    ap.add_argument("-v", "--verbose", action="store_true", help="with --vectors: print every check")
    args = ap.parse_args()
    if args.vectors:
        passed, failed = check_vectors(args.vectors, verbose=args.verbose)
        print(f"{passed} passed, {failed} failed")
        sys.exit(1 if failed else 0)
    if args.batch:
        run_batch(args.batch, args.json, args.require_seal)
        sys.exit(0)
    if args.hex is not None:
        cert = bytes.fromhex(args.hex)
    elif args.file == "-":
        cert = sys.stdin.buffer.read()
    elif args.file:
        with open(args.file, "rb") as f:
            cert = f.read()
    else:
        ap.error("give a certificate file, --hex, --vectors or --batch")
    expected = bytes.fromhex(args.coalition) if args.coalition else None
    v = verdict(cert, expected, args.require_seal)
    if args.json:
        print(json.dumps(v, ensure_ascii=False, indent=2))
    else:
        print(verdict_line(v))
        if v["valid"] and informative(v["breakdown"]):
            print(f"breadth      {v['summary']}")
            for line in breadth_lines(v["breakdown"]):
                print(f"breadth rule {line}")
        # A certificate made before dissent was recorded prints its result line as
        # before (its window is open from the start); its JSON report says
        # dissent is not recorded.
        if v["valid"]:
            for line in report_lines(v["report"], records_dissent(v["report"])):
                print(line)
    sys.exit(0 if v["valid"] else 1)


if __name__ == "__main__":
    main()
