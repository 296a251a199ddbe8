// Attribution: credit over each deal's path of touches under one of six models, with spend.

import { chart, chartBox } from "../charts.js";
import { renderTable } from "../table.js";
import { clickDrill, emptyState, heading, n, switcher } from "./common.js";

export const MODELS = [
  "first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay",
];

export async function attribution(main, ctx) {
  heading(main, ctx);
  const model = switcher(main, ctx, "model", MODELS, "last_touch");
  const groupBy = switcher(main, ctx, "group_by", ["channel", "source", "campaign"], "channel");
  const data = await ctx.report("attribution", { model, group_by: groupBy });
  const { t, fmt } = ctx;
  const rows = data.rows;
  if (!n(data.totals.leads) && !n(data.totals.spend) && !n(data.totals.revenue)) {
    return emptyState(main, ctx);
  }
  const titles = [t("revenue"), t("spend")];
  chart(chartBox(main, t("revenue_vs_spend"), 320), {
    legend: { top: 0 },
    tooltip: { trigger: "axis", valueFormatter: fmt.money },
    xAxis: { type: "category", data: rows.map((r) => r[groupBy] || "—"), axisLabel: { interval: 0 } },
    yAxis: { type: "value", axisLabel: { formatter: (v) => fmt.num(v) } },
    series: [
      { name: titles[0], type: "bar", data: rows.map((r) => n(r.revenue)) },
      { name: titles[1], type: "bar", data: rows.map((r) => n(r.spend)), itemStyle: { color: "#d9534f" } },
    ],
  }, clickDrill(ctx, rows, [(r) => r.drill_revenue], titles), ctx);

  renderTable(main, {
    csvName: `attribution-${model}-${groupBy}`,
    rowTitle: (r, total) => (total ? t("total") : r[groupBy]),
    columns: [
      { key: groupBy, label: t(groupBy), header: true },
      { key: "leads", label: t("leads"), type: "int", drill: (r) => r.drill },
      { key: "deals", label: t("deals"), type: "int", drill: (r) => r.drill_opened },
      // credited: the list holds the won deals whose path credits the group
      { key: "won", label: t("won"), type: "num", drill: (r) => r.drill_deals },
      { key: "revenue", label: t("revenue"), type: "money", drill: (r) => r.drill_revenue },
      { key: "spend", label: t("spend"), type: "money", invert: true },
      { key: "cpl", label: t("cpl"), type: "money", invert: true },
      { key: "cpo", label: t("cpo"), type: "money", invert: true },
      { key: "romi_pct", label: t("romi_pct"), type: "pct" },
      { key: "drr_pct", label: t("drr_pct"), type: "pct", invert: true },
      { key: "average_check", label: t("average_check"), type: "money" },
    ],
    rows,
    totals: { [groupBy]: t("total"), ...data.totals },
  }, ctx);
}
