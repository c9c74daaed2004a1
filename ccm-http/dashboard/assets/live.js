// The live event stream: EventSource on /api/v1/events/stream. A snapshot comes
// first, then every event with its sequence as the SSE id. On a lost connection
// the stream is reopened with the last sequence seen (Last-Event-ID, or
// ?last_event_id= for a fresh EventSource), so nothing is missed. When retention
// compacted the log past that sequence the server sends `gone`: the page lists
// everything again and reconnects from now. Metric samples are not events, so
// the worker list is read again once per metrics sweep.

import { api } from './api.js';
import {
  store, changed, later, pushEvent, loadWorker, loadIdle, loadLablets, loadDefinitions,
  loadCost, loadForecast, loadAll, loadWorkerList,
} from './store.js';

const TYPES = [
  'worker.created.v2', 'worker.imported.v2', 'worker.created.v1', 'worker.imported.v1', 'worker.spec.updated.v1', 'worker.status.updated.v1',
  'worker.instance.assigned.v1', 'worker.network.updated.v1', 'worker.cml.updated.v1',
  'worker.cml.certificate_changed.v1', 'worker.cml.certificate_accepted.v1',
  // worker.metrics.updated.v1 is no longer written (samples are not events); kept
  // for logs written before.
  'worker.licence.updated.v1', 'worker.metrics.updated.v1', 'worker.tags.updated.v1',
  'worker.activity.recorded.v1', 'worker.paused.v1', 'worker.resumed.v1', 'worker.monitoring.enabled.v1',
  'worker.catalog.synced.v1',
  'worker.alert.raised.v1', 'worker.alert.cleared.v1', 'worker.telemetry.read.v1',
  'worker.licence.registration.started.v1', 'worker.licence.registration.completed.v1',
  'worker.licence.registration.failed.v1', 'worker.licence.deregistered.v1',
  'worker.capacity.allocated.v1', 'worker.capacity.released.v1', 'worker.termination.requested.v1',
  'worker.deletion.requested.v1', 'lab.discovered.v2', 'lab.discovered.v1', 'lab.state.changed.v1', 'lab.updated.v1',
  'lab.operation.recorded.v1', 'lab.gone.v1', 'definition.created.v1', 'definition.activation.changed.v1',
  'lablet.created.v2', 'lablet.created.v1', 'lablet.phase.changed.v1', 'lablet.bound.v1', 'lablet.unbound.v1',
  'lablet.lab.assigned.v1', 'lablet.access.assigned.v1', 'lablet.cancel.requested.v1', 'lablet.extended.v1', 'lablet.rescheduled.v1', 'lablet.deletion.requested.v1',
  'lablet.lab.released.v1', 'lablet.attempt.failed.v1', 'fleet.scaling.decided.v1',
];

let source = null;
let failures = 0;
let retryTimer = null;
let samplesTimer = null;
let stopped = false;

/** Seconds between two metrics sweeps (the `metrics-sweep` job), within bounds. */
function sweepSeconds() {
  const sweep = (store.jobs || []).find((j) => j.name === 'metrics-sweep');
  const seconds = Number(sweep?.schedule?.seconds) || 60;
  return Math.min(Math.max(seconds, 5), 900);
}

function scheduleSamples() {
  clearTimeout(samplesTimer);
  if (stopped) return;
  samplesTimer = setTimeout(() => {
    if (!document.hidden && store.conn === 'connected') loadWorkerList().catch(() => {});
    scheduleSamples();
  }, sweepSeconds() * 1000);
}

function setConn(state, detail = '') {
  store.conn = state;
  store.connDetail = detail;
  changed('conn');
}

function onSnapshot(data) {
  failures = 0;
  setConn('connected');
  store.lastSequence = data.after_sequence;
  for (const w of data.workers || []) {
    const old = store.workers.get(w.id);
    // The snapshot is read from the store; keep the engine's next refresh time.
    if (old && !w.status.next_refresh_at) w.status.next_refresh_at = old.status.next_refresh_at;
    store.workers.set(w.id, w);
  }
  changed('workers');
  // After a reconnect, resync everything else the page shows (it may have
  // changed while away); the first connection follows the page's own load.
  if (data.resumed) later('resync', 200, () => loadAll());
}

function onEvent(ev) {
  store.lastSequence = ev.sequence;
  pushEvent(ev);
  const { kind, id } = ev.subject;
  if (kind === 'worker') {
    const w = store.workers.get(id);
    if (ev.type === 'worker.status.updated.v1' && w) {
      w.status.lifecycle = ev.data.to;
      w.status.ec2_state = ev.data.ec2_state;
      w.status.reason = ev.data.reason;
      changed('workers', `worker:${id}`);
      later('cost', 800, () => loadCost().catch(() => {}));
    }
    // `.v1` creations (and compaction snapshots) carry the whole worker; a `.v2`
    // one carries the request, and the worker is read below like any change.
    if ((ev.type === 'worker.created.v1' || ev.type === 'worker.imported.v1') && ev.data.worker) {
      store.workers.set(id, ev.data.worker);
      changed('workers', `worker:${id}`);
    }
    later(`worker:${id}`, 250, () => loadWorker(id).catch(() => {}));
    later(`idle:${id}`, 1500, () => loadIdle(id));
    if (ev.type.startsWith('worker.capacity')) later('lablets', 400, () => loadLablets().catch(() => {}));
  } else if (kind === 'lab') {
    const workerId = id.split('/')[0];
    changed(`labs:${workerId}`);
    later(`worker:${workerId}`, 250, () => loadWorker(workerId).catch(() => {}));
  } else if (kind === 'lablet') {
    later('lablets', 400, () => loadLablets().catch(() => {}));
    later('forecast', 3000, () => loadForecast().catch(() => {}));
  } else if (kind === 'definition') {
    later('definitions', 400, () => loadDefinitions().catch(() => {}));
  } else {
    changed(kind);
  }
}

function handler(e) {
  let ev;
  try { ev = JSON.parse(e.data); } catch { return; }
  onEvent(ev);
}

function scheduleRetry() {
  clearTimeout(retryTimer);
  if (stopped) return;
  failures += 1;
  // A stream refused for an ended session looks like any failure: ask the
  // session API, whose 401 sends the page back to the login.
  if (failures >= 2) api('GET', '/api/v1/session').catch(() => {});
  const delay = Math.min(15000, 1000 * 2 ** Math.min(failures - 1, 4));
  setConn(failures > 5 ? 'disconnected' : 'reconnecting', `retry in ${Math.round(delay / 1000)}s`);
  retryTimer = setTimeout(open, delay);
}

function open() {
  if (stopped) return;
  if (source) source.close();
  const url = store.lastSequence !== null && store.lastSequence !== undefined
    ? `/api/v1/events/stream?last_event_id=${store.lastSequence}`
    : '/api/v1/events/stream';
  const es = new EventSource(url, { withCredentials: true });
  source = es;
  es.addEventListener('snapshot', (e) => { try { onSnapshot(JSON.parse(e.data)); } catch (err) { console.error(err); } });
  for (const t of TYPES) es.addEventListener(t, handler);
  es.onmessage = handler;
  es.addEventListener('heartbeat', (e) => {
    failures = 0;
    if (store.conn !== 'connected') setConn('connected');
    try { const d = JSON.parse(e.data); if (d.last_sequence) store.lastSequence = Math.max(store.lastSequence || 0, d.last_sequence); } catch { /* ignore */ }
  });
  es.addEventListener('shutdown', () => {
    // The server is stopping: close and come back with the last sequence.
    es.close();
    if (source === es) source = null;
    setConn('disconnected', 'the server is stopping');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(open, 2000);
  });
  es.addEventListener('gone', () => {
    // Retention compacted the log past our position: what was missed cannot be
    // replayed, so list everything again and follow the log from now.
    es.close();
    if (source === es) source = null;
    store.lastSequence = null;
    setConn('reconnecting', 'resynchronising');
    loadAll().catch(() => {});
    clearTimeout(retryTimer);
    retryTimer = setTimeout(open, 500);
  });
  es.addEventListener('credential_expired', () => {
    // The session ended or lost its role: the session API's 401 sends the page
    // back to the login; a changed role reconnects with what it may now see.
    es.close();
    if (source === es) source = null;
    setConn('disconnected', 'the session has ended');
    api('GET', '/api/v1/session').then(() => { retryTimer = setTimeout(open, 1000); }).catch(() => {});
  });
  es.onerror = () => {
    if (source !== es) return;
    // Reopen ourselves (also when the browser gave up), with the last sequence.
    es.close();
    source = null;
    scheduleRetry();
  };
}

export function connect() {
  stopped = false;
  failures = 0;
  setConn('reconnecting', 'connecting');
  open();
  scheduleSamples();
}

export function disconnect() {
  stopped = true;
  clearTimeout(retryTimer);
  clearTimeout(samplesTimer);
  if (source) source.close();
  source = null;
  setConn('disconnected');
}

/** For tests and debugging: drop the connection as a network failure would. */
export function dropConnection() {
  if (source) { source.close(); source = null; scheduleRetry(); }
}
