// Revenue over time, deal amounts, repeat sales, the active client base, ABC and cohorts,
// client profitability.

import { chart, chartBox } from "../charts.js";
import { CHUNK_ROWS, renderTable, reportPages } from "../table.js";
import { barLabel, clickDrill, emptyState, grid, heading, n, switcher, tile } from "./common.js";

export async function dynamics(main, ctx) {
  heading(main, ctx);
  const bucket = switcher(main, ctx, "bucket", ["day", "week", "month"], "day");
  const data = await ctx.report("dynamics", { bucket });
  const { t, fmt } = ctx;
  const revenueLinks = data.drill_rows || {};
  const rows = data.rows.map((r) => ({ ...r, drill_revenue: revenueLinks[r.bucket]?.revenue }));
  if (!n(data.totals.revenue) && !n(data.totals.won)) return emptyState(main, ctx);
  // The compare period as its own series, bucket by bucket (its dates differ, so the API's
  // per-row previous values cannot be matched by date).
  let earlier = [];
  if (data.comparison) {
    const previous = await ctx.report("dynamics", {
      bucket, from: data.comparison.from, to: data.comparison.to, compare: "",
    });
    earlier = previous.rows;
  }
  const titles = [t("revenue"), t("won"), `${t("revenue")} · ${t("previous")}`, `${t("won")} · ${t("previous")}`];
  const label = (b) => (bucket === "month" ? fmt.month(b.slice(0, 7)) : fmt.date(b));
  const series = [
    { name: titles[0], type: "bar", data: rows.map((r) => n(r.revenue)) },
    { name: titles[1], type: "line", yAxisIndex: 1, data: rows.map((r) => r.won), symbolSize: 7 },
  ];
  if (earlier.length) {
    series.push(
      { name: titles[2], type: "line", data: rows.map((_, i) => n(earlier[i]?.revenue)), lineStyle: { type: "dashed" }, itemStyle: { color: "#8a8f98" } },
      { name: titles[3], type: "line", yAxisIndex: 1, data: rows.map((_, i) => earlier[i]?.won ?? 0), lineStyle: { type: "dotted" }, itemStyle: { color: "#b9bec6" } },
    );
  }
  chart(chartBox(main, `${t("revenue")} · ${t("won")}`, 340), {
    legend: { top: 0 },
    xAxis: { type: "category", data: rows.map((r) => label(r.bucket)) },
    yAxis: [
      { type: "value", axisLabel: { formatter: (v) => fmt.num(v) } },
      { type: "value", minInterval: 1, splitLine: { show: false } },
    ],
    series,
  }, clickDrill(ctx, rows, [(r) => r.drill_revenue, (r) => r.drill], titles), ctx);

  renderTable(main, {
    csvName: `dynamics-${bucket}`,
    rowTitle: (r, total) => (total ? t("total") : label(r.bucket)),
    columns: [
      { key: "bucket", label: t("bucket_col"), header: true, get: (r) => (r.bucket ? label(r.bucket) : t("total")) },
      { key: "revenue", label: t("revenue"), type: "money", drill: (r) => r.drill_revenue },
      { key: "payments", label: t("payments"), type: "int" },
      { key: "won", label: t("won"), type: "int", drill: (r) => r.drill },
      { key: "won_amount", label: t("won_amount"), type: "money", drill: (r) => r.drill },
    ],
    rows,
    totals: data.totals,
  }, ctx);
}

export async function amountDistribution(main, ctx) {
  heading(main, ctx);
  const data = await ctx.report("amount-distribution", { edges: ctx.state.edges });
  const { t, fmt } = ctx;
  const rows = data.rows;
  if (!data.totals.some((b) => b.deals)) return emptyState(main, ctx);
  const buckets = data.totals.map((b) => b.bucket);
  const cellLink = (row, i) => (row === totals ? data.totals[i].drill : data.drill_rows?.[row.month]?.[buckets[i]]);
  chart(chartBox(main, t("amount-distribution"), 340), {
    legend: { top: 0 },
    xAxis: { type: "category", data: rows.map((r) => fmt.month(r.month)) },
    yAxis: { type: "value", minInterval: 1 },
    series: buckets.map((bucket, i) => ({
      name: bucket, type: "bar", stack: "deals", data: rows.map((r) => r.buckets[i].deals),
      label: { show: true, formatter: (p) => (p.value ? fmt.int(p.value) : "") },
    })),
  }, (p) => {
    const link = cellLink(rows[p.dataIndex], p.seriesIndex);
    if (link) ctx.openDrill(link, `${p.seriesName}: ${p.name}`, p.value);
  }, ctx);
  const totals = { month: t("total"), buckets: data.totals };
  renderTable(main, {
    csvName: "amount-distribution",
    rowTitle: (r) => (r.month === t("total") ? t("total") : fmt.month(r.month)),
    columns: [
      { key: "month", label: t("month"), header: true, get: (r) => (r === totals ? t("total") : fmt.month(r.month)) },
      ...buckets.map((bucket, i) => ({
        key: bucket, label: bucket, type: "int", get: (r) => r.buckets[i].deals,
        drill: (r) => cellLink(r, i),
      })),
    ],
    rows,
    totals,
  }, ctx);
}

export async function repeatSales(main, ctx) {
  heading(main, ctx);
  const data = await ctx.report("repeat-sales");
  const s = data.totals;
  if (!s.won_deals) return emptyState(main, ctx);
  const tiles = grid(main, "tiles");
  const specs = [
    ["won_deals", "int", s.drill], ["repeat_deals", "int", s.drill_repeat_deals],
    ["repeat_deal_share", "frac"], ["clients_with_won_deal", "int", s.drill_clients],
    ["repeat_clients", "int", s.drill_repeat_clients], ["repeat_client_share", "frac"],
  ];
  for (const [key, type, drill] of specs) {
    tile(tiles, ctx, { id: key, label: ctx.t(key), value: s[key], type, drill, row: s, key });
  }
}

export async function activeClients(main, ctx) {
  heading(main, ctx);
  const data = await ctx.report("active-clients", { limit: CHUNK_ROWS });
  const { t } = ctx;
  const s = data.totals;
  if (!s.active_clients && !s.active_clients_previous_period) return emptyState(main, ctx);
  const tiles = grid(main, "tiles");
  tile(tiles, ctx, { id: "active", label: t("active_clients"), value: s.active_clients, drill: s.drill, row: s, key: "active_clients" });
  tile(tiles, ctx, { id: "active-before", label: t("active_clients_previous_period"), value: s.active_clients_previous_period, drill: s.drill_previous });
  tile(tiles, ctx, { id: "win-back", label: t("win_back"), value: s.win_back, drill: s.drill_win_back, row: s, key: "win_back", invert: true });
  renderTable(main, {
    title: t("win_back_list"),
    csvName: "win-back",
    rowTitle: (r) => r.client_id,
    columns: [
      { key: "client_id", label: t("client"), header: true },
      { key: "revenue_previous_period", label: t("revenue_previous_period"), type: "money", drill: (r) => r.drill },
      { key: "last_paid_at", label: t("last_paid_at"), type: "datetime" },
    ],
    rows: data.win_back,
    total: data.page.total,
    fetchPage: reportPages(ctx, "active-clients", "win_back"),
  }, ctx);
}

export async function abc(main, ctx) {
  heading(main, ctx);
  const data = await ctx.report("abc", { limit: CHUNK_ROWS });
  const { t, fmt } = ctx;
  if (!data.totals.clients) return emptyState(main, ctx);
  const classes = data.classes;
  const titles = [t("clients"), t("revenue")];
  chart(chartBox(main, t("class_share"), 280), {
    legend: { top: 0 },
    xAxis: { type: "category", data: classes.map((c) => c.key) },
    yAxis: [{ type: "value", minInterval: 1 }, { type: "value", splitLine: { show: false }, axisLabel: { formatter: (v) => fmt.num(v) } }],
    series: [
      { name: titles[0], type: "bar", data: classes.map((c) => c.clients), label: barLabel(fmt.int) },
      { name: titles[1], type: "bar", yAxisIndex: 1, data: classes.map((c) => n(c.revenue)) },
    ],
  }, clickDrill(ctx, classes, [(c) => c.drill], titles), ctx);
  renderTable(main, {
    csvName: "abc",
    rowTitle: (r) => r.client_id,
    columns: [
      { key: "rank", label: t("rank"), type: "int", compare: false },
      { key: "client_id", label: t("client"), header: true },
      { key: "revenue", label: t("revenue"), type: "money", drill: (r) => r.drill },
      { key: "share_before_pct", label: t("share_before_pct"), type: "pct", compare: false },
      { key: "class", label: t("class") },
    ],
    rows: data.rows,
    total: data.page.total,
    fetchPage: reportPages(ctx, "abc", "rows"),
  }, ctx);
}

export async function cohorts(main, ctx) {
  heading(main, ctx);
  const data = await ctx.report("cohorts");
  const { t, fmt } = ctx;
  const rows = data.rows;
  if (!rows.length) return emptyState(main, ctx);
  const months = Math.max(0, ...rows.map((r) => r.retention.length));
  const cells = [];
  rows.forEach((r, y) => {
    cells.push([0, y, 1, r.clients, r.drill]);
    r.retention.forEach((c) => cells.push([c.month, y, c.share ?? 0, c.clients, r.drill_retention?.[String(c.month)]]));
  });
  chart(chartBox(main, t("retention"), Math.max(220, 60 + rows.length * 36)), {
    tooltip: { trigger: "item", formatter: (p) => `${fmt.month(rows[p.value[1]].cohort)} · ${t("month_n")}${p.value[0]}: ${fmt.frac(p.value[2])} (${fmt.int(p.value[3])})` },
    grid: { left: 8, right: 16, top: 16, bottom: 48, containLabel: true },
    xAxis: { type: "category", data: Array.from({ length: months + 1 }, (_, i) => `${t("month_n")}${i}`) },
    yAxis: { type: "category", inverse: true, data: rows.map((r) => fmt.month(r.cohort)) },
    visualMap: { min: 0, max: 1, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120, formatter: (v) => fmt.frac(v) },
    series: [{
      type: "heatmap", data: cells.map((c) => c.slice(0, 4)),
      label: { show: true, formatter: (p) => fmt.frac(p.value[2]) },
    }],
  }, (p) => {
    const cell = cells[p.dataIndex];
    if (cell?.[4]) ctx.openDrill(cell[4], `${t("cohort")} ${rows[cell[1]].cohort} · ${t("month_n")}${cell[0]}`, cell[3]);
  }, ctx);
  renderTable(main, {
    csvName: "cohorts",
    rowTitle: (r) => r.cohort,
    columns: [
      { key: "cohort", label: t("cohort"), header: true, get: (r) => fmt.month(r.cohort) },
      { key: "clients", label: t("clients"), type: "int", drill: (r) => r.drill },
      ...Array.from({ length: months }, (_, i) => ({
        key: `m${i + 1}`, label: `${t("month_n")}${i + 1}`, type: "int",
        get: (r) => r.retention[i]?.clients, drill: (r) => r.drill_retention?.[String(i + 1)],
      })),
    ],
    rows,
  }, ctx);
}

export async function clientProfitability(main, ctx) {
  heading(main, ctx);
  // The list's first chunk: its first 20 rows, the largest margins, are also the chart's.
  const data = await ctx.report("client-profitability", { limit: CHUNK_ROWS });
  const { t, fmt } = ctx;
  const rows = data.rows;
  if (!rows.length) return emptyState(main, ctx);
  const top = rows.slice(0, 20);
  const titles = [t("revenue"), t("cost"), t("margin")];
  chart(chartBox(main, t("top_clients"), 320), {
    legend: { top: 0 },
    tooltip: { trigger: "axis", valueFormatter: fmt.money },
    xAxis: { type: "category", data: top.map((r) => r.client_id.slice(0, 8)), axisLabel: { rotate: 30 } },
    yAxis: { type: "value", axisLabel: { formatter: (v) => fmt.num(v) } },
    series: ["revenue", "cost", "margin"].map((key, i) => ({ name: titles[i], type: "bar", data: top.map((r) => n(r[key])) })),
  }, clickDrill(ctx, top, [(r) => r.drill, (r) => r.drill, (r) => r.drill], titles), ctx);
  renderTable(main, {
    csvName: "client-profitability",
    rowTitle: (r, total) => (total ? t("total") : r.client_id),
    columns: [
      { key: "client_id", label: t("client"), header: true },
      { key: "revenue", label: t("revenue"), type: "money", drill: (r) => r.drill },
      { key: "cost", label: t("cost"), type: "money", invert: true },
      { key: "margin", label: t("margin"), type: "money" },
    ],
    rows,
    total: data.page.total,
    fetchPage: reportPages(ctx, "client-profitability", "rows"),
    totals: { client_id: t("total"), ...data.totals },
  }, ctx);
}
