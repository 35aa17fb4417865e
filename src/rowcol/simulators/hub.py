"""All simulators behind one port: `/<rail>/...` goes to that rail's simulator.

`/_sim/faults` arms faults over HTTP: POST `{"kind": "rate_limit", "path": "/v1/.*",
"times": 2}` adds one, DELETE clears them, GET lists them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from rowcol.simulators.faults import FaultKind, FaultPlan

Scope = dict[str, Any]


class SimulatorHub:
    def __init__(self, apps: Mapping[str, Any], plan: FaultPlan) -> None:
        self._apps = dict(apps)
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path: str = scope.get("path", "/")
        if path.startswith("/_sim/faults"):
            await self._faults(scope, receive, send)
            return
        rail, _, rest = path.lstrip("/").partition("/")
        app = self._apps.get(rail)
        if app is None:
            await _json(
                send, 404, {"error": f"no simulator at /{rail}", "rails": sorted(self._apps)}
            )
            return
        inner = dict(scope)
        inner["path"] = "/" + rest
        inner["raw_path"] = inner["path"].encode()
        inner["root_path"] = scope.get("root_path", "") + "/" + rail
        await app(inner, receive, send)

    async def _faults(self, scope: Scope, receive: Any, send: Any) -> None:
        method = scope["method"]
        if method == "GET":
            await _json(send, 200, [asdict(f) for f in self.plan.faults])
            return
        if method == "DELETE":
            self.plan.clear()
            await _json(send, 200, {"cleared": True})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            options = json.loads(body or b"{}")
            kind = FaultKind(options.pop("kind"))
            fault = self.plan.add(kind, **options)
        except (ValueError, KeyError, TypeError) as exc:
            await _json(send, 400, {"error": f"bad fault: {exc}"})
            return
        await _json(send, 201, asdict(fault))


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _json(send: Any, status: int, body: object) -> None:
    payload = json.dumps(body, default=str).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})
