// Charts are Apache ECharts (served from the service, pinned by package-lock.json); this
// module only holds the instances, their locale and their click → drill wiring.

const live = new Set();
const PALETTE = ["#2f6fdf", "#25a870", "#f0a02b", "#d9534f", "#7a5cc7", "#2bb3c0", "#8a8f98"];

// Charts inside `root` (a page being replaced) free their canvases and observers.
export function disposeWithin(root) {
  for (const chart of live) {
    const dom = chart.getDom();
    if (root.contains(dom)) {
      observer.unobserve(dom);
      chart.dispose();
      live.delete(chart);
    }
  }
}

const observer = new ResizeObserver((entries) => {
  for (const entry of entries) window.echarts.getInstanceByDom(entry.target)?.resize();
});

// `onClick(params)` gets ECharts' click params; return nothing.
export function chart(el, option, onClick, ctx) {
  const instance = window.echarts.init(el, null, {
    renderer: "svg", locale: ctx.lang === "ru" ? "RU" : "EN",
  });
  instance.setOption({
    color: PALETTE,
    animationDuration: 300,
    textStyle: { fontFamily: "inherit" },
    tooltip: { trigger: "axis", confine: true },
    grid: { left: 8, right: 16, top: 36, bottom: 12, containLabel: true },
    ...option,
  });
  if (onClick) {
    instance.on("click", onClick);
    el.classList.add("clickable");
  }
  observer.observe(el);
  live.add(instance);
  return instance;
}

export function chartBox(parent, title, height = 320) {
  const figure = document.createElement("figure");
  figure.className = "chart";
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  const box = document.createElement("div");
  box.className = "chart-box";
  box.style.height = `${height}px`;
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", title);
  figure.append(caption, box);
  parent.append(figure);
  return box;
}

export function sparkline(el, values, ctx) {
  return chart(el, {
    grid: { left: 0, right: 0, top: 2, bottom: 2 },
    tooltip: { show: false },
    xAxis: { type: "category", show: false, data: values.map((_, i) => i) },
    yAxis: { type: "value", show: false, min: 0 },
    series: [{ type: "line", data: values, symbol: "none", smooth: true, areaStyle: { opacity: 0.15 } }],
    animation: false,
  }, null, ctx);
}
