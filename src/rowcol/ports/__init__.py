"""Protocols the core needs from the outside world, in domain words."""
