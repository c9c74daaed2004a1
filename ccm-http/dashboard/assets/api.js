// The API client: JSON calls with the session cookie, the CSRF header on every
// state-changing request, and the API's error body turned into an Error.

let csrfToken = null;

export function setCsrf(token) { csrfToken = token || null; }

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Calls the API; resolves to parsed JSON (or text / null), rejects with ApiError. */
export async function api(method, path, { body, query, raw, contentType } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const headers = { accept: 'application/json' };
  const changing = method !== 'GET' && method !== 'HEAD';
  if (changing && csrfToken) headers['x-csrf-token'] = csrfToken;
  let payload;
  if (body !== undefined) {
    if (typeof body === 'string') {
      payload = body;
      headers['content-type'] = contentType || 'text/plain; charset=utf-8';
    } else {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload, credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, 'network', `network error: ${e.message}`);
  }
  const type = response.headers.get('content-type') || '';
  if (!response.ok) {
    let code = `http_${response.status}`;
    let message = response.statusText || `HTTP ${response.status}`;
    let details;
    if (type.includes('json')) {
      try {
        const err = (await response.json()).error;
        if (err) { code = err.code || code; message = err.message || message; details = err.details; }
      } catch { /* not JSON after all */ }
    }
    if (response.status === 401) window.dispatchEvent(new CustomEvent('ccm:unauthenticated'));
    throw new ApiError(response.status, code, message, details);
  }
  if (response.status === 204) return null;
  if (raw || !type.includes('json')) return response.text();
  return response.json();
}

/**
 * A page of the event history (`GET /api/v1/events`). When retention compacted
 * the log past `query.after` (410 `gone`), reads on from where the log now
 * starts: the pages here show history, they do not rebuild state from it.
 */
export async function readHistory(query) {
  try {
    return await api('GET', '/api/v1/events', { query });
  } catch (e) {
    if (e.code !== 'gone' || e.details?.resume_after === undefined) throw e;
    return api('GET', '/api/v1/events', { query: { ...query, after: e.details.resume_after } });
  }
}

/** Every item of a paginated list. */
export async function listAll(path, query = {}) {
  const items = [];
  let offset = 0;
  for (let i = 0; i < 100; i++) {
    const page = await api('GET', path, { query: { ...query, limit: 1000, offset } });
    items.push(...page.items);
    if (page.next_offset === null || page.next_offset === undefined) break;
    offset = page.next_offset;
  }
  return items;
}

/** Prometheus text → { name: [{labels, value}] } for the few gauges the page shows. */
export function parseProm(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const pair of m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    (out[m[1]] ||= []).push({ labels, value: Number(m[4]) });
  }
  return out;
}
