"""The sales dashboard in a real headless Chromium against the whole stack: sign in, the
funnel chart agrees with the API, a bar drills down to exactly its deals, compare modes show
changes, filters live in the URL, a new lead shows up without a reload, and the page neither
logs errors nor asks anything of another origin. A screenshot of every page is kept."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.support.browser import chromium
from tests.support.net import wait_until
from tests.support.stack import DASHBOARD_USER, KEY, VIEWER_KEY

PAGES = [
    "overview", "sales-funnel", "lead-funnel", "attribution", "dynamics",
    "amount-distribution", "repeat-sales", "active-clients", "managers", "weighted-pipeline",
    "abc", "cohorts", "client-profitability",
]  # fmt: skip
LEADS = [  # name, contact, landing page, stages, amount
    ("Ann", {"phone": "+79123450001"}, "utm_source=yandex&utm_medium=cpc&utm_campaign=spring",
     ["qualified", "proposal", "invoice", "won"], "120000"),
    ("Bob", {"email": "bob@mail.ru"}, "utm_source=google&utm_medium=cpc&utm_campaign=brand",
     ["proposal"], "45000"),
    ("Cat", {"email": "cat@mail.ru"}, "utm_source=vk&utm_medium=social", ["qualified"], "30000"),
    ("Dan", {"phone": "+79123450004"}, "", [], "15000"),
]  # fmt: skip


def post_lead(intake: str, name: str, contact: dict, query: str) -> str:
    body = {"name": name, **contact, "landing_url": f"https://shop.test/?{query}"}
    response = httpx.post(f"{intake}/v1/leads", json=body, headers={"X-API-Key": "dev-api-key"})
    assert response.status_code == 202, response.text
    return response.json()["lead_id"]


def seed(stack) -> None:
    intake, pipeline = stack["lead_intake"].url, stack["deal_pipeline"].url
    for name, contact, query, stages, amount in LEADS:
        lead = post_lead(intake, name, contact, query)

        def deal(lead=lead) -> dict:
            r = httpx.get(f"{pipeline}/v1/deals/by-lead/{lead}", headers=KEY)
            return r.json() if r.status_code == 200 else {}

        url = f"{pipeline}/v1/deals/{wait_until(deal, what=f'deal of {name}')['id']}"
        assert httpx.post(f"{url}/amount", json={"amount": amount}, headers=KEY).is_success
        for stage in stages:
            if stage == "won":
                paid = {"amount": amount}
                assert httpx.post(f"{url}/payments", json=paid, headers=KEY).is_success
            assert httpx.post(f"{url}/stage", json={"stage": stage}, headers=KEY).is_success


def this_month() -> dict[str, str]:
    # The dashboard's default period in its default zone (UTC here): this calendar month.
    today = datetime.now(UTC).date()
    start = today.replace(day=1)
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return {"from": str(start), "to": str(end), "tz": "UTC"}


def api(stack, path: str, **params) -> dict:
    response = httpx.get(f"{stack['analytics'].url}{path}", params=params, headers=VIEWER_KEY)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("CRM_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("dashboard-screenshots")


def wait_js(page, expression: str, timeout: float = 20.0) -> None:
    """Polls a JS expression from outside (the page's CSP forbids Playwright's in-page eval)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def wait_rendered(page, after: int = 0) -> int:
    """The dashboard marks <body data-rendered=N> after its N-th complete render, and the view
    (query string) it rendered: wait for a render of the current URL after render `after`."""
    wait_js(
        page,
        f"Number(document.body.dataset.rendered || 0) > {after}"
        " && document.body.dataset.renderedFor === location.search",
    )
    return int(page.get_attribute("body", "data-rendered"))


def bar_labels(page, testid: str) -> list[str]:
    """Value labels of a bar chart (the SVG's centred texts that are plain numbers)."""
    texts = page.eval_on_selector_all(
        f"[data-testid={testid}] svg text",
        "els => els.filter(e => e.getAttribute('text-anchor') === 'middle')"
        ".map(e => e.textContent)",
    )
    return [t for t in texts if t.replace("\u00a0", "").replace(" ", "").isdigit()]


def click_bar(page, testid: str, series: int, index: int) -> None:
    """Clicks the middle of bar `index` of `series`, where ECharts laid it out."""
    box = page.locator(f"[data-testid={testid}]").bounding_box()
    bar = page.evaluate(
        "([sel, s, i]) => echarts.getInstanceByDom(document.querySelector(sel)).getModel()"
        ".getSeriesByIndex(s).getData().getItemLayout(i)",
        [f"[data-testid={testid}]", series, index],
    )
    x, y = bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2
    page.mouse.click(box["x"] + x, box["y"] + y)


def print_first_load(page) -> None:
    """For the record: time to the first complete render and what a cold browser fetched."""
    figures = page.evaluate(
        """() => {
        const rendered = performance.getEntriesByName("dashboard-rendered")[0];
        const entries = [...performance.getEntriesByType("navigation"),
                         ...performance.getEntriesByType("resource")];
        return {
          rendered_ms: rendered ? Math.round(rendered.startTime) : null,
          transferred_kb: Math.round(entries.reduce((s, e) => s + e.transferSize, 0) / 1024),
          decoded_kb: Math.round(entries.reduce((s, e) => s + e.decodedBodySize, 0) / 1024),
          requests: entries.length,
        };
      }"""
    )
    print(f"first load of the dashboard: {figures}")


def test_dashboard_in_a_real_browser(stack, shots):
    seed(stack)
    period = this_month()

    def settled() -> dict:
        funnel = api(stack, "/v1/reports/sales-funnel", **period)
        won = funnel["stages"][-1]["current"]
        return (
            funnel
            if funnel["deals"] == 4 and won == 1 and funnel["stages"][1]["reached"] == 3
            else {}
        )

    funnel = wait_until(settled, what="the funnel to show every move")
    origin = stack["analytics"].url
    requests: list[str] = []
    problems: list[str] = []
    with chromium() as browser:
        page = browser.new_page()
        page.set_viewport_size({"width": 1280, "height": 800})
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        # 1. Signing in: the dashboard sends a stranger to the login page and back.
        page.goto(f"{origin}/?page=sales-funnel")
        assert urlparse(page.url).path == "/login"
        page.fill("input[name=username]", DASHBOARD_USER[0])
        page.fill("input[name=password]", DASHBOARD_USER[1])
        page.click("button[type=submit]")
        page.wait_for_url(f"{origin}/?page=sales-funnel")
        rendered = wait_rendered(page)
        print_first_load(page)

        # 2. The funnel chart's labels are the API's numbers.
        stages = funnel["stages"]
        expected = [str(s["reached"]) for s in stages] + [str(s["current"]) for s in stages]
        assert bar_labels(page, "funnel-chart") == expected

        # 3. A click on a bar opens a drill list of exactly that many deals.
        qualified = stages[1]
        click_bar(page, "funnel-chart", 0, 1)
        page.wait_for_selector("[data-testid=drill-total]")
        assert page.inner_text("[data-testid=drill-total]") == str(qualified["reached"])
        assert page.locator(".panel tbody tr").count() == qualified["reached"]
        assert "drill=" in page.url  # the open panel is part of the link too
        page.screenshot(path=shots / "drill.png")
        page.keyboard.press("Escape")
        page.wait_for_selector(".panel", state="hidden")
        rendered = wait_rendered(page, rendered)

        # 4. Compare modes: none shows no changes, previous year shows them.
        page.select_option("#f-compare", "none")
        rendered = wait_rendered(page, rendered)
        assert page.locator(".page .delta").count() == 0
        page.select_option("#f-compare", "previous_year")
        rendered = wait_rendered(page, rendered)
        assert page.locator(".page td .delta").count() > 0
        assert parse_qs(urlparse(page.url).query)["compare"] == ["previous_year"]

        # 5. A filter survives a reload through the URL.
        manager = api(stack, "/v1/dimensions")["managers"][0]["id"]  # as deals name them
        page.select_option("#f-manager", manager)
        rendered = wait_rendered(page, rendered)
        assert parse_qs(urlparse(page.url).query)["manager"] == [manager]
        page.reload()
        rendered = wait_rendered(page)
        assert page.input_value("#f-manager") == manager
        mine = api(stack, "/v1/reports/sales-funnel", manager=manager, **period)
        assert bar_labels(page, "funnel-chart")[0] == str(mine["stages"][0]["reached"])
        page.go_back()  # back to the unfiltered view
        rendered = wait_rendered(page, rendered)
        assert page.input_value("#f-manager") == ""

        # 6. Live: a new lead shows on the open overview without a reload.
        page.goto(f"{origin}/?page=overview")
        rendered = wait_rendered(page)
        page.wait_for_selector("#live-status[data-state=live]")
        page.evaluate("() => { document.body.dataset.marker = 'same-page'; }")
        tile = "[data-testid=tile-leads] .tile-value"
        before = int(page.inner_text(tile))
        posted = time.monotonic()
        post_lead(stack["lead_intake"].url, "Eve", {"email": "eve@mail.ru"}, "utm_source=x")
        wait_js(page, f"document.querySelector('{tile}').textContent.trim() === '{before + 1}'", 10)
        seen_after = time.monotonic() - posted
        assert page.get_attribute("body", "data-marker") == "same-page"  # no reload
        print(f"lead 202 → visible on the open dashboard: {seen_after:.2f} s")

        # 7. English, and a screenshot of every page.
        page.click("#lang")
        page.wait_for_selector("html[lang=en]")
        for name in PAGES:
            page.goto(f"{origin}/?page={name}&lang=en")
            wait_rendered(page)
            assert page.locator("#banner").is_hidden(), page.inner_text("#banner")
            page.screenshot(path=shots / f"{name}.png", full_page=True)

        # The phone layout: nothing wider than the screen.
        phone = browser.new_page()
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto(f"{origin}/?page=overview")
        wait_rendered(phone)
        width = phone.evaluate("() => document.documentElement.scrollWidth")
        phone.screenshot(path=shots / "overview-phone.png", full_page=True)
        assert width <= 390

        # A refused filter is a banner naming the problem, not a blank page (another tab:
        # Chromium logs the refused request, which is expected here).
        phone.goto(f"{origin}/?page=sales-funnel&pipeline=no-such-pipeline")
        wait_rendered(phone)
        assert "no-such-pipeline" in phone.inner_text("#banner")

    # 8. Nothing but this origin was asked for; no errors in the console.
    foreign = [u for u in requests if not (u.startswith(origin) or u.startswith("data:"))]
    assert foreign == []
    assert problems == [], problems
    print(f"screenshots: {shots}")
