"""Visitor identity claims, verified with the site's shared secret.

A site that knows who its visitor is signs the visitor's id on its own server
(``hex(HMAC-SHA256(identity_secret, visitor_id))``) and passes it to the widget; the gateway
recomputes it. A claim that does not verify is refused rather than silently downgraded,
so a forged identity never looks like an honest anonymous visitor.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


class IdentityRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class IdentityVerdict:
    verified: bool


def identity_hmac(secret: str, visitor_id: str) -> str:
    return hmac.new(secret.encode(), visitor_id.encode(), hashlib.sha256).hexdigest()


def check_identity(
    *,
    visitor_id: str | None,
    claimed_hmac: str | None,
    identity_secret: str | None,
    require_identity: bool,
) -> IdentityVerdict:
    """Whether the visitor's identity is verified; raises ``IdentityRejected`` to refuse it."""
    if claimed_hmac is None:
        if require_identity:
            raise IdentityRejected(
                "identity_required", "this site requires a verified visitor id and hmac"
            )
        return IdentityVerdict(verified=False)
    if not visitor_id:
        raise IdentityRejected("invalid_identity", "visitor.hmac was given without visitor.id")
    if not identity_secret:
        # The site cannot verify anything: a required identity can never be satisfied,
        # and an unrequired claim stays unverified.
        if require_identity:
            raise IdentityRejected("identity_required", "this site cannot verify identities")
        return IdentityVerdict(verified=False)
    expected = identity_hmac(identity_secret, visitor_id)
    if not hmac.compare_digest(expected.encode(), claimed_hmac.strip().lower().encode()):
        raise IdentityRejected("invalid_identity", "visitor.hmac does not match visitor.id")
    return IdentityVerdict(verified=True)
