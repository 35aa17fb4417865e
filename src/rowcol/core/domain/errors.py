"""Errors the domain raises when an invariant would break."""


class DomainError(Exception):
    """Base for every rule violation the domain detects."""


class NotFound(DomainError):
    """A record does not exist, or the actor may not know that it exists."""


class Forbidden(DomainError):
    """The actor may not do this."""


class Conflict(DomainError):
    """The change clashes with what is already stored (duplicate email, ...)."""


class InvalidInput(DomainError):
    """A value does not satisfy the rules of its type."""
