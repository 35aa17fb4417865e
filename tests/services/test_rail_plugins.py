from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import rowcol.bootstrap as bootstrap
from rowcol.adapters.memory.rails import MemoryBankVerifier
from rowcol.bootstrap import SettingsError
from rowcol.ports.plugins import ENTRY_POINT_GROUP, RailPlugin, RailPluginContext
from support import make_services


class FakeEntryPoint:
    def __init__(self, name: str, factory: Any) -> None:
        self.name = name
        self._factory = factory

    def load(self) -> Any:
        return self._factory


def test_a_rail_from_another_distribution_fills_an_empty_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[RailPluginContext] = []

    def acme_bank(context: RailPluginContext) -> RailPlugin:
        seen.append(context)
        return RailPlugin(name="acme-bank", bank=MemoryBankVerifier(context.clock))

    def entry_points(*, group: str) -> list[FakeEntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return [FakeEntryPoint("acme-bank", acme_bank)]

    monkeypatch.setattr(bootstrap, "entry_points", entry_points)
    services = make_services(tmp_path)
    assert isinstance(services.rails.bank, MemoryBankVerifier)
    assert seen[0].credentials is services.credentials


def test_a_broken_rail_plugin_stops_start_up_with_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(context: RailPluginContext) -> RailPlugin:
        raise RuntimeError("missing ROWCOL_ACME_KEY")

    monkeypatch.setattr(
        bootstrap, "entry_points", lambda *, group: [FakeEntryPoint("acme", broken)]
    )
    with pytest.raises(SettingsError, match="rail plugin 'acme' failed to load"):
        make_services(tmp_path)
