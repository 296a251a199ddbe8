// The operators' live page: reads /v1/ops/status every few seconds and fills the sections;
// the dead-letter buttons call the ops API. Self-contained: no other module, no inline code.

// As often as the service scrapes (ANALYTICS_OPS_REFRESH_SECONDS), given by the page.
const REFRESH_MS = Math.max(1000, Number(document.body.dataset.refreshMs) || 4000);
const WORDS = {
  en: {},
  ru: {
    title: "Эксплуатация CRM", dashboard: "Дашборд", logout: "Выйти", services: "Сервисы",
    service: "Сервис", state: "Состояние", version: "Версия", uptime: "Работает",
    rate: "Запросов/с", p95: "p95", window: "Окно", projection: "Свежесть проекции",
    spool: "Очередь приёма", notification: "Уведомления", rebuild: "Перестройка",
    streams: "Потоки JetStream", stream: "Поток", messages: "Сообщений", bytes: "Байт",
    first: "Первое", last: "Последнее", consumers: "Потребители", consumer: "Потребитель",
    pending: "Ждут", ack_pending: "Без подтверждения", redelivered: "Повторно",
    oldest: "Старейшее необработанное", dlq: "Мёртвые письма", time: "Время",
    subject: "Тема", reason: "Причина", ready: "готов", not_ready: "не готов", down: "недоступен",
    inspect: "Открыть", replay: "Повторить", replay_all: "Повторить все", updated: "обновлено",
    offline: "нет связи", sent: "Отправлено за 24 ч", failed: "Ошибок за 24 ч",
    skipped: "Пропущено за 24 ч", reminders: "Напоминаний в ближайший час", unknown: "неизвестно",
    no_rebuild: "Перестроек не было", events_replayed: "событий", of: "из", eta: "осталось ≈",
    behind: "отставание", newest: "новейшее событие", leads_waiting: "лидов ждут NATS",
    empty: "пусто", collecting: "собираю…", replayed: "Повторено",
    confirm_replay_all: "Повторить все отложенные события этой темы (до 1000)?",
  },
};
const EN = {
  ready: "ready", not_ready: "not ready", down: "down", inspect: "Inspect", replay: "Replay",
  replay_all: "Replay all", updated: "updated", offline: "offline", sent: "Sent in 24 h",
  failed: "Failed in 24 h", skipped: "Skipped in 24 h", reminders: "Reminders due in the next hour",
  unknown: "unknown", no_rebuild: "No rebuild since the service started",
  events_replayed: "events", of: "of", eta: "about", behind: "behind",
  newest: "newest event", leads_waiting: "leads waiting for NATS", empty: "empty",
  collecting: "collecting…", replayed: "Replayed",
  confirm_replay_all: "Replay every parked event of this subject (up to 1000)?",
};
const lang = (new URLSearchParams(location.search).get("lang")
  || (navigator.language || "en")).slice(0, 2) === "ru" ? "ru" : "en";
const t = (key) => (WORDS[lang][key] ?? EN[key] ?? key);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const num = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString(lang));
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
const when = (iso) => (iso ? new Date(iso).toLocaleString(lang) : "—");
function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function section(id) {
  const root = document.getElementById(id);
  const error = root.querySelector(".error");
  return {
    root,
    fail(message) {
      error.hidden = false;
      error.textContent = message;
      root.dataset.state = "error";
    },
    ok() {
      error.hidden = true;
      error.textContent = "";
      root.dataset.state = "ok";
    },
  };
}

function rows(id, list, make) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...list.map(make));
  return body;
}

function renderServices(services) {
  const s = section("services");
  rows("services", services, (svc) => {
    const state = !svc.up ? ["bad", t("down")] : svc.ready ? ["ok", t("ready")] : ["warn", t("not_ready")];
    const title = svc.error || Object.entries(svc.checks || {}).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ");
    const pending = svc.window_seconds === null;
    return el("tr", { "data-service": svc.name },
      el("td", {}, svc.name),
      el("td", { class: state[0], title }, state[1]),
      el("td", {}, svc.version ?? "—"),
      el("td", {}, duration(svc.uptime_seconds)),
      el("td", { class: "num" }, pending ? t("collecting") : num(svc.request_rate)),
      el("td", { class: "num" }, num(svc.errors_4xx)),
      el("td", { class: `num${svc.errors_5xx ? " bad" : ""}` }, num(svc.errors_5xx)),
      el("td", { class: "num" }, svc.p95_ms === null ? "—" : `${num(svc.p95_ms)} ms`),
      el("td", { class: "num muted" }, pending ? "—" : duration(svc.window_seconds)));
  });
  s.ok();
}

function renderJetStream(js) {
  const streams = section("streams");
  const consumers = section("consumers");
  if (js.error) {
    streams.fail(js.error);
    consumers.fail(js.error);
    return;
  }
  rows("streams", js.streams, (st) => el("tr", { "data-stream": st.name },
    el("td", {}, st.name), el("td", { class: "num" }, num(st.messages)),
    el("td", { class: "num" }, bytes(st.bytes)), el("td", {}, when(st.first_at)),
    el("td", {}, when(st.last_at))));
  streams.ok();
  rows("consumers", js.consumers, (c) => el("tr", { "data-consumer": c.name },
    el("td", {}, c.name), el("td", {}, c.stream),
    el("td", { class: `num${c.pending ? " warn" : ""}`, "data-field": "pending" }, num(c.pending)),
    el("td", { class: "num", "data-field": "ack_pending" }, num(c.ack_pending)),
    el("td", { class: "num" }, num(c.redelivered)),
    el("td", { class: "num", "data-field": "oldest" }, duration(c.oldest_unprocessed_age_seconds))));
  consumers.ok();
}

async function call(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.errors?.[0]?.reason || data.error || response.statusText);
  return data;
}

function renderDlq(dlq) {
  const s = section("dlq");
  if (dlq.error) return s.fail(dlq.error);
  const note = s.root.querySelector(".note");
  const inspect = s.root.querySelector(".inspect");
  s.root.querySelector(".count").textContent = `(${num(dlq.count)})`;
  const act = (promise) => promise
    .then((r) => { note.textContent = `${t("replayed")}: ${r.replayed.length} (${r.subject})`; refresh(); })
    .catch((e) => { note.textContent = String(e.message || e); });
  rows("dlq", dlq.entries, (e) => el("tr", { "data-seq": e.seq },
    el("td", { class: "num" }, e.seq), el("td", {}, when(e.at)), el("td", {}, e.subject),
    el("td", {}, e.consumer), el("td", { class: "reason" }, e.reason),
    el("td", {},
      el("button", { type: "button", "data-action": "inspect", onclick: () => call("GET", `/v1/ops/dlq/${e.seq}`)
        .then((d) => { inspect.hidden = false; inspect.textContent = JSON.stringify(d, null, 2); })
        .catch((err) => { note.textContent = String(err.message || err); }) }, t("inspect")),
      " ",
      e.replayable ? el("button", { type: "button", "data-action": "replay",
        onclick: () => act(call("POST", `/v1/ops/dlq/${e.seq}/replay`)) }, t("replay")) : "")));
  const subjects = [...new Set(dlq.entries.filter((e) => e.replayable).map((e) => e.subject))]
    .sort();
  s.root.querySelector(".subjects").replaceChildren(...subjects.map((subject) => el("button", {
    type: "button", "data-action": "replay-all", "data-subject": subject,
    // Up to 1000 events back on the bus in one click: asked first.
    onclick: () => {
      if (!confirm(`${t("confirm_replay_all")}\n${subject}`)) return;
      act(call("POST", "/v1/ops/dlq/replay", { subject }));
    },
  }, `${t("replay_all")}: ${subject}`)));
  if (!dlq.entries.length) note.textContent = note.textContent || t("empty");
  s.ok();
}

function renderProjection(p) {
  const s = section("projection");
  if (p.error) return s.fail(p.error);
  s.root.querySelector(".big").textContent = p.lag_seconds === null ? t("empty") : `${duration(p.lag_seconds)} ${t("behind")}`;
  s.root.querySelector(".detail").textContent = `${t("newest")}: ${when(p.newest_event_at)}`;
  s.ok();
}

function renderSpool(sp) {
  const s = section("spool");
  if (sp.error) return s.fail(sp.error);
  s.root.querySelector(".big").textContent = num(sp.depth);
  s.root.querySelector(".detail").textContent = t("leads_waiting");
  s.ok();
}

function renderNotification(n) {
  const s = section("notification");
  const capped = n.capped ? "≥ " : "";
  const value = (v) => (v === null || v === undefined ? t("unknown") : capped + num(v));
  const items = [["sent", n.sent_24h], ["failed", n.failed_24h], ["skipped", n.skipped_24h]]
    .map(([k, v]) => [el("dt", {}, t(k)), el("dd", { "data-field": k }, value(v))]).flat();
  const due = n.reminders_next_hour;
  items.push(el("dt", {}, t("reminders")),
    el("dd", { "data-field": "reminders" }, due === null || due === undefined ? t("unknown") : num(due)));
  s.root.querySelector("dl").replaceChildren(...items);
  const problems = [n.deliveries_error, n.reminders_error].filter(Boolean);
  if (problems.length) s.fail(problems.join("; "));
  else s.ok();
}

function renderRebuild(r) {
  const s = section("rebuild");
  const bar = s.root.querySelector("progress");
  const detail = s.root.querySelector(".detail");
  const eta = s.root.querySelector(".eta");
  if (r && r.error && !r.job_id) return s.fail(r.error);
  if (!r) {
    detail.textContent = t("no_rebuild");
    bar.hidden = true;
    eta.textContent = "";
    return s.ok();
  }
  detail.textContent = `${r.job_id}: ${r.state} — ${num(r.events_replayed)} ${t("events_replayed")}`
    + (r.total ? ` (${num(r.last_sequence)} ${t("of")} ${num(r.total)})` : "");
  bar.hidden = false;
  bar.value = r.progress ?? 0;
  bar.textContent = `${Math.round((r.progress ?? 0) * 100)}%`;
  eta.textContent = r.eta_seconds !== null && r.eta_seconds !== undefined
    ? `${t("eta")} ${duration(r.eta_seconds)}` : (r.finished_at ? when(r.finished_at) : "");
  if (r.error) s.fail(r.error);
  else s.ok();
}

let timer = null;
async function refresh() {
  clearTimeout(timer);
  const started = Date.now();
  const updated = document.getElementById("updated");
  try {
    const response = await fetch("/v1/ops/status", { cache: "no-store" });
    if (response.status === 401) {
      location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return;
    }
    if (!response.ok) throw new Error(`${response.status}`);
    const status = await response.json();
    renderServices(status.services);
    renderJetStream(status.jetstream);
    renderDlq(status.dlq);
    renderProjection(status.projection);
    renderSpool(status.spool);
    renderNotification(status.notification);
    renderRebuild(status.rebuild);
    updated.textContent = `${t("updated")} ${new Date(status.generated_at).toLocaleTimeString(lang)}`;
    updated.className = "muted";
    document.body.dataset.loaded = "true";
  } catch (error) {
    updated.textContent = `${t("offline")}: ${error.message || error}`;
    updated.className = "error";
  } finally {
    // Every REFRESH_MS from the start of the last read, however long it took.
    timer = setTimeout(refresh, Math.max(500, REFRESH_MS - (Date.now() - started)));
  }
}

for (const node of document.querySelectorAll("[data-t]")) {
  const word = WORDS[lang][node.dataset.t];
  if (word) node.textContent = word;
}
document.documentElement.lang = lang;
refresh();
