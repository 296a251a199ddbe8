"""A real visitor in headless Chromium: arrives on a tagged landing page, moves to the contact
page, submits the form that embed.js prepared; the LeadReceived carries the touch."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import pytest

from services.lead_intake.tests.helpers import API_KEY, OPERATOR, lead_events, wait_on_the_bus
from tests.support.browser import PageServer, chromium
from tests.support.net import wait_until
from tests.support.services import ServiceProcess

ARRIVAL = "?utm_source=yandex&utm_medium=cpc&utm_campaign=spring&yclid=123"
RETURN = "?utm_source=google&utm_medium=cpc&gclid=g-9"


def pages(intake: str) -> dict[str, str]:
    script = f'<script src="{intake}/v1/forms/contact/embed.js"></script>'
    return {
        "/landing.html": f"""<!doctype html><title>Sofas</title>
            <a id="to-contact" href="/contact.html">Contact us</a>{script}""",
        "/contact.html": f"""<!doctype html><title>Contact</title>
            <form id="lead" method="post" action="{intake}/v1/forms/contact/submit">
              <input name="name" placeholder="Name">
              <input name="phone" type="tel" placeholder="Phone">
              <label><input name="consent" type="checkbox"> I agree</label>
              <button type="submit">Send</button>
            </form>{script}""",
        "/thanks.html": "<!doctype html><title>Thanks</title><h1>Thank you</h1>",
    }


@pytest.fixture
def intake(nats_server, tmp_path):
    proc = ServiceProcess(
        "lead_intake",
        {
            "LEAD_INTAKE_NATS_URL": nats_server.url,
            "LEAD_INTAKE_DATA_DIR": str(tmp_path / "intake"),
            "LEAD_INTAKE_API_KEY": API_KEY,
            "LEAD_INTAKE_MIN_FILL_SECONDS": "1",
        },
        tmp_path / "intake.log",
    ).start()
    proc.wait_ready()
    wait_on_the_bus(proc.url)
    yield proc
    proc.stop()


def test_visitor_touch_survives_a_page_change_and_reaches_the_bus(intake, nats_server):
    with PageServer(pages(intake.url)) as site, chromium() as browser:
        form = {
            "fields": [
                {"name": "name", "required": True},
                {"name": "phone", "type": "phone", "required": True},
                {"name": "consent", "type": "bool", "required": True},
            ],
            "allowed_origins": [site.origin],
            "thank_you_url": f"{site.origin}/thanks.html",
        }
        response = httpx.put(f"{intake.url}/v1/forms/contact", json=form, headers=OPERATOR)
        assert response.status_code == 200, response.text

        page = browser.new_page()
        started = time.time()
        hidden = visit_and_submit(page, site.origin, ARRIVAL, "Ivan")
        [cookie] = [c for c in browser.cookies() if c["name"] == "crm_touch"]
        assert hidden["utm_source"] == "yandex" and hidden["first_yclid"] == "123"
        assert hidden["_hp"] == "" and hidden["_rendered_at"] and hidden["_form_key"]
        # the same visitor comes back from another ad: a new last touch, the first one stays
        visit_and_submit(page, site.origin, RETURN, "Ivan again")

    # (read after the browser closed: playwright's sync API keeps an event loop on this thread)
    [event, again] = wait_until(
        lambda: len(e := lead_events(nats_server.url)) == 2 and e, what="both leads on the bus"
    )
    assert event["contact"]["name"] == "Ivan" and event["contact"]["phone"] == "+79123456789"
    assert event["consent"] is True
    for touch in (event["touch"], event["first_touch"]):
        assert touch["utm_source"] == "yandex"
        assert touch["utm_medium"] == "cpc"
        assert touch["utm_campaign"] == "spring"
        assert touch["yclid"] == "123"
        assert touch["landing_url"] == f"{site.origin}/landing.html{ARRIVAL}"
    assert event["touch"]["visitor_id"] == hidden["visitor_id"] != ""
    first_at = event["first_touch"]["at"]
    assert first_at is not None
    assert started - 5 < _epoch(first_at) < time.time() + 5
    assert 89 * 86400 < cookie["expires"] - started < 91 * 86400  # 90 days, first-party
    assert cookie["domain"] == "127.0.0.1"

    assert (again["touch"]["utm_source"], again["touch"]["gclid"]) == ("google", "g-9")
    assert again["touch"]["yclid"] is None
    assert again["first_touch"] == event["first_touch"]
    assert again["touch"]["visitor_id"] == event["touch"]["visitor_id"]


def visit_and_submit(page, origin: str, arrival: str, name: str) -> dict[str, str]:
    """Land with `arrival` in the URL, go to the contact page, fill and send the form; returns
    the form's inputs as embed.js left them."""
    page.goto(f"{origin}/landing.html{arrival}")
    page.click("#to-contact")
    page.wait_for_url(f"{origin}/contact.html")
    inputs = page.eval_on_selector_all(
        "#lead input", "inputs => Object.fromEntries(inputs.map(i => [i.name, i.value]))"
    )
    page.fill("input[name=name]", name)
    page.fill("input[name=phone]", "+7 912 345-67-89")
    page.check("input[name=consent]")
    page.wait_for_timeout(1200)  # a person takes longer than the 1 s bots are allowed
    page.click("button[type=submit]")
    page.wait_for_url(f"{origin}/thanks.html")
    return inputs


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
