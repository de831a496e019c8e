"""Independent verifier of Chorus v1 certificates, written from docs/PROTOCOL.md.

Modules:
    wire         protobuf reader applying the canonical rule (section 2) and the schemas
    crypto       key rule and signature rule (section 5), PyNaCl for ed25519
    rules        envelopes, field rules and body rules (sections 3, 4, 6 with comments,
                 open-voting and withdrawal, 12.2, 12.5-12.7)
    attributes   member attributes, value sets, size bands, breadth rules (6.6) and
                 breadth: the breadth conditions of adoption and the breakdown (12.4)
    ledger       the ledger of sections 8 and 12.3-12.8 (ingest knowledge rules, roster
                 versions, key chains, delegation, revocation, voting windows, tallies)
    certificate  the certificate verification algorithm (sections 9 and 12.9)
    dissent      a certificate's dissent entries and seal (9.2 steps 13a, 13b, 19a, 22)
                 and the report of objectors, abstainers, silent members and seal

It shares no code with the Rust implementation (crates/chorus-core).
"""
