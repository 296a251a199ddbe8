"""Lists from the read model, on both event stores: filters, cursor paging, sorting, client
search, catching up with events stored while it was not running, and the rebuild."""

import time
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from crm_contracts.pipelines import DEFAULT_PIPELINE
from deal_pipeline.adapters.read_model import ReadModel, projection
from deal_pipeline.adapters.read_model.schema import TABLES
from deal_pipeline.application.listings import Listings
from deal_pipeline.domain.errors import InvalidValue

STAGES = [s.model_dump() for s in DEFAULT_PIPELINE.stages]


@pytest.fixture
def lists(crm):
    return Listings(ReadModel(crm.store), crm.reference, "RU")


def all_deals(lists, **filters) -> list[dict]:
    rows, cursor = [], None
    while True:
        page = lists.deals(cursor=cursor, limit=500, **filters)
        rows += page.rows
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def titles(lists, **filters) -> list[str]:
    return sorted(row["title"] for row in all_deals(lists, **filters))


def tables(read_model) -> dict[str, list]:
    with read_model.db.transaction(commit=False) as tx:
        return {
            t: sorted(map(sorted, map(dict.items, tx.execute(f"SELECT * FROM {t}"))))
            for t in TABLES
        }


def test_each_filter_narrows_the_list(crm, lists):
    crm.reference.define_pipeline("b2b", "B2B", STAGES, manager_ids=["m2"])
    ann = crm.opening.by_hand("Chairs for Ann", name="Ann", phone="+79120000001", manager_id="m1")
    bob = crm.opening.by_hand("Стулья для Боба", name="Bob", email="bob@mail.ru", manager_id="m2")
    middle = datetime.now(UTC)
    time.sleep(0.01)
    big = crm.opening.by_hand(
        "Tables", pipeline_id="b2b", client_id=UUID(ann.client_id), manager_id="m2"
    )
    crm.opening.by_hand("Lamps", client_id=None, name="Cy", manager_id="m1")
    crm.deals.move_stage(ann.id, "proposal")
    crm.deals.win(bob.id)
    crm.deals.assign(big.id, "m1")

    assert titles(lists) == sorted(["Chairs for Ann", "Стулья для Боба", "Tables", "Lamps"])
    assert titles(lists, pipeline_id="b2b") == ["Tables"]
    assert titles(lists, stage="proposal") == ["Chairs for Ann"]
    assert titles(lists, status="won") == ["Стулья для Боба"]
    assert titles(lists, manager_id="m1", status="open") == ["Chairs for Ann", "Lamps", "Tables"]
    assert titles(lists, client_id=ann.client_id) == ["Chairs for Ann", "Tables"]
    assert titles(lists, opened_from=middle) == ["Lamps", "Tables"]
    assert titles(lists, opened_to=middle) == ["Chairs for Ann", "Стулья для Боба"]
    assert titles(lists, text="CHAIR") == ["Chairs for Ann"]
    assert titles(lists, text="стул") == ["Стулья для Боба"]  # case folded beyond ASCII
    assert titles(lists, text="%") == []  # the user's wildcard matches itself only
    assert titles(lists, manager_id="nobody") == []


def test_paging_with_the_cursor_misses_nothing_and_repeats_nothing(crm, lists):
    for i in range(23):
        crm.opening.by_hand(f"deal {i}", name=f"c{i}", amount=Decimal(i % 4))
    expected = {row["id"] for row in all_deals(lists)}
    for sort in ("opened_at", "-opened_at", "updated_at", "-amount", "amount"):
        seen, cursor, pages = [], None, 0
        while True:
            page = lists.deals(sort=sort, limit=5, cursor=cursor)
            seen += [row["id"] for row in page.rows]
            pages += 1
            if pages == 2:  # a deal added between pages changes nothing already listed
                crm.opening.by_hand(f"late {sort}", name="late", amount=Decimal(2))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)), sort
        assert expected <= set(seen), sort
        expected = {row["id"] for row in all_deals(lists)}


def test_sorting_by_each_key_with_ties_broken_by_id(crm, lists):
    amounts = [Decimal("10.50"), Decimal("3"), Decimal("10.50"), Decimal("250000")]
    made = [crm.opening.by_hand(f"d{i}", name="x", amount=a) for i, a in enumerate(amounts)]
    crm.deals.set_amount(made[1].id, Decimal("4"))  # the latest update
    by_amount = lists.deals(sort="amount").rows
    assert [row["amount"] for row in by_amount] == ["4", "10.50", "10.50", "250000"]
    tied = [row["id"] for row in by_amount[1:3]]
    assert tied == sorted(tied)
    descending = lists.deals(sort="-amount").rows
    assert [row["id"] for row in descending] == [row["id"] for row in reversed(by_amount)]
    opened = [row["title"] for row in lists.deals(sort="opened_at").rows]
    assert opened == ["d0", "d1", "d2", "d3"]
    assert [row["title"] for row in lists.deals().rows] == opened[::-1]  # newest first
    assert lists.deals(sort="-updated_at").rows[0]["title"] == "d1"


def test_bad_list_parameters_name_the_field(lists):
    for kwargs, field in [
        ({"sort": "title"}, "sort"),
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        (
            {
                "opened_from": datetime(2026, 2, 1, tzinfo=UTC),
                "opened_to": datetime(2026, 1, 1, tzinfo=UTC),
            },
            "opened_to",
        ),  # fmt: skip
    ]:
        with pytest.raises(InvalidValue) as refused:
            lists.deals(**kwargs)
        assert refused.value.field == field
    assert lists.deals(limit=1).next_cursor is None  # an empty list has no next page


def test_a_cursor_of_another_sort_is_refused(crm, lists):
    for i in range(3):
        crm.opening.by_hand(f"d{i}", name="x")
    cursor = lists.deals(sort="amount", limit=1).next_cursor
    with pytest.raises(InvalidValue) as refused:
        lists.deals(sort="-opened_at", cursor=cursor)
    assert refused.value.field == "cursor"


def test_clients_are_found_by_phone_in_any_format_email_or_name(crm, lists):
    ivan = crm.clients.register("Иван Петров", ["+79123456789"], ["Ivan@Mail.ru"], {})
    crm.clients.register("Anna", ["+79120000002"], ["anna@shop.test"], {})
    crm.opening.from_lead("lead-1", "Lead", name="Bob", phone="+79120000003")

    def found(query: str) -> list[str | None]:
        return [row["name"] for row in lists.clients(query).rows]

    assert found("8 912 345-67-89") == ["Иван Петров"]
    assert found("+7 (912) 345 67 89") == ["Иван Петров"]
    assert found("IVAN@MAIL.RU") == ["Иван Петров"]
    assert found("петров") == ["Иван Петров"]
    assert found("ann") == ["Anna"]
    assert found("8 912 000-00-03") == ["Bob"]
    assert found("8 999 000-00-00") == []
    assert len(lists.clients().rows) == 3
    # A card edited later is found by its new phone only.
    crm.clients.update(ivan.id, "Иван Петров", ["+79120000009"], ["ivan@mail.ru"], {})
    assert found("89123456789") == []
    assert found("8 (912) 000-00-09") == ["Иван Петров"]


def test_client_pages_follow_the_cursor(crm, lists):
    for i in range(7):
        crm.clients.register(f"Client {i}", [f"+7912000001{i}"], [], {})
    seen, cursor = [], None
    while True:
        page = lists.clients("client", limit=3, cursor=cursor)
        seen += [row["id"] for row in page.rows]
        if not (cursor := page.next_cursor):
            break
    assert len(seen) == len(set(seen)) == 7


def test_pipelines_list_every_definition_and_the_built_in_default(crm, lists):
    assert [p["pipeline_id"] for p in lists.pipelines()] == ["default"]
    crm.reference.define_pipeline("b2b", "B2B", STAGES, lost_reasons=["price"])
    crm.reference.define_pipeline("b2b", "B2B sales", STAGES, lost_reasons=["price"])
    listed = {p["pipeline_id"]: p for p in lists.pipelines()}
    assert set(listed) == {"default", "b2b"}
    assert (listed["b2b"]["name"], listed["b2b"]["version"]) == ("B2B sales", 2)
    assert listed["b2b"]["stages"] == crm.reference.pipeline_definition("b2b")["stages"]


def test_events_stored_while_it_was_not_running_are_caught_up(crm, make_app):
    read_model = ReadModel(crm.store)
    deal = crm.opening.by_hand("Before", name="Ann")
    other = make_app()  # another process stores events while no read model follows
    other.deals.move_stage(deal.id, "proposal")
    other.opening.by_hand("Meanwhile", name="Bob")
    assert read_model.position() == 0
    restarted = ReadModel(other.store)  # a restart: the tables and position are where they were
    assert restarted.catch_up() == (other.store.recorder.max_notification_id() or 0)
    listed = Listings(restarted, other.reference, "RU").deals(sort="opened_at").rows
    assert [(r["title"], r["stage"]) for r in listed] == [
        ("Before", "proposal"),
        ("Meanwhile", "new"),
    ]
    assert restarted.catch_up() == 0


def test_a_crash_mid_batch_leaves_nothing_half_applied(crm, lists, monkeypatch):
    read_model = lists.read_model
    crm.opening.by_hand("First", name="Ann")
    read_model.catch_up()
    before, position = tables(read_model), read_model.position()
    crm.opening.by_hand("Second", name="Bob")
    calls = iter(range(100))
    real = projection.apply

    def crash_on_second(tx, event):
        if next(calls) == 1:
            raise RuntimeError("power cut")
        real(tx, event)

    monkeypatch.setattr(projection, "apply", crash_on_second)
    with pytest.raises(RuntimeError):
        read_model.catch_up()
    assert (tables(read_model), read_model.position()) == (before, position)
    monkeypatch.setattr(projection, "apply", real)
    assert titles(lists) == ["First", "Second"]


def test_the_rebuild_gives_the_same_rows(crm, lists):
    crm.reference.define_pipeline("b2b", "B2B", STAGES)
    deal = crm.opening.by_hand("One", name="Ann", phone="+79120000001", amount=Decimal("5"))
    crm.deals.move_stage(deal.id, "qualified")
    crm.deals.record_payment(deal.id, Decimal("2"))
    client = crm.clients.register("Bob", ["+79120000002"], [], {})
    crm.clients.update(client.id, "Bob B", ["+79120000003"], ["bob@mail.ru"], {})
    crm.deals.lose(crm.opening.by_hand("Two", pipeline_id="b2b", client_id=client.id).id, "price")
    lists.read_model.catch_up()
    before = tables(lists.read_model)
    assert all(before[t] for t in TABLES)
    assert lists.rebuild() == crm.store.recorder.max_notification_id()
    assert tables(lists.read_model) == before
