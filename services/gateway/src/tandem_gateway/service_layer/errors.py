"""Errors a use case reports to its caller; each knows its HTTP status and error code."""

from __future__ import annotations


class GatewayError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class MissingSiteKey(GatewayError):
    status, code = 401, "missing_site_key"


class InvalidSiteKey(GatewayError):
    status, code = 401, "invalid_site_key"


class OriginNotAllowed(GatewayError):
    status, code = 403, "origin_not_allowed"


class IdentityRefused(GatewayError):
    status, code = 401, "invalid_identity"


class MissingToken(GatewayError):
    status, code = 401, "missing_token"


class InvalidToken(GatewayError):
    status, code = 401, "invalid_token"


class TokenExpired(GatewayError):
    status, code = 401, "token_expired"


class WrongConversation(GatewayError):
    status, code = 403, "wrong_conversation"


class ConversationGone(GatewayError):
    status, code = 410, "conversation_deleted"


class DuplicateInFlight(GatewayError):
    status, code = 409, "duplicate_in_progress"


class Unavailable(GatewayError):
    """A dependency (Kafka, Redis, the conversation service) did not answer in time."""

    status, code = 503, "unavailable"


class InvalidCredentials(GatewayError):
    status, code = 401, "invalid_credentials"


class NotAllowed(GatewayError):
    """Signed in, but this agent may not do this (role, or not holding the conversation)."""

    status, code = 403, "not_allowed"


class NotFound(GatewayError):
    status, code = 404, "not_found"


class TooManyRequests(GatewayError):
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitStoreUnavailable(Exception):
    """The rate limits' store did not answer: requests are let through (fail open)."""


class Conflict(GatewayError):
    status, code = 409, "conflict"


class InvitationInvalid(GatewayError):
    """No invitation has this token."""

    status, code = 404, "invitation_invalid"


class InvitationUnusable(GatewayError):
    """The invitation expired, was used or was withdrawn (the code says which)."""

    status, code = 410, "invitation_expired"


class InvalidInput(GatewayError):
    status, code = 422, "invalid_request"
