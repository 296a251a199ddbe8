// A report table of exact figures: every linked number opens its drill list, headers sort,
// the compare period's change shows under each figure, and the table exports to CSV. A long
// list is drawn a page at a time. A client list (some 200 000 rows at 10 M events) comes
// from the server a chunk of pages at a time (`spec.fetchPage`, see `reportPages`): each
// chunk costs the server a ranking of the whole list (about a second at 10 M events), so the
// pages within a chunk turn at once, the next chunk is asked for while the reader is on the
// chunk's last page, and a sort asks the server anew; the CSV fetches every row.

import { downloadCsv, h } from "./dom.js";

const NUMERIC = new Set(["int", "num", "money", "frac", "pct", "days", "duration"]);
export const PAGE_ROWS = 200;
export const CHUNK_ROWS = 1000; // a whole number of pages: a page never spans two chunks
const CHUNKS_HELD = 5; // of one order, the least recently drawn dropped first

// `fetchPage` of a report's client list (`key`: the list's field in the answer): `limit`
// rows from `offset` in the `sort` order (null: every row) → { rows, total }.
export function reportPages(ctx, name, key) {
  return async (offset, sort, limit = CHUNK_ROWS) => {
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
  const remote = spec.fetchPage; // the server pages and sorts the list; `rows`: its first chunk
  let rows = [...spec.rows]; // every row, or the chunk the drawn page lies in (from `start`)
  let start = 0;
  let total = remote ? spec.total : rows.length;
  let sortKey = null;
  let descending = false;
  let offset = 0; // the first row drawn
  let asked = 0; // the latest page asked for: an older answer is dropped
  // The server's chunks of the current order: first row → promise of { rows, total }.
  const held = new Map(remote ? [[0, Promise.resolve({ rows, total })]] : []);
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
  // The chunk from `first` of the current order: held, or asked of the server now.
  const chunk = (first) => {
    let got = held.get(first);
    if (!got) {
      got = remote(first, sortParam(), CHUNK_ROWS);
      got.catch(() => held.delete(first)); // asked again next time
    }
    held.delete(first); // re-set: the most recently used last
    held.set(first, got);
    while (held.size > CHUNKS_HELD) held.delete(held.keys().next().value);
    return got;
  };
  const load = async (to) => {
    const mine = ++asked;
    const first = to - (to % CHUNK_ROWS);
    try {
      const got = await chunk(first);
      if (mine !== asked) return;
      rows = got.rows;
      total = got.total;
      start = first;
      offset = to;
      draw();
      // On a chunk's last page, the next chunk is asked for before the reader turns to it.
      const next = first + CHUNK_ROWS;
      if (offset + PAGE_ROWS >= next && next < total) chunk(next).catch(() => {});
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
    const page = rows.slice(offset - start, offset - start + PAGE_ROWS);
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
    if (remote) {
      held.clear(); // the new order from its first row, as the server sorts it
      return load(0);
    }
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
