"""Key rule and signature rule (PROTOCOL.md section 5).

The key rule is checked here in pure Python; signatures are checked with
libsodium's crypto_sign_verify_detached through PyNaCl, which the document
names as giving exactly the verdicts of the strict rule.
"""

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .errors import Refused

P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decompress(b):
    """RFC 8032 5.1.3 point decoding of a canonical encoding, or None."""
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    sign = b[31] >> 7
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x2 = u * pow(v, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = (P - x) % P  # x = 0 with the sign bit set stays 0 (small order, refused next)
    return x, y


def add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + y1 * x2) * pow(1 + t, P - 2, P) % P, (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P)


_accepted = {}


def key_error(b):
    """The key rule: None if `b` is an acceptable public key, else the reason."""
    if len(b) != 32:
        return f"a public key is 32 bytes, got {len(b)}"
    b = bytes(b)
    if b in _accepted:
        return _accepted[b]
    if int.from_bytes(b, "little") & ((1 << 255) - 1) >= P:
        reason = f"public key {b.hex()} is not a canonical point encoding"
    else:
        point = decompress(b)
        if point is None:
            reason = f"public key {b.hex()} is not a point on the curve"
        else:
            q = point
            for _ in range(3):
                q = add(q, q)
            reason = f"public key {b.hex()} is a small-order (weak) point" if q == (0, 1) else None
    if len(_accepted) < 100_000:
        _accepted[b] = reason
    return reason


def key_rule(field, b):
    """K(field): section 5, else BadKey "field: ..."."""
    reason = key_error(b)
    if reason is not None:
        raise Refused("BadKey", f"{field}: {reason}")
    return bytes(b)


def signature_ok(key, message, signature):
    """libsodium's crypto_sign_verify_detached: the strict rule of section 5."""
    try:
        VerifyKey(bytes(key)).verify(message, bytes(signature))
        return True
    except (BadSignatureError, ValueError, TypeError):
        return False
