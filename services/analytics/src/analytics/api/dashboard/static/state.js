// The whole view lives in the URL's query string: a link reproduces it, back/forward work.

export const PRESETS = [
  "today", "yesterday", "this_week", "last_week", "this_month", "last_month", "quarter",
  "year", "custom",
];
export const COMPARES = ["none", "previous_period", "previous_year"];
export const FILTERS = ["pipeline", "manager", "channel", "source", "campaign"];
const DEFAULTS = { page: "overview", period: "this_month", compare: "previous_period" };

export function readState(defaults) {
  const query = new URLSearchParams(location.search);
  const state = { ...DEFAULTS, ...defaults };
  for (const [key, value] of query) if (value !== "") state[key] = value;
  if (!PRESETS.includes(state.period)) state.period = DEFAULTS.period;
  if (!COMPARES.includes(state.compare)) state.compare = DEFAULTS.compare;
  return state;
}

export function stateUrl(state, defaults) {
  const query = new URLSearchParams();
  const implied = { ...DEFAULTS, ...defaults };
  for (const [key, value] of Object.entries(state)) {
    if (value === undefined || value === null || value === "") continue;
    if (implied[key] === value && key !== "page") continue;
    query.set(key, value);
  }
  return `${location.pathname}?${query}`;
}

// Today's date (YYYY-MM-DD) as the clock reads in `timeZone`.
export function todayIn(timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone }).format(new Date());
}

const asDate = (iso) => new Date(`${iso}T00:00:00Z`);
const iso = (d) => d.toISOString().slice(0, 10);
const addDays = (d, n) => new Date(d.getTime() + n * 86400000);
const addMonths = (d, n) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1));

// [from, to) as local dates of the report's zone; `to` is exclusive.
export function periodRange(state, timeZone) {
  if (state.period === "custom" && state.from && state.to) {
    return { from: state.from, to: state.to };
  }
  const today = asDate(todayIn(timeZone));
  const monday = addDays(today, -((today.getUTCDay() + 6) % 7));
  const month = addMonths(today, 0);
  const quarter = new Date(
    Date.UTC(today.getUTCFullYear(), Math.floor(today.getUTCMonth() / 3) * 3, 1),
  );
  const year = new Date(Date.UTC(today.getUTCFullYear(), 0, 1));
  const ranges = {
    today: [today, addDays(today, 1)],
    yesterday: [addDays(today, -1), today],
    this_week: [monday, addDays(monday, 7)],
    last_week: [addDays(monday, -7), monday],
    this_month: [month, addMonths(month, 1)],
    last_month: [addMonths(month, -1), month],
    quarter: [quarter, addMonths(quarter, 3)],
    year: [year, addMonths(year, 12)],
  };
  const [from, to] = ranges[state.period] || ranges.this_month;
  return { from: iso(from), to: iso(to) };
}

// The report API's query: period, zone, compare and the global filters.
export function reportParams(state, timeZone, extra = {}) {
  const { from, to } = periodRange(state, timeZone);
  const params = new URLSearchParams({ from, to, tz: timeZone });
  if (state.compare && state.compare !== "none") params.set("compare", state.compare);
  for (const name of FILTERS) if (state[name]) params.set(name, state[name]);
  for (const [key, value] of Object.entries(extra)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, value);
  }
  return params;
}
