"""Every benchmark, one after the other: `scripts/dev bench`."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

BENCHES = ("forecast_accuracy.py",)


def main() -> None:
    here = Path(__file__).parent
    for name in BENCHES:
        print(f"== {name}")
        sys.argv = [name]
        runpy.run_path(str(here / name), run_name="__main__")


if __name__ == "__main__":
    main()
