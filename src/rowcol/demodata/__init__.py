"""A deterministic synthetic firm for the demo, tests and benchmarks."""

from rowcol.demodata.generator import BusinessData, DemoFirm, generate_firm

__all__ = ["BusinessData", "DemoFirm", "generate_firm"]
