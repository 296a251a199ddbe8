// The drill panel: the deals, leads or clients behind a number, paged and sorted by the API,
// exported to CSV by the API; a deal opens its own page.

import { getJSON, withParams } from "./api.js";
import { clear, h } from "./dom.js";

const PAGE = 50;
const MONEY = new Set(["amount", "cost", "paid_total", "revenue", "margin", "revenue_previous_period"]);
const INTS = new Set(["payments", "deals", "version", "won_deals"]);
const DURATIONS = new Set(["duration_seconds"]);
const HIDDEN = new Set(["currency"]);

export function typeOf(key) {
  if (MONEY.has(key)) return "money";
  if (INTS.has(key)) return "int";
  if (DURATIONS.has(key)) return "duration";
  if (key.endsWith("_at")) return "datetime";
  return "text";
}

// The deals with a payment in the same period and filters, of one client of a clients list.
const KEEP = ["from", "to", "tz", "pipeline", "manager", "channel", "source", "campaign"];
function clientDeals(url, clientId) {
  const query = new URLSearchParams({ basis: "paid", client: clientId });
  for (const key of KEEP) if (url.searchParams.get(key)) query.set(key, url.searchParams.get(key));
  return `/v1/drill/deals?${query}`;
}

export class DrillPanel {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.link = null;
    this.root.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.ctx.closeDrill();
    });
  }

  get open() {
    return !this.root.hidden;
  }

  async show(link, title) {
    this.link = link;
    this.title = title || this.title || "";
    this.root.hidden = false;
    document.body.classList.add("panel-open");
    await this.load();
  }

  // Another page or order of the same list: kept in the URL too, without a history entry.
  relink(link) {
    this.link = link;
    this.ctx.keepLink(link);
    this.load();
  }

  hide() {
    this.root.hidden = true;
    document.body.classList.remove("panel-open");
    clear(this.root);
  }

  async load() {
    const { t } = this.ctx;
    const link = this.link;
    const url = new URL(link, location.origin);
    if (!url.searchParams.get("limit")) url.searchParams.set("limit", PAGE);
    clear(this.root).append(this.header(null), h("p", { class: "muted" }, t("loading")));
    let data;
    try {
      data = await getJSON(url.pathname, url.searchParams);
    } catch (error) {
      clear(this.root).append(this.header(null), h("p", { class: "banner error", role: "alert" },
        `${t("error")}: ${error.message}`));
      return;
    }
    if (link !== this.link) return; // a newer drill replaced this one
    clear(this.root).append(this.header(data), this.list(url, data), this.pager(url, data));
    this.root.querySelector("h2")?.focus();
  }

  header(data) {
    const { t } = this.ctx;
    const csv = withParams(this.link, { format: "csv", limit: null, offset: null });
    const kind = new URL(this.link, location.origin).pathname.split("/").pop();
    return h("header", { class: "panel-head" },
      h("h2", { tabindex: "-1", id: "drill-title" }, this.title),
      data ? h("p", { class: "count" },
        h("strong", { "data-testid": "drill-total" }, this.ctx.fmt.int(data.total)), ` ${t(kind)}`)
        : null,
      h("div", { class: "panel-tools" },
        h("a", { class: "csv", href: csv, download: `${kind}.csv` }, `⤓ ${t("csv")}`),
        h("button", { type: "button", class: "close", onclick: () => this.ctx.closeDrill(),
          "aria-label": t("close") }, "✕")));
  }

  list(url, data) {
    const { t, fmt } = this.ctx;
    if (!data.rows.length) return h("p", { class: "empty" }, t("empty"));
    const keys = Object.keys(data.rows[0]).filter((k) => !HIDDEN.has(k) && k !== "drill");
    const sort = url.searchParams.get("sort") || "";
    const headCell = (key) => {
      const state = sort === key ? "ascending" : sort === `-${key}` ? "descending" : "none";
      const next = state === "ascending" ? `-${key}` : key;
      return h("th", { scope: "col", "aria-sort": state, class: typeOf(key) === "money" ? "n" : "" },
        h("button", { type: "button", class: "sort", onclick: () => {
          this.relink(withParams(this.link, { sort: next, offset: 0 }));
        } }, t(key === "title" ? "title_col" : key)));
    };
    const cell = (row, key) => {
      const kind = typeOf(key);
      const shown = kind === "money" ? this.money(row, row[key]) : fmt[kind](row[key]);
      if (key === "deal_id") {
        return h("td", {}, h("a", { href: this.ctx.dealHref(row.deal_id), class: "deal-link",
          onclick: (e) => { e.preventDefault(); this.ctx.openDeal(row.deal_id); } },
          row.deal_id.slice(0, 8)));
      }
      if (key === "client_id" && row.client_id && !url.pathname.endsWith("/deals")) {
        const label = `${t("client")} ${row.client_id.slice(0, 8)}`;
        return h("td", {}, h("button", { type: "button", class: "drill",
          onclick: () => this.ctx.openDrill(clientDeals(url, row.client_id), label) },
          row.client_id.slice(0, 8)));
      }
      const text = key.endsWith("_id") && shown.length > 12 ? shown.slice(0, 8) : shown;
      return h("td", { class: kind === "money" ? "n" : "", title: shown }, text);
    };
    return h("div", { class: "scroll" }, h("table", { class: "data drill-list" },
      h("thead", {}, h("tr", {}, keys.map(headCell))),
      h("tbody", {}, data.rows.map((row) => h("tr", {}, keys.map((k) => cell(row, k)))))));
  }

  // Deal amounts keep their own currency; everything else is in the base currency.
  money(row, value) {
    if (row.currency && row.currency !== this.ctx.currency) {
      return `${this.ctx.fmt.num(value)} ${row.currency}`;
    }
    return this.ctx.fmt.money(value);
  }

  pager(url, data) {
    const { t, fmt } = this.ctx;
    const offset = Number(url.searchParams.get("offset") || 0);
    const limit = Number(url.searchParams.get("limit") || PAGE);
    const go = (to) => this.relink(withParams(this.link, { offset: to, limit }));
    const last = Math.min(offset + limit, data.total);
    return h("nav", { class: "pager", "aria-label": "pages" },
      h("button", { type: "button", disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit)) },
        `‹ ${t("prev")}`),
      h("span", {}, `${fmt.int(data.total ? offset + 1 : 0)}–${fmt.int(last)} ${t("of")} ${fmt.int(data.total)}`),
      h("button", { type: "button", disabled: last >= data.total, onclick: () => go(offset + limit) },
        `${t("next")} ›`));
  }
}
