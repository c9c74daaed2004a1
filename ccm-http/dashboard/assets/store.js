// The page's state, loaded from the API and kept current by the event stream.
// Views subscribe to topics ('workers', 'worker:<id>', 'labs:<id>', 'lablets',
// 'definitions', 'jobs', 'ready', 'cost', 'savings', 'events', 'conn') and
// re-render the parts that changed.

import { api, readHistory, listAll, parseProm } from './api.js';

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
  savings: null,
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

/** Fleet cost per hour: the server's `ccm_fleet_cost_usd_per_hour` gauge (from its price table). */
export async function loadCost() {
  const text = await api('GET', '/metrics', { raw: true });
  const prom = parseProm(text);
  const cost = prom.ccm_fleet_cost_usd_per_hour?.[0]?.value ?? null;
  const byStatus = {};
  for (const s of prom.ccm_workers || []) byStatus[s.labels.status] = s.value;
  store.cost = { perHour: cost, byStatus };
  store.logHead = prom.ccm_event_log_last_sequence?.[0]?.value ?? store.logHead;
  changed('cost');
  computeSavings();
}

const BILLED = new Set(['provisioning', 'running', 'stopping']);
let pauseEvents = null;

/**
 * Idle pauses today: the worker.paused/resumed events since local midnight. The API
 * has no "saved" figure, so the saving is estimated as paused hours today × the
 * average hourly price of a billed worker (fleet cost per hour ÷ billed workers).
 */
export async function loadSavings() {
  const events = [];
  let after = 0;
  for (let i = 0; i < 40; i++) {
    const page = await readHistory({ after, limit: 1000, type: 'worker.paused.v1,worker.resumed.v1' });
    events.push(...page.events);
    after = page.next_after;
    if (page.end) break;
  }
  pauseEvents = events;
  computeSavings();
}

export function computeSavings() {
  if (!pauseEvents) return;
  const midnight = new Date(); midnight.setHours(0, 0, 0, 0);
  const start = midnight.getTime();
  const now = Date.now();
  const open = new Map();
  let pausedSeconds = 0;
  let pausesToday = 0;
  for (const e of pauseEvents) {
    const t = Date.parse(e.occurred_at);
    const id = e.subject.id;
    if (e.type === 'worker.paused.v1') {
      open.set(id, t);
      if (t >= start) pausesToday += 1;
    } else if (open.has(id)) {
      const from = Math.max(open.get(id), start);
      if (t > from) pausedSeconds += (t - from) / 1000;
      open.delete(id);
    }
  }
  for (const [id, t] of open) {
    const w = store.workers.get(id);
    if (w && !['stopped', 'stopping'].includes(w.status.lifecycle)) continue;
    const from = Math.max(t, start);
    if (now > from) pausedSeconds += (now - from) / 1000;
  }
  const billed = [...store.workers.values()].filter((w) => BILLED.has(w.status.lifecycle)).length;
  const avg = store.cost?.perHour && billed ? store.cost.perHour / billed : null;
  store.savings = {
    pausesToday,
    pausedHours: pausedSeconds / 3600,
    averageHourly: avg,
    savedUsd: avg === null ? null : (pausedSeconds / 3600) * avg,
    pausedNow: open.size,
  };
  changed('savings');
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
  ]);
  loadSavings().catch(warn('pauses'));
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
