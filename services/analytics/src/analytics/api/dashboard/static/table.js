// A report table of exact figures: every linked number opens its drill list, headers sort,
// the compare period's change shows under each figure, and the table exports to CSV. A long
// list is drawn a page at a time. A client list (some 200 000 rows at 10 M events) comes
// from the server a page at a time (`spec.fetchPage`, see `reportPages`): its sort and pages
// are asked of the server, and its CSV fetches every row.

import { downloadCsv, h } from "./dom.js";

const NUMERIC = new Set(["int", "num", "money", "frac", "pct", "days", "duration"]);
export const PAGE_ROWS = 200;

// `fetchPage` of a report's client list (`key`: the list's field in the answer): `limit`
// rows from `offset` in the `sort` order (null: every row) → { rows, total }.
export function reportPages(ctx, name, key) {
  return async (offset, sort, limit = PAGE_ROWS) => {
    const data = await ctx.report(name, { limit, offset: offset || null, sort });
    return { rows: data[key], total: data.page ? data.page.total : data[key].length };
  };
}

function value(row, column) {
  return column.get ? column.get(row) : row[column.key];
}

// The change against the compare period, coloured by direction.
export function deltaBadge(row, key, ctx, invert = false, type = "num") {
  const pct = row?.delta_pct?.[key];
  const delta = row?.delta?.[key];
  if (delta === undefined || delta === null) return null;
  const n = Number(delta);
  if (n === 0) return h("span", { class: "delta flat", title: ctx.t("previous") }, "");
  const good = invert ? n < 0 : n > 0;
  const cls = n === 0 ? "flat" : good ? "up" : "down";
  const arrow = n === 0 ? "=" : n > 0 ? "▲" : "▼";
  // the change in percent where the previous value was not zero, else the change itself
  const shown = pct === null || pct === undefined
    ? (ctx.fmt[type] || ctx.fmt.num)(Math.abs(n))
    : ctx.fmt.pct(Math.abs(pct));
  const text = n === 0 ? "" : shown;
  const title = `${ctx.t("previous")}: ${(ctx.fmt[type] || ctx.fmt.num)(row.previous?.[key])}`;
  return h("span", { class: `delta ${cls}`, title }, `${arrow} ${text}`.trim());
}

export function drillButton(label, link, title, expected, ctx) {
  if (!link) return label;
  return h(
    "button",
    {
      type: "button", class: "drill", title: `${title}`,
      dataset: { drill: link, expected: expected ?? "" },
      onclick: () => ctx.openDrill(link, title, expected),
    },
    label,
  );
}

export function renderTable(parent, spec, ctx) {
  const { columns, csvName } = spec;
  const remote = spec.fetchPage; // the server pages and sorts the list; `rows` is its first page
  let rows = [...spec.rows];
  let total = remote ? spec.total : rows.length;
  let sortKey = null;
  let descending = false;
  let offset = 0; // the first row drawn
  let asked = 0; // the latest page asked of the server: an older answer is dropped
  const body = h("tbody");
  const pager = h("nav", { class: "pager", "aria-label": "pages" });
  const foot = spec.totals ? h("tfoot") : null;

  const cells = (row, isTotal) =>
    columns.map((column) => {
      const raw = value(row, column);
      const shown = (ctx.fmt[column.type || "text"] || ctx.fmt.text)(raw);
      const link = column.drill ? column.drill(row, isTotal) : null;
      const title = `${column.label}: ${spec.rowTitle ? spec.rowTitle(row, isTotal) : ""}`;
      const content = drillButton(shown, link, title, raw, ctx);
      const delta = column.compare !== false && !column.get && NUMERIC.has(column.type)
        ? deltaBadge(row, column.key, ctx, column.invert, column.type)
        : null;
      const Tag = column.header ? "th" : "td";
      return h(Tag, { class: NUMERIC.has(column.type) ? "n" : "", scope: column.header ? "row" : null },
        content, delta);
    });

  const sortParam = () => (sortKey ? `${descending ? "-" : ""}${sortKey}` : null);
  const load = async (to) => {
    const mine = ++asked;
    try {
      const got = await remote(to, sortParam());
      if (mine !== asked) return;
      rows = got.rows;
      total = got.total;
      offset = to;
      draw();
    } catch (error) {
      if (mine === asked) pager.replaceChildren(h("span", { class: "error", role: "alert" }, error.message));
    }
  };
  const turnTo = (to) => {
    if (remote) return load(to);
    offset = to;
    draw();
  };
  const drawPager = () => {
    pager.hidden = total <= PAGE_ROWS;
    if (pager.hidden) return pager.replaceChildren();
    const { t, fmt } = ctx;
    const last = Math.min(offset + PAGE_ROWS, total);
    pager.replaceChildren(
      h("button", { type: "button", disabled: offset <= 0, onclick: () => turnTo(Math.max(0, offset - PAGE_ROWS)) },
        `‹ ${t("prev")}`),
      h("span", {}, `${fmt.int(offset + 1)}–${fmt.int(last)} ${t("of")} ${fmt.int(total)}`),
      h("button", { type: "button", disabled: last >= total, onclick: () => turnTo(offset + PAGE_ROWS) },
        `${t("next")} ›`));
  };
  const draw = () => {
    const page = remote ? rows : rows.slice(offset, offset + PAGE_ROWS);
    body.replaceChildren(...page.map((row) => h("tr", {}, cells(row, false))));
    if (foot) foot.replaceChildren(h("tr", { class: "total" }, cells(spec.totals, true)));
    drawPager();
  };
  const sortBy = (column) => {
    descending = sortKey === column.key ? !descending : NUMERIC.has(column.type);
    sortKey = column.key;
    head.querySelectorAll("th").forEach((th, i) => {
      th.setAttribute("aria-sort", columns[i].key === sortKey
        ? (descending ? "descending" : "ascending") : "none");
    });
    if (remote) return load(0); // the new order from its first row, as the server sorts it
    const sign = descending ? -1 : 1;
    rows = [...rows].sort((a, b) => {
      const x = value(a, column);
      const y = value(b, column);
      if (NUMERIC.has(column.type)) return sign * ((Number(x) || 0) - (Number(y) || 0));
      return sign * String(x ?? "").localeCompare(String(y ?? ""));
    });
    offset = 0;
    draw();
  };
  const head = h("tr", {}, columns.map((column) =>
    h("th", { scope: "col", class: NUMERIC.has(column.type) ? "n" : "", "aria-sort": "none" },
      h("button", { type: "button", class: "sort", onclick: () => sortBy(column) }, column.label))));

  const exportCsv = async () => {
    const header = columns.map((c) => c.label);
    const every = remote ? (await remote(0, sortParam(), null)).rows : rows;
    const data = [...every, ...(spec.totals ? [spec.totals] : [])].map((row) =>
      columns.map((c) => value(row, c)));
    downloadCsv(`${csvName || "report"}.csv`, header, data);
  };

  const table = h("table", { class: "data" },
    spec.caption ? h("caption", {}, spec.caption) : null, h("thead", {}, head), body, foot);
  draw();
  const tools = h("div", { class: "table-tools" },
    spec.title ? h("h3", {}, spec.title) : h("span"),
    h("button", { type: "button", class: "csv", onclick: exportCsv }, `⤓ ${ctx.t("csv")}`));
  const wrap = h("section", { class: "table-card" }, tools, h("div", { class: "scroll" }, table), pager);
  parent.append(wrap);
  return wrap;
}
