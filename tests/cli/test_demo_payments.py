"""The demo's payment scene, as a controller lives it: approve a week of bills for the
client running close to its buffer; some are blocked with the numbers, the rest are paid
on the Ramp simulator and reach verified through the simulators' webhooks and bank
transactions, with nobody calling anything but the API."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path

import httpx

from rowcol.bootstrap import Settings, build, migrate
from rowcol.entrypoints.cli.demo import demo_firm, seed_demo, start_simulators, with_rails
from rowcol.entrypoints.http.app import create_app
from rowcol.simulators.server import BackgroundServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_controller_pays_a_week_of_bills_in_the_demo(tmp_path: Path) -> None:
    settings = Settings.from_env({"ROWCOL_DATA_DIR": str(tmp_path), "ROWCOL_DATABASE_URL": ""})
    await migrate(settings)
    firm = demo_firm(clients=4, seed=7)
    rig, simulators = start_simulators(firm, free_port())
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        settings = with_rails(settings, rig, simulators.url)
        seeded = await seed_demo(settings, rig, base)
        scene = seeded.scene
        assert scene is not None, "the demo has a client with a week of bills"
        (token,) = [t for label, _, t in seeded.tokens if label.startswith("controller")]
        app = create_app(build(settings), inbox_interval=1)
        with BackgroundServer(app, port=port):
            pump = rig.start_delivering(base, every=0.3)
            try:
                async with httpx.AsyncClient(
                    base_url=f"{base}/advisor/{scene.advisor_id}/clients/{scene.business_id}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                ) as api:
                    today = scene.pay_on.isoformat()
                    answer = await api.post(
                        "/approve-bills", json={"bill_ids": scene.bill_ids, "pay_on": today}
                    )
                    assert answer.status_code == 200, answer.text
                    results = answer.json()
                    outcomes = {r["outcome"] for r in results}
                    blocked = [r for r in results if r["outcome"] == "blocked"]
                    paid = [r["payment_id"] for r in results if r["outcome"] == "paid"]
                    assert blocked and paid, outcomes
                    assert all("buffer" in r["reason"] for r in blocked)
                    assert all(r["guardrail"]["shortfall"] for r in blocked)
                    for _ in range(120):
                        listed = (await api.get("/payments")).json()
                        status = {p["payment_id"]: p["status"] for p in listed}
                        if all(status.get(p) == "verified" for p in paid):
                            break
                        await asyncio.sleep(0.5)
                    db = sqlite3.connect(tmp_path / "rowcol.db")
                    why = db.execute(
                        "select payment_id, status, failure_reason, stuck_reason from payments"
                        " where status not in ('verified', 'proposed', 'blocked')"
                    ).fetchall()
                    assert [status.get(p) for p in paid] == ["verified"] * len(paid), why
            finally:
                pump.stop()
    finally:
        simulators.stop()
