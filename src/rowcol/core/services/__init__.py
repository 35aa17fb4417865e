"""Use cases: they fetch through ports, ask the domain, and store the outcome."""
