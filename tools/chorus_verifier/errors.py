"""The refusal every rule raises."""


class Refused(Exception):
    """A rule of PROTOCOL.md failed: `code` is the error name (as PROTOCOL.md and the
    reference implementation name it, e.g. `Endorsement/InvalidField`), `reason` the message."""

    def __init__(self, code, reason):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def nested(prefix, label, err):
    """Wraps an object's rejection as the certificate reports it:
    nested("Chain", "chain object 2 is invalid", err) -> Chain/<name> "chain object 2 is invalid: ..."."""
    return Refused(f"{prefix}/{err.code}", f"{label}: {err.reason}")
