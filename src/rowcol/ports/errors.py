"""The errors an adapter may raise through a port."""

from __future__ import annotations


class PortError(Exception):
    """Base for failures crossing a port."""


class Unavailable(PortError):
    """The outside system could not be reached or is failing; nothing happened there."""


class Rejected(PortError):
    """The outside system understood the request and refused it."""


class OutcomeUnknown(PortError):
    """The request may or may not have taken effect: look it up before retrying."""


class StorageError(PortError):
    """The repository failed for a reason that is not the caller's input."""
