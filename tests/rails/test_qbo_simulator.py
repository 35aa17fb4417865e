"""The QBO simulator speaks QBO: entity shapes from Intuit's XSDs, the query language,
OAuth with strict refresh rotation, Faults, CDC, throttling and signed webhooks."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar import Litestar, Request, Response, post
from litestar.testing import TestClient

from rowcol.adapters.clock import ManualClock
from rowcol.core.domain.ids import BusinessId
from rowcol.demodata.generator import DemoFirm, generate_firm
from rowcol.simulators.faults import FaultKind, FaultPlan
from rowcol.simulators.hub import SimulatorHub
from rowcol.simulators.qbo import (
    State,
    create_app,
    deliver_webhooks,
    realm_id_for,
    seed_from_demo,
)
from rowcol.simulators.qbo import query as q
from rowcol.simulators.qbo.query import QueryError
from rowcol.simulators.server import BackgroundServer

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
BIZ = "biz-0001"
REDIRECT = "https://rowcol.example/qbo/callback"
ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())
XSD_DIR = ROOT / ".." / "shared" / "rails" / "qbo"
XS = "{http://www.w3.org/2001/XMLSchema}"


@functools.cache
def firm() -> DemoFirm:
    return generate_firm(clients=2, seed=7, today=NOW.date(), history_months=6)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def state(clock: ManualClock) -> State:
    return seed_from_demo(firm(), now=clock.now)


@pytest.fixture
def plan() -> FaultPlan:
    return FaultPlan()


class Slot:
    """One test client for the module; each test puts its own simulator in the slot."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def slot_client() -> Iterator[tuple[Slot, TestClient[Any]]]:
    slot = Slot()
    with TestClient(slot) as test_client:
        yield slot, test_client


@pytest.fixture
def client(
    slot_client: tuple[Slot, TestClient[Litestar]], state: State, plan: FaultPlan
) -> TestClient[Litestar]:
    slot, test_client = slot_client
    slot.app = create_app(state, plan)
    return test_client


def bearer(state: State, business: str = BIZ) -> dict[str, str]:
    return {"Authorization": f"Bearer {state.connect(business).access_token}"}


def realm(business: str = BIZ) -> str:
    return realm_id_for(business)


def run(client: TestClient[Litestar], state: State, text: str) -> Any:
    response = client.get(
        f"/v3/company/{realm()}/query",
        params={"query": text, "minorversion": "75"},
        headers=bearer(state),
    )
    assert response.status_code == 200, response.text
    return response.json()["QueryResponse"]


# The XSDs -------------------------------------------------------------------------------


_SCHEMAS = (
    "IntuitBaseTypes.xsd",
    "IntuitNamesTypes.xsd",
    "Finance.xsd",
    "IntuitRestServiceDef.xsd",
)


@functools.cache
def _complex_types() -> dict[str, ET.Element]:
    types: dict[str, ET.Element] = {}
    for name in _SCHEMAS:
        for complex_type in ET.parse(XSD_DIR / name).getroot().findall(f"{XS}complexType"):
            types[complex_type.get("name", "")] = complex_type
    return types


@functools.cache
def _intuit_objects() -> frozenset[str]:
    """The entities that may stand where the XSD says `ref="IntuitObject"`."""
    root = ET.parse(XSD_DIR / "IntuitRestServiceDef.xsd").getroot()
    return frozenset(
        e.get("name", "")
        for e in root.findall(f"{XS}element")
        if e.get("substitutionGroup") == "IntuitObject"
    )


def _collect(node: ET.Element, names: set[str]) -> None:
    for child in node:
        if child.tag == f"{XS}complexType":
            continue
        if child.tag == f"{XS}element":
            name = child.get("name") or child.get("ref", "").split(":")[-1]
            names.update(_intuit_objects() if name == "IntuitObject" else {name})
            continue
        if child.tag == f"{XS}attribute":
            names.add(child.get("name", ""))
            continue
        if child.tag == f"{XS}extension":
            base = child.get("base", "").split(":")[-1]
            if base in _complex_types():
                _collect(_complex_types()[base], names)
        if child.tag == f"{XS}simpleContent":
            names.add("value")
        _collect(child, names)


@functools.cache
def xsd_names(type_name: str) -> frozenset[str]:
    """Element and attribute names of a complexType, with those of its base types; a
    simpleContent type (ReferenceType) has its text as `value` in JSON."""
    names: set[str] = set()
    _collect(_complex_types()[type_name], names)
    return frozenset(names)


NESTED_TYPES = {
    "MetaData": "ModificationMetaData",
    "BillAddr": "PhysicalAddress",
    "PrimaryEmailAddr": "EmailAddress",
    "BillEmail": "EmailAddress",
    "Line": "Line",
}


@pytest.mark.parametrize(
    "entity",
    [
        "Bill",
        "Invoice",
        "Vendor",
        "Customer",
        "Account",
        "Payment",
        "BillPayment",
        "Deposit",
        "Term",
    ],
)
def test_simulated_entities_use_only_element_names_from_intuit_s_xsd(
    state: State, entity: str
) -> None:
    allowed = xsd_names(entity)
    records = [r for c in state.companies.values() for r in c.records[entity].values()]
    assert records

    for record in records:
        assert set(record) <= allowed, set(record) - allowed
        for key, value in record.items():
            if key.endswith("Ref"):
                assert set(value) <= xsd_names("ReferenceType"), (key, value)
            if key in NESTED_TYPES:
                for item in value if isinstance(value, list) else [value]:
                    assert set(item) <= xsd_names(NESTED_TYPES[key]), (key, item)
                    for link in item.get("LinkedTxn", []):
                        assert set(link) <= xsd_names("LinkedTxn")
                    if "DepositLineDetail" in item:
                        detail = item["DepositLineDetail"]
                        assert set(detail) <= xsd_names("DepositLineDetail"), detail
            if key == "LinkedTxn":
                assert all(set(link) <= xsd_names("LinkedTxn") for link in value)


def test_answers_use_the_envelopes_of_the_rest_service_xsd(
    client: TestClient[Litestar], state: State
) -> None:
    for entity in (
        "Bill",
        "Invoice",
        "Vendor",
        "Customer",
        "Account",
        "Payment",
        "BillPayment",
        "Deposit",
    ):
        response = client.get(
            f"/v3/company/{realm()}/query",
            params={"query": f"select * from {entity} maxresults 3"},
            headers=bearer(state),
        )
        assert set(response.json()) <= xsd_names("IntuitResponse")
        answer = response.json()["QueryResponse"]
        assert set(answer) <= xsd_names("QueryResponse") and entity in answer
        assert all(set(record) <= xsd_names(entity) for record in answer[entity])
    invoice_id = state.company(BIZ).all("Invoice")[0]["Id"]
    one = client.get(f"/v3/company/{realm()}/invoice/{invoice_id}", headers=bearer(state)).json()
    cdc = client.get(
        f"/v3/company/{realm()}/cdc",
        params={"entities": "Bill", "changedSince": "2026-10-30"},
        headers=bearer(state),
    ).json()
    refused = client.get(f"/v3/company/{realm()}/bill/999999", headers=bearer(state)).json()

    assert set(one) <= xsd_names("IntuitResponse") and set(one["Invoice"]) <= xsd_names("Invoice")
    assert set(cdc) <= xsd_names("IntuitResponse")
    assert all(set(section) <= xsd_names("CDCResponse") for section in cdc["CDCResponse"])
    assert set(refused) <= xsd_names("IntuitResponse")
    assert set(refused["Fault"]) <= xsd_names("Fault")
    assert all(set(error) <= xsd_names("Error") for error in refused["Fault"]["Error"])


def test_the_xsd_reader_finds_inherited_elements() -> None:
    assert {"Id", "SyncToken", "MetaData", "status", "domain"} <= xsd_names("Bill")
    assert {"TxnDate", "VendorRef", "TotalAmt", "Balance", "DueDate"} <= xsd_names("Bill")
    assert {"DisplayName", "TermRef", "BillAddr", "AcctNum"} <= xsd_names("Vendor")
    assert {"TxnDate", "TotalAmt", "DepositToAccountRef", "PrivateNote"} <= xsd_names("Deposit")
    assert "DepositLineDetail" in xsd_names("Line")
    assert "value" in xsd_names("ReferenceType")
    assert "VendorRef" not in xsd_names("Invoice")
    assert {"Bill", "Invoice", "startPosition", "maxResults", "totalCount"} <= xsd_names(
        "QueryResponse"
    )
    assert {"QueryResponse", "Fault", "time", "CDCResponse"} <= xsd_names("IntuitResponse")


def test_every_record_has_a_numeric_id_a_sync_token_and_timestamps(state: State) -> None:
    for company in state.companies.values():
        for records in company.records.values():
            for record in records.values():
                assert record["Id"].isdigit() and record["SyncToken"].isdigit()
                created = datetime.fromisoformat(record["MetaData"]["CreateTime"])
                updated = datetime.fromisoformat(record["MetaData"]["LastUpdatedTime"])
                assert created.utcoffset() is not None and created <= updated <= NOW


# Seeding ------------------------------------------------------------------------------


def test_each_business_gets_a_stable_ten_digit_realm() -> None:
    realms = {realm_id_for(b.business_id) for b in firm().businesses}

    assert len(realms) == 2
    assert all(len(r) == 10 and r.isdigit() for r in realms)
    assert realm_id_for(BIZ) == realm_id_for(BIZ)


def test_seeding_is_deterministic() -> None:
    first = seed_from_demo(firm(), now=lambda: NOW)
    second = seed_from_demo(firm(), now=lambda: NOW)

    assert {r: c.records for r, c in first.companies.items()} == {
        r: c.records for r, c in second.companies.items()
    }


def test_the_seeded_books_hold_the_demo_amounts_to_the_cent(state: State) -> None:
    data = firm().data_for(BusinessId(BIZ))
    company = state.company(BIZ)

    bills = company.all("Bill")
    assert sum(Decimal(b["TotalAmt"]) for b in bills) == sum(
        b.amount.to_decimal() for b in data.bills
    )
    paid = [b for b in data.bills if b.balance.is_zero]
    payments = company.all("BillPayment")
    assert len(payments) == len(paid)
    assert sum(p["TotalAmt"] for p in payments) == sum(b.amount.to_decimal() for b in paid)
    received = company.all("Payment")
    assert sum(p["TotalAmt"] for p in received) == sum(
        (i.amount - i.balance).to_decimal() for i in data.invoices
    )
    assert [a["Name"] for a in company.all("Account") if a["AccountType"] == "Bank"] == [
        a.name for a in data.bank_accounts
    ]


def test_each_card_payout_that_reached_the_bank_is_a_deposit_in_the_books(state: State) -> None:
    for data in firm().records:
        company = state.company(data.business_id)
        banks = {a["Id"]: a["Name"] for a in company.all("Account") if a["AccountType"] == "Bank"}
        names = {a.account_id: a.name for a in data.bank_accounts}
        payouts = [
            t
            for t in data.bank_transactions
            if t.category == "card_deposit" and t.amount.is_negative
        ]
        deposits = company.all("Deposit")

        assert payouts
        assert sorted(
            (d["TotalAmt"], d["TxnDate"], banks[d["DepositToAccountRef"]["value"]])
            for d in deposits
        ) == sorted(
            ((-t.amount).to_decimal(), t.posted_on.isoformat(), names[t.account_id])
            for t in payouts
        )
        assert all(d["TotalAmt"] > 0 for d in deposits)
        assert all(d["PrivateNote"].endswith(" payout") for d in deposits)
        assert all(d["Line"][0]["Amount"] == d["TotalAmt"] for d in deposits)


def test_deposits_are_queried_paged_and_counted_like_the_other_entities(
    client: TestClient[Litestar], state: State
) -> None:
    added = state.add_deposit(BIZ, Decimal("1234.56"), date(2026, 10, 31), "Stripe payout po_1")
    total = len(state.company(BIZ).all("Deposit"))

    counted = run(client, state, "select count(*) from Deposit")
    second_page = run(client, state, "select * from Deposit startposition 3 maxresults 2")
    found = run(client, state, "select * from Deposit where TxnDate = '2026-10-31'")
    refused = client.get(
        f"/v3/company/{realm()}/query",
        params={"query": "select * from Deposit where VendorRef = '1'"},
        headers=bearer(state),
    )

    assert counted["totalCount"] == total
    ids = [d["Id"] for d in state.company(BIZ).all("Deposit")]
    assert [d["Id"] for d in second_page["Deposit"]] == ids[2:4]
    assert added["Id"] in [d["Id"] for d in found["Deposit"]]
    (mine,) = [d for d in found["Deposit"] if d["Id"] == added["Id"]]
    assert Decimal(str(mine["TotalAmt"])) == Decimal("1234.56")
    assert mine["PrivateNote"] == "Stripe payout po_1"
    assert mine["SyncToken"] == "0"
    assert mine["MetaData"]["CreateTime"] == mine["MetaData"]["LastUpdatedTime"]
    assert refused.status_code == 400
    assert refused.json()["Fault"]["Error"][0]["code"] == "4001"


def test_money_goes_out_as_json_numbers(client: TestClient[Litestar], state: State) -> None:
    response = client.get(f"/v3/company/{realm()}/bill/1", headers=bearer(state))

    assert response.status_code == 200
    assert b'"TotalAmt":"' not in response.content
    assert isinstance(json.loads(response.content)["Bill"]["TotalAmt"], int | float)
    assert json.loads(response.content, parse_float=Decimal)["Bill"]["TotalAmt"] == Decimal(
        state.company(BIZ).records["Bill"]["1"]["TotalAmt"]
    )


# The query language --------------------------------------------------------------------


def test_a_query_parses_into_its_clauses() -> None:
    parsed = q.parse(
        "SELECT * FROM bill WHERE metadata.lastupdatedtime > '2026-01-01T00:00:00-08:00' "
        "AND Balance > '0' AND VendorRef IN ('1', '2') "
        "ORDERBY TxnDate DESC, Id STARTPOSITION 11 MAXRESULTS 5000"
    )

    assert parsed.entity == "Bill" and not parsed.count
    assert [(c.path, c.op) for c in parsed.where] == [
        (("metadata", "lastupdatedtime"), ">"),
        (("Balance",), ">"),
        (("VendorRef",), "in"),
    ]
    assert parsed.where[2].values == ("1", "2")
    assert [(o.path, o.descending) for o in parsed.order_by] == [
        (("TxnDate",), True),
        (("Id",), False),
    ]
    assert (parsed.start_position, parsed.max_results) == (11, 1000)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("select name from Bill", "4000"),
        ("select * from Bill where Balance > 0 or Balance < 5", "4000"),
        ("select * from Bill where Balance != 0", "4000"),
        ("select * from Bill where", "4000"),
        ("select * from Bill maxresults ten", "4000"),
        ("select * from Widget", "4001"),
        ("select * from Bill where Colour = 'red'", "4001"),
        ("select * from Bill orderby Colour", "4001"),
    ],
)
def test_queries_qbo_refuses_are_refused(text: str, code: str) -> None:
    with pytest.raises(QueryError) as refused:
        q.parse(text)

    assert refused.value.code == code


def test_where_and_orderby_and_paging_select_like_qbo(
    client: TestClient[Litestar], state: State
) -> None:
    company = state.company(BIZ)
    vendor = company.all("Vendor")[0]

    answer = run(
        client,
        state,
        f"select * from Bill where VendorRef = '{vendor['Id']}' and Balance = '0' "
        "orderby TotalAmt desc startposition 2 maxresults 3",
    )

    expected = sorted(
        (
            b
            for b in company.all("Bill")
            if b["VendorRef"]["value"] == vendor["Id"] and b["Balance"] == 0
        ),
        key=lambda b: b["TotalAmt"],
        reverse=True,
    )[1:4]
    assert [b["Id"] for b in answer["Bill"]] == [b["Id"] for b in expected]
    assert (answer["startPosition"], answer["maxResults"]) == (2, len(expected))


def test_count_like_in_and_case_insensitive_names(
    client: TestClient[Litestar], state: State
) -> None:
    company = state.company(BIZ)
    name = company.all("Vendor")[3]["DisplayName"]

    assert run(client, state, "SELECT COUNT(*) FROM Bill")["totalCount"] == len(company.all("Bill"))
    found = run(client, state, f"select * from vendor where displayname like '%{name[2:-2]}%'")
    assert name in [v["DisplayName"] for v in found["Vendor"]]
    first, second = (i["Id"] for i in company.all("Invoice")[:2])
    both = run(client, state, f"select * from Invoice where Id in ('{second}', '{first}', '0')")
    assert [i["Id"] for i in both["Invoice"]] == [first, second]
    assert run(client, state, "select * from Bill where TotalAmt < '0'") == {}


def test_name_lists_answer_active_records_unless_asked(
    client: TestClient[Litestar], state: State
) -> None:
    vendor_id = state.company(BIZ).all("Vendor")[0]["Id"]
    state.update(BIZ, "Vendor", vendor_id, {"Active": False})

    active = run(client, state, "select * from Vendor maxresults 1000")["Vendor"]
    everyone = run(client, state, "select * from Vendor where Active in (true, false)")["Vendor"]

    assert vendor_id not in [v["Id"] for v in active]
    assert vendor_id in [v["Id"] for v in everyone]


def test_last_updated_time_compares_as_an_instant_across_offsets(
    client: TestClient[Litestar], state: State, clock: ManualClock
) -> None:
    state.change_bill(BIZ, "1", private_note="x", at=NOW + timedelta(hours=2))

    after = run(
        client, state, "select * from Bill where Metadata.LastUpdatedTime > '2026-11-02T16:00:00Z'"
    )
    pacific = run(
        client,
        state,
        "select * from Bill where MetaData.LastUpdatedTime >= '2026-11-02T10:00:00-07:00'",
    )

    assert [b["Id"] for b in after["Bill"]] == ["1"]
    assert [b["Id"] for b in pacific["Bill"]] == ["1"]


@settings(max_examples=25, deadline=None)
@given(size=st.integers(min_value=1, max_value=30), descending=st.booleans())
def test_pages_partition_the_selection(size: int, descending: bool) -> None:
    records = _paging_state().company(BIZ).all("Invoice")[:60]
    order = "desc" if descending else "asc"
    everything = q.select(q.parse(f"select * from Invoice orderby TxnDate {order}"), records)
    pages: list[dict[str, Any]] = []
    start = 1
    while True:
        parsed = q.parse(
            f"select * from Invoice orderby TxnDate {order} startposition {start} maxresults {size}"
        )
        chunk = q.page(parsed, q.select(parsed, records))
        pages.extend(chunk)
        if len(chunk) < size:
            break
        start += size

    assert [r["Id"] for r in pages] == [r["Id"] for r in everything]


@functools.cache
def _paging_state() -> State:
    return seed_from_demo(firm(), now=lambda: NOW)


# Reads, faults, throttling ---------------------------------------------------------------


def test_query_by_post_with_application_text_answers_the_same(
    client: TestClient[Litestar], state: State
) -> None:
    text = "select * from Customer startposition 1 maxresults 5"
    response = client.post(
        f"/v3/company/{realm()}/query?minorversion=75",
        content=text.encode(),
        headers={**bearer(state), "Content-Type": "application/text"},
    )

    assert response.status_code == 200
    assert response.json()["QueryResponse"] == run(client, state, text)


def test_reading_one_record_and_a_missing_one(client: TestClient[Litestar], state: State) -> None:
    found = client.get(f"/v3/company/{realm()}/vendor/1", headers=bearer(state))
    missing = client.get(f"/v3/company/{realm()}/bill/424242", headers=bearer(state))

    assert found.status_code == 200 and found.json()["Vendor"]["Id"] == "1"
    assert "time" in found.json() and found.headers["intuit_tid"]
    assert missing.status_code == 400
    error = missing.json()["Fault"]["Error"][0]
    assert (error["code"], error["Message"]) == ("610", "Object Not Found")
    assert set(missing.json()["Fault"]) <= {"Error", "type"}
    assert set(error) <= {"Message", "Detail", "DetailLink", "code", "element"}


def test_a_bad_query_is_a_validation_fault(client: TestClient[Litestar], state: State) -> None:
    response = client.get(
        f"/v3/company/{realm()}/query",
        params={"query": "select * from Bill where Nope = 1"},
        headers=bearer(state),
    )

    assert response.status_code == 400
    assert response.json()["Fault"]["type"] == "ValidationFault"
    assert response.json()["Fault"]["Error"][0]["code"] == "4001"


def test_401s_come_in_qbo_s_lower_case_fault(
    client: TestClient[Litestar], state: State, clock: ManualClock
) -> None:
    headers = bearer(state)
    clock.advance(timedelta(hours=1))

    for answer in (
        client.get(f"/v3/company/{realm()}/bill/1"),
        client.get(f"/v3/company/{realm()}/bill/1", headers=headers),
    ):
        assert answer.status_code == 401
        error = answer.json()["fault"]["error"][0]
        assert error["code"] == "3200" and "AuthenticationFailed" in error["message"]


def test_a_token_opens_only_its_own_company(client: TestClient[Litestar], state: State) -> None:
    response = client.get(f"/v3/company/{realm('biz-0002')}/bill/1", headers=bearer(state, BIZ))

    assert response.status_code == 403
    assert response.json()["Fault"]["Error"][0]["code"] == "3100"


def test_over_the_per_minute_limit_qbo_throttles_with_fault_3001(
    client: TestClient[Litestar], state: State, clock: ManualClock
) -> None:
    state.requests_per_minute = 3
    headers = bearer(state)
    url = f"/v3/company/{realm()}/vendor/1"

    statuses = [client.get(url, headers=headers).status_code for _ in range(4)]
    throttled = client.get(url, headers=headers)
    other_realm = client.get(
        f"/v3/company/{realm('biz-0002')}/vendor/1", headers=bearer(state, "biz-0002")
    )
    clock.advance(timedelta(minutes=1))

    assert statuses == [200, 200, 200, 429]
    assert throttled.json()["Fault"]["Error"][0]["code"] == "3001"
    assert other_realm.status_code == 200
    assert client.get(url, headers=headers).status_code == 200


def test_an_armed_outage_answers_with_a_system_fault(
    client: TestClient[Litestar], state: State, plan: FaultPlan
) -> None:
    plan.add(FaultKind.SERVER_ERROR, path="/query$", status=503)

    response = client.get(
        f"/v3/company/{realm()}/query",
        params={"query": "select * from Bill"},
        headers=bearer(state),
    )

    assert response.status_code == 503
    assert response.json()["Fault"]["Error"][0]["code"] == "10000"


# CDC --------------------------------------------------------------------------------


def test_cdc_returns_changes_and_deletions_since_a_moment(
    client: TestClient[Litestar], state: State, clock: ManualClock
) -> None:
    clock.advance(timedelta(minutes=10))
    state.change_bill(BIZ, "1", private_note="changed")
    state.delete_bill(BIZ, "3")

    response = client.get(
        f"/v3/company/{realm()}/cdc",
        params={"entities": "Bill,Invoice", "changedSince": "2026-11-02T15:05:00Z"},
        headers=bearer(state),
    )

    assert response.status_code == 200
    (section,) = response.json()["CDCResponse"]
    bills, invoices = section["QueryResponse"]
    assert [b["Id"] for b in bills["Bill"]] == ["1", "3"]
    assert bills["Bill"][1] == {
        "domain": "QBO",
        "status": "Deleted",
        "Id": "3",
        "MetaData": bills["Bill"][1]["MetaData"],
    }
    assert invoices == {}
    assert response.json()["time"] == "2026-11-02T08:10:00.000-07:00"


def test_cdc_looks_back_thirty_days_at_most(client: TestClient[Litestar], state: State) -> None:
    response = client.get(
        f"/v3/company/{realm()}/cdc",
        params={"entities": "Bill", "changedSince": "2026-09-01"},
        headers=bearer(state),
    )

    assert response.status_code == 400
    assert "30 days" in response.json()["Fault"]["Error"][0]["Detail"]


# Test helpers -----------------------------------------------------------------------


def test_changing_a_bill_bumps_its_sync_token_and_time_and_queues_an_event(
    state: State, clock: ManualClock
) -> None:
    before = dict(state.company(BIZ).records["Bill"]["1"])
    clock.advance(timedelta(minutes=3))

    after = state.change_bill(BIZ, "1", balance="12.34")

    assert int(after["SyncToken"]) == int(before["SyncToken"]) + 1
    assert datetime.fromisoformat(after["MetaData"]["LastUpdatedTime"]) == clock.now()
    assert after["MetaData"]["CreateTime"] == before["MetaData"]["CreateTime"]
    assert after["Balance"] == Decimal("12.34")
    (event,) = state.events
    assert (event.entity, event.entity_id, event.operation) == ("Bill", "1", "Update")


def test_paying_a_bill_in_the_books_links_a_bill_payment(state: State) -> None:
    company = state.company(BIZ)
    bill_id = next(i for i, b in company.records["Bill"].items() if b["Balance"] > 0)
    balance = company.records["Bill"][bill_id]["Balance"]

    payment = state.pay_bill(BIZ, bill_id)

    assert company.records["Bill"][bill_id]["Balance"] == 0
    assert payment["Line"] == [
        {"Amount": balance, "LinkedTxn": [{"TxnId": bill_id, "TxnType": "Bill"}]}
    ]
    assert [(e.entity, e.operation) for e in state.events] == [
        ("BillPayment", "Create"),
        ("Bill", "Update"),
    ]


# OAuth ------------------------------------------------------------------------------


def test_the_discovery_document_points_at_this_server(client: TestClient[Litestar]) -> None:
    document = client.get("/.well-known/openid_configuration").json()

    assert document["authorization_endpoint"] == "http://testserver.local/connect/oauth2"
    assert document["token_endpoint"] == "http://testserver.local/oauth2/v1/tokens/bearer"
    assert {"revocation_endpoint", "issuer", "jwks_uri", "userinfo_endpoint"} <= set(document)


def test_mounted_in_the_hub_the_endpoints_carry_the_prefix(state: State) -> None:
    hub = SimulatorHub({"qbo": create_app(state)}, FaultPlan())

    with TestClient(hub) as hub_client:  # type: ignore[arg-type]
        document = hub_client.get("/qbo/.well-known/openid_configuration").json()

    assert document["token_endpoint"].endswith("/qbo/oauth2/v1/tokens/bearer")


def _authorize(client: TestClient[Litestar], state: State, realm_id: str) -> dict[str, str]:
    response = client.get(
        "/connect/oauth2",
        params={
            "client_id": state.client_id,
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "redirect_uri": REDIRECT,
            "state": "xyz",
            "realmId": realm_id,
        },
        follow_redirects=False,
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def _token(
    client: TestClient[Litestar], state: State, form: dict[str, str], secret: str = ""
) -> Any:
    basic = base64.b64encode(f"{state.client_id}:{secret or state.client_secret}".encode())
    return client.post(
        "/oauth2/v1/tokens/bearer",
        data=form,
        headers={"Authorization": f"Basic {basic.decode()}", "Accept": "application/json"},
    )


def test_authorize_redirects_at_once_with_code_state_and_realm(
    client: TestClient[Litestar], state: State
) -> None:
    answer = _authorize(client, state, realm())

    assert answer["state"] == "xyz" and answer["realmId"] == realm() and answer["code"]


def test_refresh_tokens_rotate_and_a_spent_one_is_refused_at_once(
    client: TestClient[Litestar], state: State
) -> None:
    code = _authorize(client, state, realm())["code"]
    exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}

    first = _token(client, state, exchange)
    again = _token(client, state, exchange)
    refreshed = _token(
        client,
        state,
        {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
    )
    replayed = _token(
        client,
        state,
        {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]},
    )

    assert first.status_code == 200
    assert set(first.json()) == {
        "token_type",
        "access_token",
        "refresh_token",
        "expires_in",
        "x_refresh_token_expires_in",
    }
    assert first.json()["expires_in"] == 3600
    assert first.json()["x_refresh_token_expires_in"] == 100 * 86400
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != first.json()["refresh_token"]
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
    assert state.token_requests == [
        "authorization_code",
        "authorization_code",
        "refresh_token",
        "refresh_token",
    ]


def test_the_token_endpoint_checks_the_client_and_the_redirect(
    client: TestClient[Litestar], state: State
) -> None:
    code = _authorize(client, state, realm())["code"]

    wrong_secret = _token(
        client,
        state,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        secret="nope",
    )
    wrong_redirect = _token(
        client,
        state,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://evil.example"},
    )

    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    assert wrong_redirect.status_code == 400 and wrong_redirect.json()["error"] == "invalid_grant"


# Webhooks ---------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[list[tuple[dict[str, str], bytes]], str]]:
    received: list[tuple[dict[str, str], bytes]] = []

    @post("/hook")
    async def hook(request: Request[Any, Any, Any]) -> Response[bytes]:
        received.append((dict(request.headers), await request.body()))
        return Response(b"", status_code=200)

    with BackgroundServer(Litestar([hook])) as server:
        yield received, f"{server.url}/hook"


async def test_webhooks_are_signed_with_the_verifier_token(
    state: State, receiver: tuple[list[tuple[dict[str, str], bytes]], str]
) -> None:
    received, url = receiver
    state.change_bill(BIZ, "1", private_note="a")
    state.change_bill("biz-0002", "1", private_note="b")

    assert await deliver_webhooks(state, url, style="legacy") == [200]

    ((headers, body),) = received
    digest = hmac.new(state.verifier_token.encode(), body, hashlib.sha256).digest()
    assert headers["intuit-signature"] == base64.b64encode(digest).decode()
    notifications = json.loads(body)["eventNotifications"]
    assert [n["realmId"] for n in notifications] == [realm(BIZ), realm("biz-0002")]
    (entity,) = notifications[0]["dataChangeEvent"]["entities"]
    assert (entity["name"], entity["id"], entity["operation"]) == ("Bill", "1", "Update")
    assert entity["lastUpdated"] == "2026-11-02T08:00:00-0700"
    assert state.events == []


async def test_cloudevents_can_come_twice_reversed_and_late(
    state: State, receiver: tuple[list[tuple[dict[str, str], bytes]], str]
) -> None:
    received, url = receiver
    state.change_bill(BIZ, "1", private_note="a")
    state.delete_bill(BIZ, "3")

    statuses = await deliver_webhooks(
        state, url, batch=False, duplicate=True, reverse=True, delay=0.01
    )

    assert statuses == [200] * 4
    events = [json.loads(body)[0] for _, body in received]
    assert [e["type"] for e in events] == [
        "qbo.bill.deleted.v1",
        "qbo.bill.deleted.v1",
        "qbo.bill.updated.v1",
        "qbo.bill.updated.v1",
    ]
    assert events[0]["id"] == events[1]["id"] != events[2]["id"]
    assert {e["intuitaccountid"] for e in events} == {realm(BIZ)}
    assert {e["specversion"] for e in events} == {"1.0"}


async def test_undelivered_webhooks_wait_for_the_next_delivery(state: State) -> None:
    state.change_bill(BIZ, "1", private_note="a")

    assert await deliver_webhooks(state, "http://127.0.0.1:9/hook") == [0]
    assert len(state.events) == 1
