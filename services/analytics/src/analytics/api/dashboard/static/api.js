// The dashboard reads only the public report and drill APIs, with the session cookie.

export class ApiError extends Error {
  constructor(status, body) {
    const reasons = (body && body.errors) || [];
    const text = reasons.map((e) => (e.field ? `${e.field}: ${e.reason}` : e.reason)).join("; ");
    super(text || (body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function toLogin() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

export async function getJSON(path, params) {
  const url = params ? `${path}?${params}` : path;
  const response = await fetch(url, {
    credentials: "same-origin", headers: { Accept: "application/json" },
  });
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, { error: "unauthorized" });
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export const report = (name, params) => getJSON(`/v1/reports/${name}`, params);

// The same drill URL with one more page, sort or format.
export function withParams(link, changes) {
  const url = new URL(link, location.origin);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") url.searchParams.delete(key);
    else url.searchParams.set(key, value);
  }
  return url.pathname + url.search;
}
