// The page's state, loaded from the API and kept current by the event stream.
// Views subscribe to topics ('workers', 'worker:<id>', 'labs:<id>', 'lablets',
// 'definitions', 'jobs', 'ready', 'cost', 'forecast', 'events', 'conn') and
// re-render the parts that changed.

import { api, readHistory, listAll, parseProm } from './api.js';
import { can } from './ui.js';

export const store = {
  session: null,
  workers: new Map(),
  idle: new Map(),
  lablets: [],
  definitions: [],
  jobs: [],
  ready: null,
  leadership: null,
  logHead: null,
  cost: null,
  forecast: null,
  events: [],
  conn: 'disconnected',
  lastSequence: null,
  loaded: new Set(),
};

const listeners = new Set();
let pending = new Set();
let scheduled = false;

/** fn(topics: Set) is called after changes, batched per animation frame. */
export function subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); }

export function changed(...topics) {
  for (const t of topics) pending.add(t);
  if (scheduled) return;
  scheduled = true;
  const flush = () => {
    scheduled = false;
    const topicsNow = pending;
    pending = new Set();
    for (const fn of [...listeners]) {
      try { fn(topicsNow); } catch (e) { console.error('render failed', e); }
    }
  };
  if (document.hidden) setTimeout(flush, 50); else requestAnimationFrame(flush);
}

const timers = new Map();
/** Runs fn once `ms` after the last call with the same key. */
export function later(key, ms, fn) {
  clearTimeout(timers.get(key));
  timers.set(key, setTimeout(() => { timers.delete(key); fn(); }, ms));
}

function warn(what) { return (e) => console.warn(`could not load ${what}:`, e.message); }

/**
 * The workers as listed now. Metric samples are not events (the log keeps state
 * changes), so the stream does not carry them: this also refreshes the figures,
 * and tells every open worker view (`worker:<id>`).
 */
export async function loadWorkerList() {
  const items = await listAll('/api/v1/workers', { include_terminated: true });
  const seen = new Set();
  for (const w of items) { store.workers.set(w.id, w); seen.add(w.id); }
  for (const id of [...store.workers.keys()]) if (!seen.has(id)) store.workers.delete(id);
  store.loaded.add('workers');
  changed('workers', ...[...seen].map((id) => `worker:${id}`));
}

export async function loadWorkers() {
  await loadWorkerList();
  loadAllIdle().catch(warn('idle status'));
}

export async function loadWorker(id) {
  try {
    const w = await api('GET', `/api/v1/workers/${id}`);
    store.workers.set(id, w);
  } catch (e) {
    if (e.status === 404) store.workers.delete(id); else throw e;
  }
  changed('workers', `worker:${id}`);
}

export async function loadIdle(id) {
  try {
    store.idle.set(id, await api('GET', `/api/v1/workers/${id}/idle`));
    changed('workers', `worker:${id}`);
  } catch { /* worker gone */ }
}

async function loadAllIdle() {
  const ids = [...store.workers.values()].filter((w) => w.status.lifecycle !== 'terminated').map((w) => w.id);
  const queue = [...ids];
  const run = async () => { while (queue.length) { const id = queue.shift(); store.idle.set(id, await api('GET', `/api/v1/workers/${id}/idle`).catch(() => null)); } };
  await Promise.all(Array.from({ length: Math.min(6, ids.length) }, run));
  changed('workers');
}

export async function loadLablets() {
  store.lablets = await listAll('/api/v1/lablets');
  store.loaded.add('lablets');
  changed('lablets');
}

export async function loadDefinitions() {
  store.definitions = await listAll('/api/v1/definitions');
  store.loaded.add('definitions');
  changed('definitions');
}

export async function loadJobs() {
  store.jobs = await api('GET', '/api/v1/jobs');
  store.loaded.add('jobs');
  changed('jobs');
}

/** The readiness probe: status only (`ready`, or `not_ready` with a reason). */
export async function loadReady() {
  try {
    store.ready = await api('GET', '/readyz');
  } catch (e) {
    store.ready = { status: 'not_ready', reason: e.code === 'network' ? 'network' : 'store' };
  }
  changed('ready');
}

/** Admins: this process's leadership, the stored lease and the relay cursors. */
export async function loadLeadership() {
  try {
    store.leadership = await api('GET', '/api/v1/system/leadership');
  } catch {
    store.leadership = null;
  }
  changed('ready');
}

/** Worker counts and the log's head from the server's Prometheus text. */
export async function loadLogHead() {
  const text = await api('GET', '/metrics', { raw: true });
  const prom = parseProm(text);
  store.logHead = prom.ccm_event_log_last_sequence?.[0]?.value ?? store.logHead;
}

/**
 * What the fleet costs (`GET /api/v1/cost`): burn rate now, today and this week
 * by region and instance type, and the saving against keeping the same workers
 * always on — computed by the server from the workers' billing ledgers.
 */
export async function loadCost() {
  store.cost = await api('GET', '/api/v1/cost');
  changed('cost');
}

/**
 * The capacity forecast (`GET /api/v1/capacity/forecast`, managers and admins):
 * the workers the bookings need over the next 48 hours and the lead time in force.
 */
export async function loadForecast() {
  if (!can('manager')) return;
  store.forecast = await api('GET', '/api/v1/capacity/forecast');
  changed('forecast');
}

/** Loads everything the page shows (after login and after a stream resync). */
export async function loadAll() {
  await Promise.all([
    loadWorkers().catch(warn('workers')),
    loadLablets().catch(warn('lablets')),
    loadDefinitions().catch(warn('definitions')),
    loadJobs().catch(warn('jobs')),
    loadReady(),
    loadCost().catch(warn('cost')),
    loadLogHead().catch(warn('metrics')),
  ]);
  loadForecast().catch(warn('forecast'));
  loadRecentEvents().catch(warn('events'));
}

/** The latest events of the log, so the page does not start with an empty history. */
async function loadRecentEvents() {
  const last = store.logHead;
  if (!last || store.events.length) return;
  const page = await readHistory({ after: Math.max(0, last - 200), limit: 200 });
  if (store.events.length) return;
  store.events.push(...page.events.slice(-50));
  changed('events');
}

export function pushEvent(ev) {
  store.events.push(ev);
  if (store.events.length > 500) store.events.splice(0, store.events.length - 500);
  changed('events');
}
