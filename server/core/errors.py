"""Named errors of the domain. Each carries a stable reason code from `reasons.py`."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; `code` is a stable reason string."""

    status = 422

    def __init__(self, code: str, message: str | None = None, **details):
        from server.core.reasons import describe  # local: reasons imports nothing back

        self.code = code
        self.message = message or describe(code)
        self.details = details
        super().__init__(f"{code}: {self.message}")


class Rejected(DomainError):
    """A scan the rules refuse. The ledger still records it, with `code` as its reason."""


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    """Refused for who asks, not for what is asked (server/core/siteaccess.py)."""

    status = 403


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    status = 400
