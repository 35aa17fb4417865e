from __future__ import annotations

import uuid
from collections.abc import Callable

IdFactory = Callable[[str], str]


def random_ids(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
