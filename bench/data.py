"""The bench's event mix: what lead-intake and the deal pipeline would publish for about two
years of sales, generated deterministically (a seed, a fixed end date, never `now`).

Built from plain dicts for speed; every 1000th body is validated against the contracts so
the mix cannot drift from them. Shapes follow `deal_pipeline.adapters.event_mapping`: task
events on the deal's own version line, stage bookkeeping (from_stage_entered_at/version) on
every transition, won/lost/reopened named as the pipeline names them. Ids are seeded random
UUIDs (uuid5 per event would cost more than the rest of it); a lead's event id is its lead
id, as intake's is.

`python -m bench.data [events]` prints how fast it generates and what it holds."""

from __future__ import annotations

import asyncio
import heapq
import json
import multiprocessing
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from queue import Empty
from typing import Any

from bench.progress import Progress
from bench.record import note, scale
from crm_contracts.envelope import derived_id
from crm_contracts.events import ANY_EVENT
from crm_contracts.pipelines import DEFAULT_PIPELINE

FULL_EVENTS = 10_000_000
VERSION = 2  # bump whenever the mix changes: it keys the cached data sets
END = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())  # the data ends on 2026-10-31
START = END - 730 * 86400
DAY, HOUR = 86400, 3600
EVENTS_PER_DEAL = 5.6  # measured average (lead and client events included); sizes the lead count
VALIDATE_EVERY = 1000
RECENT_CLIENTS = 200_000  # repeat leads come from the clients registered most recently

Body = dict[str, Any]
Step = tuple[int, str, Body]  # (unix time, subject, body)

LOST_REASONS = ("price", "competitor", "no_budget", "no_response", "not_a_fit", "other")
MANAGERS = (
    "anna",
    "boris",
    "vera",
    "grigory",
    "daria",
    "egor",
    "zhanna",
    "ivan",
    "kira",
    "lev",
    "maria",
    "nikita",
)
HEAD = "olga"
FORMS = (("site", "form"), ("popup", "form"), ("landing-promo", "form"), ("api", "api"))
NAMES = ("Алексей", "Мария", "Дмитрий", "Елена", "Сергей", "Ольга", "Павел", "Наталья", "Иван")
MAIL_DOMAINS = ("mail.ru", "gmail.com", "yandex.ru", "bk.ru", "example.org")
LANDING = "https://shop.example.ru/"


def _touch_kinds() -> list[tuple[float, Callable[[random.Random, int], Body]]]:
    """Channels with their share of leads: paid search and social, e-mail, organic social and
    search by referrer, referral sites, direct."""

    def google(r: random.Random, t: int) -> Body:
        return {
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": r.choice(("brand", "generic", "retargeting")),
            "utm_term": r.choice(("buy", "price", "delivery")),
            "gclid": f"g{r.getrandbits(48):x}" if r.random() < 0.8 else None,
        }

    def yandex(r: random.Random, t: int) -> Body:
        return {
            "utm_source": "yandex",
            "utm_medium": "cpc",
            "utm_campaign": r.choice(("search_brand", "search_generic", "rsya")),
            "yclid": f"{r.getrandbits(40)}" if r.random() < 0.8 else None,
        }

    def vk_ads(r: random.Random, t: int) -> Body:
        return {
            "utm_source": "vk",
            "utm_medium": "paid_social",
            "utm_campaign": r.choice(("lookalike", "promo")),
        }

    def newsletter(r: random.Random, t: int) -> Body:
        month = time.strftime("%Y_%m", time.gmtime(t))
        return {
            "utm_source": "newsletter",
            "utm_medium": "email",
            "utm_campaign": f"digest_{month}",
        }

    def social(r: random.Random, t: int) -> Body:
        return {
            "referrer": r.choice(
                ("https://vk.com/shop", "https://t.me/shopnews", "https://dzen.ru/a/x")
            )
        }

    def organic(r: random.Random, t: int) -> Body:
        return {"referrer": r.choice(("https://www.google.com/", "https://yandex.ru/search/"))}

    def referral(r: random.Random, t: int) -> Body:
        return {
            "referrer": r.choice(
                ("https://partner-blog.ru/review", "https://catalog.example.org/shops")
            )
        }

    def direct(r: random.Random, t: int) -> Body:
        return {}

    return [
        (0.22, google),
        (0.20, yandex),
        (0.08, vk_ads),
        (0.08, newsletter),
        (0.08, social),
        (0.14, organic),
        (0.06, referral),
        (0.14, direct),
    ]


TOUCHES = _touch_kinds()
TOUCH_WEIGHTS = [w for w, _ in TOUCHES]


def iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def day(t: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def money(value: float) -> str:
    return str(int(value))


class Ids:
    """Random-looking UUIDs (version 4) from their own seeded generator: uuid5 as the services
    derive ids costs more than the rest of an event, and the bench only needs them unique."""

    def __init__(self, seed: int) -> None:
        self.bits = random.Random(seed * 7919 + 1).getrandbits

    def __call__(self) -> str:
        h = f"{self.bits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


uid = Ids(0)  # replaced per run by steps(), so every run with one seed gives the same ids


def envelope(
    event_type: str, t: int, aggregate: str, version: int, correlation: str | None, producer: str
) -> Body:
    return {
        "event_id": uid(),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": iso(t),
        "aggregate_id": aggregate,
        "aggregate_version": version,
        "correlation_id": correlation,
        "producer": producer,
    }


class Client:
    __slots__ = ("email", "id", "name", "phone", "version", "visitor")

    def __init__(self, client_id: str, name: str, phone: str | None, email: str | None) -> None:
        self.id, self.name, self.phone, self.email, self.version = client_id, name, phone, email, 1
        self.visitor = uid().replace("-", "")


class World:
    """The shared state of the story: managers in round robin, clients (for repeat leads)."""

    def __init__(self, rng: random.Random, deals: int) -> None:
        self.rng = rng
        self.deals = deals
        self.clients: list[Client] = []  # a ring of the most recent ones: bounded memory
        self.registered = 0
        self.turn = 0
        self.invoices = 0

    # -- reference data: pipeline, managers, monthly plans ------------------------------------

    def reference(self) -> Iterator[Step]:
        t = START - DAY
        stages = [
            {"name": s.name, "kind": s.kind, "probability": s.probability}
            for s in DEFAULT_PIPELINE.stages
        ]
        body = envelope(
            "pipeline.defined", t, str(derived_id("pipeline", "default")), 1, None, "deal-pipeline"
        )
        body |= {
            "pipeline_id": "default",
            "name": DEFAULT_PIPELINE.name,
            "stages": stages,
            "lost_reasons": list(LOST_REASONS),
        }
        yield t, "crm.pipelines.defined", body
        for manager_id in (*MANAGERS, HEAD):
            body = envelope(
                "manager.updated",
                t,
                str(derived_id("manager", manager_id)),
                1,
                None,
                "deal-pipeline",
            )
            body |= {
                "manager_id": manager_id,
                "name": manager_id.capitalize(),
                "email": f"{manager_id}@shop.example.ru",
                "telegram_chat_id": None,
                "phone": None,
                "timezone": "Europe/Moscow",
                "active": True,
                "role": "head" if manager_id == HEAD else "manager",
            }
            yield t, "crm.managers.updated", body

    def plans(self) -> Iterator[Step]:
        """Each manager's plan, set the day before its month starts."""
        # about what a manager sells in a month: deals × win rate × average amount
        per_month = max(100_000, self.deals * 0.33 * 80_000 // 24 // len(MANAGERS))
        year, month = 2024, 11
        while (year, month) <= (2026, 10):
            t = int(datetime(year, month, 1, tzinfo=UTC).timestamp()) - DAY
            label = f"{year:04d}-{month:02d}"
            for manager_id in MANAGERS:
                body = envelope(
                    "plan.set",
                    max(t, START - DAY),
                    str(derived_id("plan", manager_id, label)),
                    1,
                    None,
                    "deal-pipeline",
                )
                body |= {
                    "manager_id": manager_id,
                    "month": label,
                    "amount": money(per_month * (0.8 + 0.4 * self.rng.random())),
                    "currency": "RUB",
                }
                yield max(t, START - DAY), "crm.plans.set", body
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    # -- one lead and its deal ----------------------------------------------------------------

    def touch(self, t: int) -> Body:
        r = self.rng
        make = r.choices(TOUCHES, TOUCH_WEIGHTS)[0][1]
        touch = {k: v for k, v in make(r, t).items() if v is not None}
        touch["landing_url"] = LANDING
        touch["at"] = iso(t)
        return touch

    def new_client(self, n: int) -> Client:
        r = self.rng
        has_phone, has_email = r.random() < 0.8, r.random() < 0.7
        if not (has_phone or has_email):
            has_email = True
        phone = f"+79{r.randrange(10**9):09d}" if has_phone else None
        email = f"c{n}@{r.choice(MAIL_DOMAINS)}" if has_email else None
        return Client(uid(), r.choice(NAMES), phone, email)

    def manager(self) -> str:
        self.turn += 1
        return MANAGERS[self.turn % len(MANAGERS)]

    def deal(self, n: int, t0: int) -> Iterator[Step]:
        """Lead → client (new or known) → deal opened → stages, tasks, money."""
        r = self.rng
        manual = r.random() < 0.03
        repeat = self.registered > 0 and r.random() < 0.25
        client = self.clients[r.randrange(len(self.clients))] if repeat else self.new_client(n)
        lead_id = None if manual else uid()
        if lead_id is not None:
            form_id, source = r.choice(FORMS)
            if r.random() < 0.05:
                form_id, source = "api", "call"
            touch = self.touch(t0)
            lead = envelope("lead.received", t0, lead_id, 1, lead_id, "lead-intake")
            lead["event_id"] = lead_id  # intake: the event id is the lead id
            lead |= {
                "lead_id": lead_id,
                "form_id": form_id,
                "source": source,
                "received_at": iso(t0),
                "contact": {"name": client.name, "phone": client.phone, "email": client.email},
                "message": "Перезвоните, пожалуйста" if r.random() < 0.3 else None,
                "custom_fields": {"city": r.choice(("Москва", "Казань"))}
                if r.random() < 0.2
                else {},
                "consent": r.random() < 0.9,
                "touch": touch,
            }
            if r.random() < 0.75:  # the embed script knew the visitor
                touch["visitor_id"] = client.visitor
            if r.random() < 0.35:
                first = self.touch(t0 - r.randrange(DAY, 60 * DAY))
                if "visitor_id" in touch:
                    first["visitor_id"] = touch["visitor_id"]
                lead["first_touch"] = first
            yield t0, "crm.leads.received", lead
            t0 += r.randrange(1, 5)  # the pipeline consumes the lead within seconds
        else:
            form_id, source = "manual", "manual"
        if not repeat:
            if len(self.clients) < RECENT_CLIENTS:
                self.clients.append(client)
            else:
                self.clients[self.registered % RECENT_CLIENTS] = client
            self.registered += 1
            registered = envelope("client.registered", t0, client.id, 1, lead_id, "deal-pipeline")
            registered |= {
                "client_id": client.id,
                "name": client.name,
                "phone": client.phone,
                "email": client.email,
                "lead_id": lead_id,
                "requisites": {},
            }
            yield t0, "crm.clients.registered", registered
        yield from DealStory(self, n, t0, lead_id, client, source, manual).steps()

    def client_updated(self, client: Client, t: int) -> Step:
        client.version += 1
        body = envelope("client.updated", t, client.id, client.version, None, "deal-pipeline")
        body |= {
            "client_id": client.id,
            "name": client.name,
            "phones": [client.phone] if client.phone else [],
            "emails": [client.email] if client.email else [],
            "telegram_chat_id": None,
            "timezone": "Europe/Moscow",
            "requisites": {
                "legal_name": f"ООО «{client.name}»",
                "inn": f"77{self.rng.randrange(10**8):08d}",
            },
        }
        return t, "crm.clients.updated", body


class DealStory:
    """One deal's events in time order, with versions and stage bookkeeping as the pipeline
    keeps them."""

    def __init__(
        self,
        world: World,
        n: int,
        t: int,
        lead_id: str | None,
        client: Client,
        source: str,
        manual: bool,
    ) -> None:
        self.world, self.r = world, world.rng
        self.id = uid()
        self.lead_id, self.client, self.source, self.manual = lead_id, client, source, manual
        self.t, self.version = t, 1
        self.stage, self.status = "new", "open"
        self.entered_at, self.entered_version = t, 1
        self.manager = world.manager()
        self.amount, self.cost, self.paid = 0, 0, 0
        self.invoice: str | None = None

    def later(self, low: float, high: float) -> int:
        self.t += int(self.r.uniform(low, high))
        return self.t

    def head(self, event_type: str) -> Body:
        body = envelope(event_type, self.t, self.id, self.version, self.lead_id, "deal-pipeline")
        body |= {"deal_id": self.id, "pipeline_id": "default"}
        return body

    def step(self, event_type: str, **fields: Any) -> Step:
        self.version += 1
        return self.t, f"crm.deals.{event_type.split('.')[1]}", self.head(event_type) | fields

    def opened(self) -> Step:
        amount = 0
        if self.manual:
            self.amount = amount = self.deal_amount()
            self.cost = int(amount * 0.6)
        body = self.head("deal.opened") | {
            "causation_id": self.lead_id,
            "lead_id": self.lead_id,
            "stage": "new",
            "title": f"{self.client.name}: {self.source}",
            "manager_id": self.manager,
            "client_id": self.client.id,
            "source": self.source,
            "amount": money(amount),
            "currency": "RUB",
            "cost": money(self.cost),
            "expected_close_date": None,
        }
        return self.t, "crm.deals.opened", body

    def deal_amount(self) -> int:
        return max(1000, int(self.r.lognormvariate(11, 0.8)) // 100 * 100)

    def move(self, to: str, reason: str | None = None) -> Step:
        """won / lost / reopened / stage_changed, as event_mapping names a transition."""
        status = "won" if to == "won" else "lost" if to == "lost" else "open"
        fields: Body = {
            "from_stage": self.stage,
            "to_stage": to,
            "from_stage_entered_at": iso(self.entered_at),
            "from_stage_entered_version": self.entered_version,
            "status": status,
            "manager_id": self.manager,
        }
        if status == "won":
            kind = "deal.won"
            fields |= {"amount": money(self.amount), "currency": "RUB"}
        elif status == "lost":
            kind = "deal.lost"
            fields["lost_reason"] = reason or self.r.choice(LOST_REASONS)
        elif self.status != "open":
            kind = "deal.reopened"
        else:
            kind = "deal.stage_changed"
            fields["lost_reason"] = None
        step = self.step(kind, **fields)
        self.stage, self.status = to, status
        self.entered_at, self.entered_version = self.t, self.version
        return step

    def amount_changed(self) -> Step:
        previous, self.amount = self.amount, self.deal_amount()
        self.cost = int(self.amount * self.r.uniform(0.4, 0.8))
        return self.step(
            "deal.amount_changed",
            amount=money(self.amount),
            currency="RUB",
            cost=money(self.cost),
            previous_amount=money(previous),
            expected_close_date=day(self.t + 30 * DAY),
        )

    def task(self) -> Iterator[Step]:
        task_id = uid()
        due = self.t + int(self.r.uniform(2 * HOUR, 3 * DAY))
        common = {"task_id": task_id, "manager_id": self.manager, "client_id": self.client.id}
        kind = self.r.choice(("call", "call", "meeting", "email"))
        yield self.task_step(
            "task.scheduled",
            common | {"title": "Позвонить клиенту", "kind": kind, "due_at": iso(due)},
        )
        self.t = due + int(self.r.uniform(0, 4 * HOUR))
        if self.r.random() < 0.85:
            yield self.task_step("task.completed", common | {"due_at": iso(due)})
        else:
            yield self.task_step("task.cancelled", common | {"reason": "client asked"})

    def task_step(self, event_type: str, fields: Body) -> Step:
        self.version += 1
        body = envelope(event_type, self.t, self.id, self.version, self.lead_id, "deal-pipeline")
        body |= {"deal_id": self.id} | fields
        return self.t, f"crm.tasks.{event_type.split('.')[1]}", body

    def invoice_issued(self) -> Step:
        self.world.invoices += 1
        self.invoice = uid()
        return self.step(
            "deal.invoice_issued",
            invoice_id=self.invoice,
            number=f"INV-{self.world.invoices:07d}",
            amount=money(self.amount),
            currency="RUB",
            client_id=self.client.id,
            requisites={},
            due_date=day(self.t + 10 * DAY),
        )

    def payment(self, amount: int) -> Step:
        self.paid += amount
        return self.step(
            "deal.payment_received",
            payment_id=uid(),
            invoice_id=self.invoice,
            amount=money(amount),
            currency="RUB",
            paid_at=iso(self.t),
            client_id=self.client.id,
            manager_id=self.manager,
            paid_total=money(self.paid),
        )

    def assigned(self) -> Step:
        previous, self.manager = self.manager, self.world.manager()
        return self.step("deal.assigned", manager_id=self.manager, previous_manager_id=previous)

    def win_path(self) -> Iterator[Step]:
        """From wherever the deal is to won and paid (fully, in parts or not yet)."""
        r = self.r
        for stage, share in (("qualified", 1.0), ("proposal", 0.6), ("invoice", 0.5)):
            if self.stage_index() < stage_index(stage) and r.random() < share:
                self.later(DAY, 6 * DAY)
                yield self.move(stage)
                if not self.amount:  # set once qualified (or on the way back from lost)
                    self.later(HOUR, DAY)
                    yield self.amount_changed()
                if stage == "invoice" and r.random() < 0.5:
                    self.later(60, HOUR)
                    yield self.invoice_issued()
        if not self.amount:  # back from lost, straight to won: the amount is set first
            self.later(HOUR, DAY)
            yield self.amount_changed()
        self.later(DAY, 12 * DAY)
        yield self.move("won")
        pay = r.random()
        if pay < 0.65:
            self.later(0, 8 * DAY)
            yield self.payment(self.amount)
        elif pay < 0.9:
            first = self.amount * r.choice((30, 50)) // 100
            self.later(0, 5 * DAY)
            yield self.payment(first)
            self.later(5 * DAY, 40 * DAY)
            yield self.payment(self.amount - first)

    def stage_index(self) -> int:
        return stage_index(self.stage)

    def lose_after(self, stages: tuple[str, ...]) -> Iterator[Step]:
        for stage in stages:
            self.later(DAY, 5 * DAY)
            yield self.move(stage)
            if stage == "proposal" and self.r.random() < 0.5:
                self.later(HOUR, DAY)
                yield self.amount_changed()
        self.later(DAY, 15 * DAY)
        yield self.move("lost")

    def steps(self) -> Iterator[Step]:
        r = self.r
        yield self.opened()
        if r.random() < 0.04:
            self.later(HOUR, DAY)
            yield self.world.client_updated(self.client, self.t)
        if r.random() < 0.15:
            self.later(10 * 60, 2 * HOUR)
            yield from self.task()
        if r.random() < 0.03:
            self.later(HOUR, 2 * DAY)
            yield self.assigned()
        fate = r.random()
        if fate < 0.40:
            yield from self.lose_after(())
        elif fate < 0.57:
            yield from self.lose_after(("qualified",))
        elif fate < 0.65:
            yield from self.lose_after(("qualified", "proposal"))
        elif fate < 0.75:  # still open: stuck somewhere on the way
            for stage in ("qualified", "proposal")[: r.randrange(0, 2)]:
                self.later(DAY, 10 * DAY)
                yield self.move(stage)
            return
        else:
            yield from self.win_path()
            if r.random() < 0.02:  # won by mistake, back to invoicing, won again
                self.later(HOUR, 3 * DAY)
                yield self.move("invoice")
                self.later(DAY, 5 * DAY)
                yield self.move("won")
            return
        if r.random() < 0.05:  # a lost deal comes back
            self.later(5 * DAY, 60 * DAY)
            yield self.move("qualified")
            if r.random() < 0.5:
                yield from self.win_path()
            else:
                yield from self.lose_after(("proposal",))


STAGES = [s.name for s in DEFAULT_PIPELINE.stages]


def stage_index(name: str) -> int:
    return STAGES.index(name)


def steps(events: int, seed: int) -> Iterator[Step]:
    """Every step in time order: leads arrive evenly (with jitter) over the two years; the
    deals they open live on in a heap keyed by their next step's time."""
    global uid
    uid = Ids(seed)
    rng = random.Random(seed)
    deals = max(10, round(events / EVENTS_PER_DEAL))
    world = World(rng, deals)
    heap: list[tuple[int, int, Step, Iterator[Step]]] = []
    order = 0

    def push(story: Iterator[Step]) -> None:
        nonlocal order
        step = next(story, None)
        if step is not None:
            order += 1
            heapq.heappush(heap, (step[0], order, step, story))

    push(world.reference())
    push(world.plans())
    span = END - START - 45 * DAY  # the last leads' deals still move within the two years
    for n in range(deals):
        t = START + int((n + rng.random()) * span / deals)
        while heap and heap[0][0] <= t:
            _, _, step, story = heapq.heappop(heap)
            yield step
            push(story)
        push(world.deal(n, t))
    while heap:
        _, _, step, story = heapq.heappop(heap)
        if step[0] >= END:
            continue  # after the data's end: that deal stays where it is
        yield step
        push(story)


def messages(events: int, seed: int = 11) -> Iterator[tuple[str, bytes, dict[str, str]]]:
    """mix() with the headers the services' `publish_event` sends with each event."""
    dumps = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode
    for count, (_, subject, body) in enumerate(steps(events, seed)):
        if count >= events:
            return
        data = dumps(body).encode()
        if count % VALIDATE_EVERY == 0:
            ANY_EVENT.validate_json(data)
        headers = {"Nats-Msg-Id": body["event_id"], "Crm-Event-Type": body["event_type"]}
        if body["correlation_id"]:
            headers["Crm-Correlation-Id"] = body["correlation_id"]
        yield subject, data, headers


def mix(events: int, seed: int = 11) -> Iterator[tuple[str, bytes]]:
    """(subject, JSON body) of a realistic event mix, in publish order, deterministic."""
    for subject, data, _ in messages(events, seed):
        yield subject, data


PAID = (
    ("google", "cpc", ("brand", "generic", "retargeting"), 0.22),
    ("yandex", "cpc", ("search_brand", "search_generic", "rsya"), 0.20),
    ("vk", "paid_social", ("lookalike", "promo"), 0.08),
)  # the paid touches of _touch_kinds, with their share of leads
COST_PER_LEAD = 1500


def ad_spend_csv(events: int, seed: int = 11) -> str:
    """Daily spend of every paid campaign over the two years, about COST_PER_LEAD per lead
    it brought (the analytics API's import: POST /v1/ad-spend, text/csv)."""
    rng = random.Random(seed + 1)
    leads_per_day = events / EVENTS_PER_DEAL / (730 - 45)
    lines = ["date,source,medium,campaign,cost,currency,clicks,impressions"]
    for d in range(730):
        date = day(START + d * DAY)
        for source, medium, campaigns, share in PAID:
            for campaign in campaigns:
                leads = leads_per_day * share / len(campaigns)
                cost = round(leads * COST_PER_LEAD * rng.uniform(0.6, 1.4), 2)
                clicks = int(leads * rng.uniform(15, 30))
                lines.append(
                    f"{date},{source},{medium},{campaign},{cost},RUB,{clicks},{clicks * 40}"
                )
    return "\n".join(lines) + "\n"


def full_size() -> int:
    """10 M events at BENCH_SCALE=1."""
    return max(1000, int(FULL_EVENTS * scale()))


def last_year() -> tuple[str, str]:
    """The data's whole last year, as a report's `from` and `to` (exclusive)."""
    return day(END - 365 * DAY), day(END)


IN_FLIGHT = 8000  # publishes awaiting their ack


class Acks:
    """Counts JetStream's acks on one reply subject: nats-py's per-publish futures and PubAck
    parsing cost more than the publish itself, and only the count and the errors matter."""

    def __init__(self) -> None:
        self.acked = self.duplicates = 0
        self.errors: list[bytes] = []
        self.below = asyncio.Event()

    async def on_ack(self, msg: Any) -> None:
        self.acked += 1
        if b'"error"' in msg.data or not msg.data:  # no data: a 503 status, no stream
            self.errors.append(msg.data or str(msg.headers).encode())
        elif b'"duplicate"' in msg.data:
            self.duplicates += 1
        self.below.set()

    async def until(self, in_flight: int, sent: int, timeout: float = 60) -> None:
        """Until at most `in_flight` publishes await their ack."""
        while sent - self.acked > in_flight:
            self.below.clear()
            await asyncio.wait_for(self.below.wait(), timeout)


Message = tuple[str, bytes, dict[str, str]]
BATCH = 1000  # messages per hand-over from the generating process


def _generate(queue: Any, events: int, seed: int) -> None:
    """In a child process: the messages in batches, then None (an exception text on failure)."""
    try:
        batch: list[Message] = []
        for message in messages(events, seed):
            batch.append(message)
            if len(batch) == BATCH:
                queue.put(batch)
                batch = []
        queue.put(batch)
        queue.put(None)
    except BaseException as exc:
        queue.put(repr(exc))
        raise


async def generated(events: int, seed: int) -> AsyncIterator[list[Message]]:
    """messages() in batches, generated in another process: generating costs about as much
    CPU as publishing, so on two cores both run at once."""
    context = multiprocessing.get_context("fork")  # spawn would import the caller's script
    queue = context.Queue(maxsize=64)
    child = context.Process(target=_generate, args=(queue, events, seed), daemon=True)
    child.start()
    loop = asyncio.get_running_loop()

    def next_batch() -> Any:
        while True:
            try:
                return queue.get(timeout=1)
            except Empty:
                if not child.is_alive():
                    return f"the generating process exited with {child.exitcode}"

    try:
        while True:
            batch = await loop.run_in_executor(None, next_batch)
            if batch is None:
                return
            if isinstance(batch, str):
                raise RuntimeError(f"generating the mix failed: {batch}")
            yield batch
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


async def publish(nats_url: str, events: int, seed: int = 11) -> int:
    """Declare the streams exactly as the services do and publish mix(events), each with
    Nats-Msg-Id = its event id, awaiting every ack (thousands in flight). Returns the count."""
    import nats

    from crm_contracts.streams import CRM, ensure_streams

    nc = await nats.connect(nats_url, pending_size=16 * 2**20)
    try:
        await ensure_streams(nc.jetstream())
        acks = Acks()
        inbox = nc.new_inbox()
        await nc.subscribe(f"{inbox}.*", cb=acks.on_ack, pending_msgs_limit=4 * IN_FLIGHT)
        progress = Progress("publish events", events)
        sent = 0
        async for batch in generated(events, seed):
            for subject, data, headers in batch:
                headers["Nats-Expected-Stream"] = CRM  # what `publish(stream=CRM)` sends
                await nc.publish(subject, data, reply=f"{inbox}.{sent}", headers=headers)
                sent += 1
            progress.advance(len(batch))
            await acks.until(IN_FLIGHT, sent)
            if acks.errors:
                raise RuntimeError(f"publish refused: {acks.errors[0]!r}")
        await nc.flush()
        await acks.until(0, sent)
        progress.close()
        if acks.errors:
            raise RuntimeError(f"{len(acks.errors)} refused, first: {acks.errors[0]!r}")
        if acks.duplicates:
            note(f"{acks.duplicates:,} of {sent:,} were duplicates (already in the stream)")
        return sent
    finally:
        await nc.close()


def main() -> None:
    """`python -m bench.data [events]`: how fast the mix generates, and its composition."""
    import sys
    from collections import Counter

    events = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    started = time.monotonic()
    kinds: Counter[str] = Counter()
    for subject, _ in mix(events):
        kinds[subject] += 1
    seconds = time.monotonic() - started
    note(
        f"{sum(kinds.values()):,} events in {seconds:.1f}s ({sum(kinds.values()) / seconds:,.0f}/s)"
    )
    opened = kinds["crm.deals.opened"]
    note(f"{opened:,} deals, {sum(kinds.values()) / max(opened, 1):.2f} events per deal")
    for subject, n in kinds.most_common():
        note(f"  {subject:<32} {n:>10,}")


if __name__ == "__main__":
    main()
