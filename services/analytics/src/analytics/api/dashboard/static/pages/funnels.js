// Sales funnel (deals opened in the period, stage by stage) and lead funnel by touch.

import { chart, chartBox } from "../charts.js";
import { renderTable } from "../table.js";
import { barLabel, clickDrill, emptyState, grid, heading, n, switcher } from "./common.js";

export async function salesFunnel(main, ctx) {
  const data = await ctx.report("sales-funnel");
  heading(main, ctx, `${ctx.t("pipeline")}: ${data.pipeline} · ${ctx.t("deals_opened")}: ${ctx.fmt.int(data.deals)}`);
  if (!data.deals) return emptyState(main, ctx);
  const { t, fmt } = ctx;
  const stages = data.stages;
  const box = chartBox(main, t("sales-funnel"), 340);
  box.dataset.testid = "funnel-chart";
  const titles = [t("reached"), t("current")];
  chart(box, {
    legend: { top: 0 },
    xAxis: {
      type: "category",
      data: stages.map((s) => s.stage),
      axisLabel: {
        interval: 0, lineHeight: 16,
        formatter: (name, i) => (i ? `${name}\n${fmt.frac(stages[i].conversion_prev)}` : name),
      },
    },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: titles[0], type: "bar", data: stages.map((s) => s.reached), label: barLabel(fmt.int) },
      { name: titles[1], type: "bar", data: stages.map((s) => s.current), label: barLabel(fmt.int) },
    ],
  }, clickDrill(ctx, stages, [(s) => s.drill, (s) => s.drill_current], titles), ctx);

  renderTable(main, {
    csvName: "sales-funnel",
    rowTitle: (s) => s.stage,
    columns: [
      { key: "stage", label: t("stage"), header: true },
      { key: "reached", label: t("reached"), type: "int", drill: (s) => s.drill },
      { key: "current", label: t("current"), type: "int", drill: (s) => s.drill_current },
      { key: "conversion_prev", label: t("conversion_prev"), type: "frac" },
      { key: "conversion_first", label: t("conversion_first"), type: "frac" },
      { key: "amount", label: t("amount"), type: "money", drill: (s) => s.drill },
      { key: "avg_duration_seconds", label: t("avg_duration"), type: "duration", invert: true },
    ],
    rows: stages,
  }, ctx);

  const lost = data.lost || { deals: 0, by_stage: [], by_reason: [] };
  if (!lost.deals) return;
  const sides = grid(main, "grid two");
  for (const [rows, key, title, links] of [
    [lost.by_stage, "stage", t("lost_by_stage"), lost.drill_by_stage || {}],
    [lost.by_reason, "reason", t("lost_by_reason"), lost.drill_by_reason || {}],
  ]) {
    const linkOf = (r) => links[r[key]];
    const cell = document.createElement("div");
    sides.append(cell);
    chart(chartBox(cell, `${title} (${fmt.int(lost.deals)})`, 220), {
      xAxis: { type: "category", data: rows.map((r) => r[key]), axisLabel: { interval: 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: t("lost"), type: "bar", data: rows.map((r) => r.deals), label: barLabel(fmt.int), itemStyle: { color: "#d9534f" } }],
    }, clickDrill(ctx, rows, [linkOf], [title]), ctx);
    renderTable(cell, {
      csvName: `lost-by-${key}`,
      rowTitle: (r) => r[key],
      columns: [
        { key, label: t(key), header: true },
        { key: "deals", label: t("lost"), type: "int", drill: (r, total) => (total ? lost.drill : linkOf(r)) },
      ],
      rows,
      totals: { [key]: t("total"), deals: lost.deals },
    }, ctx);
  }
}

export async function leadFunnel(main, ctx) {
  heading(main, ctx);
  const groupBy = switcher(main, ctx, "group_by", ["channel", "source", "campaign"], "channel");
  const data = await ctx.report("lead-funnel", { group_by: groupBy });
  if (!n(data.totals.leads)) return emptyState(main, ctx);
  const { t, fmt } = ctx;
  const rows = data.rows;
  const keys = ["leads", "deals", "won", "paid"];
  const links = [(r) => r.drill, (r) => r.drill_deals, (r) => r.drill_won, (r) => r.drill_paid];
  const titles = keys.map(t);
  chart(chartBox(main, t("leads_vs"), 320), {
    legend: { top: 0 },
    xAxis: { type: "category", data: rows.map((r) => r[groupBy] || "—"), axisLabel: { interval: 0 } },
    yAxis: { type: "value", minInterval: 1 },
    series: keys.map((key, i) => ({
      name: titles[i], type: "bar", data: rows.map((r) => r[key]), label: barLabel(fmt.int),
    })),
  }, clickDrill(ctx, rows, links, titles), ctx);

  const stageNames = (rows[0]?.stages || []).map((s) => s.stage);
  const totalLinks = data.drill_totals || {};
  renderTable(main, {
    csvName: `lead-funnel-${groupBy}`,
    rowTitle: (r, total) => (total ? t("total") : r[groupBy]),
    columns: [
      { key: groupBy, label: t(groupBy), header: true },
      ...keys.map((key, i) => ({
        key, label: titles[i], type: "int",
        drill: (r, total) => (total ? totalLinks[key] : links[i](r)),
      })),
      { key: "conversion_to_deal", label: t("conversion_to_deal"), type: "frac" },
      { key: "conversion_to_won", label: t("conversion_to_won"), type: "frac" },
      ...stageNames.map((stage, i) => ({
        key: `stage_${stage}`, label: stage, type: "int",
        get: (r) => r.stages?.[i]?.reached,
        drill: (r) => r.stages?.[i]?.drill,
      })),
    ],
    rows,
    totals: { [groupBy]: t("total"), ...data.totals },
  }, ctx);
}
