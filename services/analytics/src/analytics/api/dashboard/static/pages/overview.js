// The main screen: the vital figures as tiles (change and sparkline), revenue over the
// period and the lead funnel by channel.

import { chart, chartBox } from "../charts.js";
import { barLabel, clickDrill, grid, heading, n, tile } from "./common.js";

// Conversion lead → won, with its change computed like the API's (`delta_pct` in percent).
function conversion(totals) {
  const share = (s) => (n(s?.leads) ? n(s.won) / n(s.leads) : null);
  const now = share(totals);
  const row = { conversion: now };
  if (totals.previous) {
    const before = share(totals.previous);
    row.previous = { conversion: before };
    row.delta = { conversion: now !== null && before !== null ? now - before : null };
    row.delta_pct = { conversion: before ? ((now - before) / before) * 100 : null };
  }
  return row;
}

export async function overview(main, ctx) {
  heading(main, ctx);
  const { t, fmt } = ctx;
  const [dyn, leads, attr] = await Promise.all([
    ctx.report("dynamics", { bucket: "day" }),
    ctx.report("lead-funnel", { group_by: "channel" }),
    ctx.report("attribution", { model: "last_touch", group_by: "channel" }),
  ]);
  const d = dyn.totals;
  const l = leads.totals;
  const a = attr.totals;
  const perDay = (key) => dyn.rows.map((r) => n(r[key]));
  const leadLinks = leads.drill_totals || {};
  const revenueLinks = dyn.drill_rows || {};
  const conv = conversion(l);
  const tiles = grid(main, "tiles");
  const has = (key) => dyn.rows.length && key in dyn.rows[0];
  tile(tiles, ctx, { id: "leads", label: t("leads"), value: d.leads ?? l.leads, drill: d.drill_leads ?? leadLinks.leads, row: "leads" in d ? d : l, key: "leads", spark: has("leads") ? perDay("leads") : null });
  tile(tiles, ctx, { id: "deals", label: t("deals_opened"), value: d.deals_opened ?? l.deals, drill: d.drill_deals_opened ?? leadLinks.deals, row: "deals_opened" in d ? d : l, key: "deals_opened" in d ? "deals_opened" : "deals", spark: has("deals_opened") ? perDay("deals_opened") : null });
  tile(tiles, ctx, { id: "won", label: t("won"), value: d.won, drill: d.drill, row: d, key: "won", spark: perDay("won") });
  tile(tiles, ctx, { id: "revenue", label: t("revenue"), value: d.revenue, type: "money", drill: d.drill_revenue, row: d, key: "revenue", spark: perDay("revenue") });
  tile(tiles, ctx, { id: "average-check", label: t("average_check"), value: a.average_check, type: "money", row: a, key: "average_check" });
  tile(tiles, ctx, { id: "conversion", label: `${t("conversion")} (${t("conversion_to_won")})`, value: conv.conversion, type: "frac", row: conv, key: "conversion" });
  tile(tiles, ctx, { id: "romi", label: t("romi"), value: a.romi_pct, type: "pct", row: a, key: "romi_pct" });

  const charts = grid(main, "grid two");
  const left = document.createElement("div");
  const right = document.createElement("div");
  charts.append(left, right);
  const titles = [t("revenue"), t("won")];
  chart(chartBox(left, `${t("revenue")} · ${t("won")}`, 280), {
    legend: { top: 0 },
    xAxis: { type: "category", data: dyn.rows.map((r) => fmt.date(r.bucket)) },
    yAxis: [
      { type: "value", axisLabel: { formatter: (v) => fmt.num(v) } },
      { type: "value", minInterval: 1, splitLine: { show: false } },
    ],
    series: [
      { name: titles[0], type: "bar", data: perDay("revenue") },
      { name: titles[1], type: "line", yAxisIndex: 1, data: dyn.rows.map((r) => r.won) },
    ],
  }, clickDrill(ctx, dyn.rows, [(r) => revenueLinks[r.bucket]?.revenue, (r) => r.drill], titles), ctx);
  const rows = leads.rows;
  const keys = ["leads", "deals", "won"];
  const links = [(r) => r.drill, (r) => r.drill_deals, (r) => r.drill_won];
  chart(chartBox(right, `${t("lead-funnel")} · ${t("channel")}`, 280), {
    legend: { top: 0 },
    xAxis: { type: "category", data: rows.map((r) => r.channel), axisLabel: { interval: 0 } },
    yAxis: { type: "value", minInterval: 1 },
    series: keys.map((key) => ({ name: t(key), type: "bar", data: rows.map((r) => r[key]), label: barLabel(fmt.int) })),
  }, clickDrill(ctx, rows, links, keys.map(t)), ctx);
}
