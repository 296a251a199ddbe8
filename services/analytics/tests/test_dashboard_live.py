"""When the dashboard refreshes as the projection lands new events (static/live.js), in
headless Chromium on a made-up clock: at once after a quiet spell, one refresh at a time with
one more for the events that came meanwhile, and under a burst no closer than the gap from
the last start nor the rest from the last end."""

from __future__ import annotations

from pathlib import Path

from tests.support.browser import PageServer, chromium

STATIC = Path(__file__).parents[1] / "src/analytics/api/dashboard/static"

# Each step sets the clock, then calls the refresher (`event`), runs the scheduled refresh
# (`run`) or ends the running one (`end`); `waits` are the delays the refresher asked for.
PAGE = """<!doctype html><meta charset="utf-8"><title>live</title>
<script type="module">
import { liveRefresher } from "/live.js";
let now = 0;
const waits = [];
const scheduled = [];
let finish = null;
let refreshes = 0;
const soon = liveRefresher(
  () => { refreshes += 1; return new Promise((resolve) => { finish = resolve; }); },
  {
    gap: 250, rest: 100, clock: () => now,
    later: (fn, wait) => { waits.push(wait); scheduled.push(fn); },
  },
);
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
window.step = async (kind, at) => {
  now = at;
  if (kind === "event") soon();
  if (kind === "run") scheduled.shift()();
  if (kind === "end") { const f = finish; finish = null; f(); }
  await settle();
  return { waits: [...waits], scheduled: scheduled.length, refreshes, running: finish !== null };
};
window.ready = true;
</script>"""


def test_refreshes_at_once_when_quiet_and_spaces_a_burst():
    pages = {"/live.html": PAGE, "/live.js": (STATIC / "live.js").read_text()}
    with PageServer(pages) as server, chromium() as browser:
        tab = browser.new_page()
        tab.goto(f"{server.origin}/live.html")
        tab.wait_for_function("window.ready === true")

        def step(kind: str, at: float) -> dict:
            return tab.evaluate("([kind, at]) => window.step(kind, at)", [kind, at])

        # The first event after a quiet spell: at once; a second before it runs adds nothing.
        assert step("event", 1000)["waits"] == [0]
        assert step("event", 1001)["scheduled"] == 1
        state = step("run", 1002)
        assert (state["refreshes"], state["running"]) == (1, True)
        # Events while it runs: one more refresh once it ends, not one each.
        step("event", 1010)
        assert step("event", 1020)["scheduled"] == 0
        # Ended at 1060: the next may start 250 after the last start (1252), at least 100
        # after the end (1160): 192 from now.
        state = step("end", 1060)
        assert (state["waits"], state["scheduled"]) == ([0, 192], 1)
        step("run", 1252)
        step("event", 1300)
        # A slow refresh, ended at 1500: the gap has passed, the rest has not.
        assert step("end", 1500)["waits"] == [0, 192, 100]
        step("run", 1600)
        state = step("end", 1620)  # nothing came meanwhile: nothing more
        assert (state["scheduled"], state["refreshes"], state["running"]) == (0, 3, False)
        # An event 130 ms after that end, 150 after its start: it waits out the gap.
        assert step("event", 1750)["waits"][-1] == 100
        step("run", 1850)
        step("end", 1900)
        # Quiet again: at once.
        assert step("event", 5000)["waits"][-1] == 0
