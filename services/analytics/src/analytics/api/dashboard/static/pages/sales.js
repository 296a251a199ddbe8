// The sales team: managers against their plans, and the weighted pipeline of open deals.

import { chart, chartBox } from "../charts.js";
import { h } from "../dom.js";
import { renderTable } from "../table.js";
import { barLabel, clickDrill, emptyState, grid, heading, n } from "./common.js";

export async function managers(main, ctx) {
  heading(main, ctx);
  const data = await ctx.report("managers");
  const { t, fmt } = ctx;
  const rows = data.rows;
  if (!rows.length) return emptyState(main, ctx);
  if (data.forecast_note) main.append(h("p", { class: "muted", role: "note" }, `${t("no_forecast")}: ${data.forecast_note}`));
  const names = rows.map((r) => r.name || r.manager_id);
  const charts = grid(main, "grid two");
  const left = document.createElement("div");
  const right = document.createElement("div");
  charts.append(left, right);
  const money = [t("revenue"), t("plan"), t("forecast")];
  chart(chartBox(left, t("plan_vs_fact"), 300), {
    legend: { top: 0 },
    tooltip: { trigger: "axis", valueFormatter: fmt.money },
    xAxis: { type: "category", data: names, axisLabel: { interval: 0 } },
    yAxis: { type: "value", axisLabel: { formatter: (v) => fmt.num(v) } },
    series: [
      { name: money[0], type: "bar", data: rows.map((r) => n(r.revenue)) },
      { name: money[1], type: "bar", data: rows.map((r) => n(r.plan)), itemStyle: { color: "#c7cdd6" } },
      { name: money[2], type: "bar", data: rows.map((r) => (r.forecast === null ? null : n(r.forecast))), itemStyle: { color: "#f0a02b" } },
    ],
  }, clickDrill(ctx, rows, [(r) => r.drill_revenue], money), ctx);
  const tasks = [t("tasks_done"), t("tasks_overdue")];
  chart(chartBox(right, t("tasks"), 300), {
    legend: { top: 0 },
    xAxis: { type: "category", data: names, axisLabel: { interval: 0 } },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: tasks[0], type: "bar", stack: "tasks", data: rows.map((r) => r.tasks_done), label: barLabel(fmt.int) },
      { name: tasks[1], type: "bar", stack: "tasks", data: rows.map((r) => r.tasks_overdue), itemStyle: { color: "#d9534f" } },
    ],
  }, null, ctx);
  renderTable(main, {
    csvName: "managers",
    rowTitle: (r) => r.name || r.manager_id,
    columns: [
      { key: "name", label: t("manager"), header: true, get: (r) => r.name || r.manager_id },
      { key: "deals_opened", label: t("deals_opened"), type: "int", drill: (r) => r.drill },
      { key: "deals_won", label: t("deals_won"), type: "int", drill: (r) => r.drill_won },
      { key: "conversion", label: t("conversion"), type: "frac" },
      { key: "revenue", label: t("revenue"), type: "money", drill: (r) => r.drill_revenue },
      { key: "avg_cycle_days", label: t("avg_cycle_days"), type: "num", invert: true },
      { key: "tasks_done", label: t("tasks_done"), type: "int" },
      { key: "tasks_overdue", label: t("tasks_overdue"), type: "int", invert: true },
      { key: "activity_per_day", label: t("activity_per_day"), type: "num" },
      { key: "plan", label: t("plan"), type: "money" },
      { key: "forecast", label: t("forecast"), type: "money" },
      { key: "forecast_to_plan_pct", label: t("forecast_to_plan_pct"), type: "pct" },
    ],
    rows,
  }, ctx);
}

export async function weightedPipeline(main, ctx) {
  heading(main, ctx);
  const data = await ctx.report("weighted-pipeline");
  const { t, fmt } = ctx;
  const rows = data.rows;
  if (!rows.length) return emptyState(main, ctx);
  const titles = [t("amount"), t("weighted")];
  chart(chartBox(main, t("weighted-pipeline"), 320), {
    legend: { top: 0 },
    tooltip: { trigger: "axis", valueFormatter: fmt.money },
    xAxis: { type: "category", data: rows.map((r) => `${r.stage}\n${fmt.frac(r.probability)}`), axisLabel: { interval: 0 } },
    yAxis: { type: "value", axisLabel: { formatter: (v) => fmt.num(v) } },
    series: [
      { name: titles[0], type: "bar", data: rows.map((r) => n(r.amount)), itemStyle: { color: "#c7cdd6" } },
      { name: titles[1], type: "bar", data: rows.map((r) => n(r.weighted)) },
    ],
  }, clickDrill(ctx, rows, [(r) => r.drill, (r) => r.drill], titles), ctx);
  renderTable(main, {
    csvName: "weighted-pipeline",
    rowTitle: (r, total) => (total ? t("total") : r.stage),
    columns: [
      { key: "pipeline", label: t("pipeline") },
      { key: "stage", label: t("stage"), header: true },
      { key: "probability", label: t("probability"), type: "frac", compare: false },
      { key: "deals", label: t("deals"), type: "int", drill: (r, total) => (total ? data.drill_totals?.deals : r.drill) },
      { key: "amount", label: t("amount"), type: "money", drill: (r) => r.drill },
      { key: "weighted", label: t("weighted"), type: "money" },
    ],
    rows,
    totals: { pipeline: t("total"), ...data.totals },
  }, ctx);
}
