"""Every benchmark, one after the other: `scripts/dev bench [--only NAME ...]`."""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

BENCHES = ("forecast_accuracy.py", "console.py")


def main() -> None:
    names = [Path(b).stem for b in BENCHES]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", choices=names, help="run only this benchmark (repeatable)"
    )
    args = parser.parse_args()
    here = Path(__file__).parent
    failed: list[str] = []
    for name in BENCHES:
        if args.only and Path(name).stem not in args.only:
            continue
        print(f"== {name}", flush=True)
        sys.argv = [name]
        try:
            runpy.run_path(str(here / name), run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (None, 0):
                failed.append(name)
    if failed:
        print(f"could not run: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
