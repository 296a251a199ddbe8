// What every page uses: headings, switches, tiles, the empty state, money-aware columns.

import { sparkline } from "../charts.js";
import { h } from "../dom.js";
import { deltaBadge, drillButton } from "../table.js";

export function heading(main, ctx, subtitle) {
  main.append(h("div", { class: "page-head" }, h("h1", {}, ctx.t(ctx.state.page)),
    subtitle ? h("p", { class: "muted" }, subtitle) : null));
}

// A row of toggle buttons bound to one state key (model, group_by, bucket, …).
export function switcher(main, ctx, key, options, fallback) {
  const current = ctx.state[key] || fallback;
  const group = h("div", { class: "switch", role: "group", "aria-label": ctx.t(key) },
    h("span", { class: "switch-label" }, `${ctx.t(key)}:`),
    options.map((option) => h("button", {
      type: "button", "aria-pressed": String(option === current),
      onclick: () => ctx.setState({ [key]: option }),
    }, ctx.t(option))));
  main.append(group);
  return current;
}

export function grid(main, cls = "grid") {
  const el = h("div", { class: cls });
  main.append(el);
  return el;
}

// A figure tile: the value, its change against the compare period, a sparkline.
export function tile(parent, ctx, spec) {
  const shown = ctx.fmt[spec.type || "int"](spec.value);
  const value = drillButton(shown, spec.drill, spec.label, spec.value, ctx);
  const spark = spec.spark ? h("div", { class: "spark", "aria-hidden": "true" }) : null;
  const el = h("article", { class: "tile", "data-testid": `tile-${spec.id}` },
    h("h3", {}, spec.label), h("div", { class: "tile-value" }, value),
    spec.row ? deltaBadge(spec.row, spec.key, ctx, spec.invert, spec.type || "int") : null, spark);
  parent.append(el);
  if (spark && spec.spark.some((v) => v)) sparkline(spark, spec.spark, ctx);
  return el;
}

export function emptyState(main, ctx) {
  main.append(h("div", { class: "empty-state", role: "status" }, h("strong", {}, ctx.t("empty")),
    h("p", {}, ctx.t("emptyHint"))));
}

export const n = (v) => Number(v) || 0;

// A category bar chart's click → the drill link of that category's row and series.
export function clickDrill(ctx, rows, links, titles) {
  return (params) => {
    const row = rows[params.dataIndex];
    const link = row && links[params.seriesIndex] && links[params.seriesIndex](row);
    if (link) ctx.openDrill(link, `${titles[params.seriesIndex]}: ${params.name}`, params.value);
  };
}

export function barLabel(formatter) {
  return { show: true, position: "top", formatter: (p) => formatter(p.value) };
}
