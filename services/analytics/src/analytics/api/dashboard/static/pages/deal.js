// One deal as analytics knows it: stages with their durations, amount changes, payments,
// tasks and touches. Contacts never reach analytics, so there are none to show.

import { getJSON } from "../api.js";
import { chart, chartBox } from "../charts.js";
import { h } from "../dom.js";
import { typeOf } from "../drill.js";
import { renderTable } from "../table.js";
import { heading } from "./common.js";

// The card's lists in reading order, with their headings.
const SECTIONS = { stages: "timeline", amounts: "amount_changes", invoices: "invoices",
  payments: "payments", tasks: "tasks", touches: "touches" };
const CARD = ["title", "pipeline_id", "stage", "status", "manager_id", "amount", "paid_total",
  "opened_at", "closed_at", "lost_reason", "client_id", "lead_id"];

export async function deal(main, ctx) {
  const { t, fmt } = ctx;
  const id = ctx.state.id || "";
  const data = await getJSON(`/v1/drill/deals/${encodeURIComponent(id)}`);
  const d = data.deal;
  heading(main, ctx, d.title || id);
  const money = (v) => (d.currency && d.currency !== ctx.currency ? `${fmt.num(v)} ${d.currency}` : fmt.money(v));
  main.append(h("dl", { class: "card" }, CARD.filter((k) => k in d).map((key) => [
    h("dt", {}, t(key === "title" ? "title_col" : key)),
    h("dd", {}, typeOf(key) === "money" ? money(d[key]) : fmt[typeOf(key)](d[key])),
  ])));
  const stays = data.stages || [];
  if (stays.length) {
    chart(chartBox(main, t("timeline"), 60 + stays.length * 30), {
      tooltip: { trigger: "item", formatter: (p) => `${p.name}: ${fmt.duration(p.value)}` },
      xAxis: { type: "value", axisLabel: { formatter: (v) => fmt.duration(v) } },
      yAxis: { type: "category", inverse: true, data: stays.map((s) => s.stage) },
      series: [{ type: "bar", data: stays.map((s) => s.duration_seconds ?? 0), label: { show: true, position: "right", formatter: (p) => fmt.duration(p.value) } }],
    }, null, ctx);
  }
  for (const [section, title] of Object.entries(SECTIONS)) {
    const rows = data[section] || [];
    if (!rows.length) continue;
    // Amounts in the base currency read as money; others as numbers beside their currency.
    const base = rows.every((r) => !r.currency || r.currency === ctx.currency);
    const keys = Object.keys(rows[0]).filter((k) => k !== "deal_id" && !(base && k === "currency"));
    const kind = (key) => (typeOf(key) === "money" && !base ? "num" : typeOf(key));
    renderTable(main, {
      title: t(title),
      csvName: `deal-${id.slice(0, 8)}-${section}`,
      columns: keys.map((key) => ({
        key, label: t(key === "title" ? "title_col" : key), type: kind(key), compare: false,
        get: (r) => (Array.isArray(r[key]) ? r[key].join(", ") : r[key]),
      })),
      rows,
    }, ctx);
  }
  main.append(h("p", {}, h("a", { href: ctx.backHref(), onclick: (e) => { e.preventDefault(); history.back(); } }, `← ${t("back")}`)));
}
