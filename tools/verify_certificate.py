#!/usr/bin/env python3
"""Independent verifier of Chorus v1 certificates, written from docs/PROTOCOL.md.

An auditor's tool: it shares no code with the Rust implementation. It uses
only the Python standard library and PyNaCl (libsodium) for ed25519, with a
hand-written protobuf reader that applies the canonical encoding rule of
PROTOCOL.md section 2 directly. It implements the whole document, governance
(section 12: roster versions, governance proposals, delegation, revocation,
key rotation, proof chains) included; the code is in tools/chorus_verifier/.

Usage:
    verify_certificate.py CERT_FILE [--coalition HEX]   # raw certificate bytes ("-" for stdin)
    verify_certificate.py --hex HEX [--coalition HEX]
    verify_certificate.py --vectors docs/PROTOCOL.md     # check against the document's test vectors
    verify_certificate.py --batch FILE                   # one "<cert hex> <coalition hex or ->" per line

Prints "ok coalition=... proposal=... decision=... rule=<rule>:<n>/<d> members=M required=R
endorsers=K1,K2,..." and exits 0 for a valid certificate; prints "<Error>: <reason>" and
exits 1 otherwise. <Error> is the error name of PROTOCOL.md (e.g. Endorsement/InvalidField,
Chain/BadSignature, MissingLink, ProposalVoid). With --batch, prints one such line per input
line and exits 0.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chorus_verifier.certificate import verify  # noqa: E402
from chorus_verifier.errors import Refused  # noqa: E402
from chorus_verifier.vectors import check_vectors  # noqa: E402


def result_line(cert, expected):
    """The verdict as one line, and whether the certificate is valid."""
    try:
        return verify(cert, expected), True
    except Refused as e:
        reason = " ".join(str(e.reason).splitlines())
        return f"{e.code}: {reason}", False


def run_batch(path):
    source = sys.stdin if path == "-" else open(path, encoding="ascii")
    with source:
        for n, line in enumerate(source, 1):
            parts = line.split()
            if not parts:
                print("Input: empty line")
                continue
            try:
                cert = bytes.fromhex(parts[0]) if parts[0] != "-" else b""
                expected = None
                if len(parts) > 1 and parts[1] != "-":
                    expected = bytes.fromhex(parts[1])
            except ValueError:
                print(f"Input: line {n} is not '<certificate hex> <coalition hex or ->'")
                continue
            try:
                line = result_line(cert, expected)[0]
            except Exception as e:  # a bug here: keep one line per input so a comparison sees it
                line = f"InternalError: {type(e).__name__}: {' '.join(str(e).splitlines())}"
            print(line)
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?", help="certificate file (raw bytes), - for stdin")
    ap.add_argument("--hex", help="certificate as hex")
    ap.add_argument("--coalition", help="expected coalition id (hex)")
    ap.add_argument("--vectors", metavar="PROTOCOL_MD", help="check the test vectors of PROTOCOL.md")
    ap.add_argument("--batch", metavar="FILE", help="verify one '<hex> <coalition hex or ->' per line")
    ap.add_argument("-v", "--verbose", action="store_true", help="with --vectors: print every check")
    args = ap.parse_args()
    if args.vectors:
        passed, failed = check_vectors(args.vectors, verbose=args.verbose)
        print(f"{passed} passed, {failed} failed")
        sys.exit(1 if failed else 0)
    if args.batch:
        run_batch(args.batch)
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
    line, ok = result_line(cert, expected)
    print(line)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
