// The dashboard's shell: navigation, global filters, the page router over the URL, the drill
// panel, and live refresh when the projection lands new events.

import { ApiError, getJSON, report } from "./api.js";
import { disposeWithin } from "./charts.js";
import { clear, h } from "./dom.js";
import { DrillPanel } from "./drill.js";
import { LANGS, makeI18n } from "./i18n.js";
import { liveRefresher } from "./live.js";
import { attribution } from "./pages/attribution.js";
import { deal } from "./pages/deal.js";
import { leadFunnel, salesFunnel } from "./pages/funnels.js";
import {
  abc, activeClients, amountDistribution, clientProfitability, cohorts, dynamics, repeatSales,
} from "./pages/money.js";
import { overview } from "./pages/overview.js";
import { managers, weightedPipeline } from "./pages/sales.js";
import { COMPARES, FILTERS, PRESETS, periodRange, readState, reportParams, stateUrl } from "./state.js";

const PAGES = {
  overview, "sales-funnel": salesFunnel, "lead-funnel": leadFunnel, attribution, dynamics,
  "amount-distribution": amountDistribution, "repeat-sales": repeatSales,
  "active-clients": activeClients, managers, "weighted-pipeline": weightedPipeline, abc, cohorts,
  "client-profitability": clientProfitability,
};
const NAV = Object.keys(PAGES);
const config = JSON.parse(document.getElementById("config").textContent);
const defaults = { tz: config.tz, lang: "ru" };
const els = {
  nav: document.getElementById("nav"),
  filters: document.getElementById("filters"),
  banner: document.getElementById("banner"),
  main: document.getElementById("main"),
  status: document.getElementById("live-status"),
  lang: document.getElementById("lang"),
  menu: document.getElementById("menu"),
};
let dims = { pipelines: [], managers: [], channels: [], sources: [], campaigns: [] };
let renderSeq = 0;
let ctx = null;

function validZone(zone) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function setState(changes, { replace = false } = {}) {
  const state = { ...readState(defaults), ...changes };
  const url = stateUrl(state, defaults);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

function makeContext(state) {
  const zone = validZone(state.tz) ? state.tz : config.tz;
  const i18n = makeI18n(state.lang, config.currency, zone);
  const c = {
    ...i18n, state, dims, currency: config.currency, setState,
    params: (extra) => reportParams(state, zone, extra),
    report: (name, extra = {}) => {
      const params = reportParams(state, zone);
      for (const [key, value] of Object.entries(extra)) {
        if (value === "" || value === null) params.delete(key);
        else if (value !== undefined) params.set(key, value);
      }
      return report(name, params);
    },
    openDrill: (link, title) => setState({ drill: link, drill_title: title }),
    closeDrill: () => setState({ drill: "", drill_title: "" }),
    openDeal: (id) => setState({ page: "deal", id, drill: "", drill_title: "" }),
    dealHref: (id) => stateUrl({ ...state, page: "deal", id, drill: "", drill_title: "" }, defaults),
    backHref: () => stateUrl({ ...state, page: "overview", id: "" }, defaults),
  };
  return c;
}

function select(name, label, options, value, onChange) {
  const id = `f-${name}`;
  return h("label", { for: id, class: "field" }, h("span", {}, label),
    h("select", { id, name, onchange: (e) => onChange(e.target.value) },
      options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
}

function renderFilters(c) {
  const { t, state } = c;
  const range = periodRange(state, c.timeZone);
  const nodes = [
    select("period", t("period"), PRESETS.map((p) => [p, t(`p_${p}`)]), state.period, (v) =>
      setState(v === "custom" ? { period: v, from: range.from, to: range.to } : { period: v, from: "", to: "" })),
  ];
  if (state.period === "custom") {
    const from = h("input", { type: "date", id: "f-from", value: range.from, required: true });
    const to = h("input", { type: "date", id: "f-to", value: range.to, required: true });
    nodes.push(h("form", { class: "custom", onsubmit: (e) => {
      e.preventDefault();
      setState({ from: from.value, to: to.value });
    } }, h("label", { for: "f-from", class: "field" }, h("span", {}, t("from")), from),
    h("label", { for: "f-to", class: "field" }, h("span", {}, t("to")), to),
    h("button", { type: "submit" }, t("apply"))));
  }
  nodes.push(select("compare", t("compare"), COMPARES.map((v) => [v, t(`c_${v}`)]), state.compare,
    (v) => setState({ compare: v })));
  const lists = {
    pipeline: dims.pipelines.map((p) => [p.id, p.name || p.id]),
    manager: dims.managers.map((m) => [m.id, m.name || m.id]),
    channel: dims.channels.map((v) => [v, v]),
    source: dims.sources.map((v) => [v, v]),
    campaign: dims.campaigns.map((v) => [v, v]),
  };
  for (const name of FILTERS) {
    const options = lists[name];
    if (state[name] && !options.some(([v]) => v === state[name])) options.push([state[name], state[name]]);
    nodes.push(select(name, t(name), [["", t("all")], ...options], state[name] || "",
      (v) => setState({ [name]: v })));
  }
  const zones = [...new Set([config.tz, "UTC", "Europe/Moscow", "Europe/Kaliningrad", "Europe/Samara",
    "Asia/Yekaterinburg", "Asia/Novosibirsk", "Asia/Vladivostok", "Europe/London", state.tz])];
  nodes.push(select("tz", t("tz"), zones.map((z) => [z, z]), state.tz, (v) => setState({ tz: v })));
  clear(els.filters).append(...nodes);
}

function renderNav(c) {
  clear(els.nav).append(h("ul", {}, NAV.map((page) => h("li", {},
    h("a", {
      href: stateUrl({ ...c.state, page, id: "", drill: "", drill_title: "" }, defaults),
      "aria-current": page === c.state.page ? "page" : null,
      onclick: (e) => {
        e.preventDefault();
        document.body.classList.remove("nav-open");
        setState({ page, id: "", drill: "", drill_title: "" });
      },
    }, c.t(page))))));
}

function showBanner(message) {
  els.banner.hidden = !message;
  els.banner.textContent = message || "";
}

const drill = new DrillPanel(document.getElementById("panel"), {
  get t() { return ctx.t; }, get fmt() { return ctx.fmt; }, get currency() { return ctx.currency; },
  openDrill: (...a) => ctx.openDrill(...a), closeDrill: () => ctx.closeDrill(),
  openDeal: (id) => ctx.openDeal(id), dealHref: (id) => ctx.dealHref(id),
  keepLink: (link) => history.replaceState(null, "", stateUrl({ ...readState(defaults), drill: link }, defaults)),
});

async function render({ quiet = false } = {}) {
  const seq = ++renderSeq;
  const search = location.search;
  const state = readState(defaults);
  ctx = makeContext(state);
  document.documentElement.lang = ctx.lang;
  document.title = `${ctx.t(state.page)} · ${ctx.t("title")}`;
  els.lang.textContent = ctx.t("lang_other");
  els.menu.textContent = ctx.t("menu");
  renderNav(ctx);
  renderFilters(ctx);
  const page = state.page === "deal" ? deal : PAGES[state.page] || overview;
  const old = [...els.main.children];
  if (!quiet) {
    for (const el of old) disposeWithin(el);
    clear(els.main).append(h("p", { class: "muted", role: "status" }, ctx.t("loading")));
  }
  // The new page renders hidden beside the old one (charts need a laid-out box), then swaps.
  const next = h("div", { class: "page pending", "data-page": state.page });
  els.main.append(next);
  const errors = [];
  if (!validZone(state.tz)) errors.push(`${ctx.t("tz")}: ${state.tz}`);
  try {
    await page(next, ctx);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    errors.push(`${ctx.t("error")}: ${error.message}`);
  }
  if (seq !== renderSeq) { // a newer render started meanwhile
    disposeWithin(next);
    next.remove();
    return;
  }
  showBanner(errors.join(" · "));
  for (const el of [...els.main.children]) {
    if (el === next) continue;
    disposeWithin(el);
    el.remove();
  }
  next.classList.remove("pending");
  if (state.drill) {
    if (!drill.open || drill.link !== state.drill || quiet) await drill.show(state.drill, state.drill_title);
  } else if (drill.open) {
    drill.hide();
  }
  document.body.dataset.renderedFor = search; // lets a test wait for this very view
  document.body.dataset.rendered = String(seq);
  if (seq === 1) performance.mark("dashboard-rendered"); // first meaningful paint, measured
  document.body.dataset.renderedAt = String(Date.now());
}

// Live: the analytics service pushes an event whenever a projection batch lands (live.js
// says when the page then refreshes; a user's own change still replaces a refresh in flight).
const refreshSoon = liveRefresher(() => render({ quiet: true }));

function connectLive() {
  const source = new EventSource("/v1/live");
  source.addEventListener("projection", refreshSoon);
  source.addEventListener("open", () => {
    els.status.dataset.state = "live";
    els.status.textContent = ctx ? ctx.t("live") : "";
  });
  source.addEventListener("error", () => {
    els.status.dataset.state = "offline";
    els.status.textContent = ctx ? ctx.t("offline") : "";
  });
}

async function start() {
  els.lang.addEventListener("click", () => {
    const current = readState(defaults).lang;
    setState({ lang: LANGS[(LANGS.indexOf(current) + 1) % LANGS.length] }, { replace: true });
  });
  els.menu.addEventListener("click", () => document.body.classList.toggle("nav-open"));
  addEventListener("popstate", () => render());
  // The filter lists arrive beside the first page, not before it.
  const lists = getJSON("/v1/dimensions").then((found) => {
    dims = found;
    if (ctx) renderFilters(ctx);
  }).catch((error) => showBanner(error.message));
  await render();
  await lists;
  connectLive();
}

start();
