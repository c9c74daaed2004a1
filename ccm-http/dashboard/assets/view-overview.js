// Fleet overview: counts by status, cost (burn rate, today, this week, saved
// against always-on), the capacity forecast, lablets, alerts.

import { h, replace, statusBadge, can } from './ui.js';
import { store, subscribe } from './store.js';
import { lineChart } from './charts.js';
import { fmtUsd, fmtTime, LIFECYCLES, PHASES, utilisation, fmtPct } from './format.js';

function stat(label, value, sub, attrs = {}) {
  return h('div', { class: 'stat', ...attrs }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), sub ? h('div', { class: 'sub' }, sub) : null);
}

export function alertsOf() {
  const out = [];
  for (const w of store.workers.values()) {
    const s = w.status;
    const name = w.meta.name;
    const link = () => h('a', { href: `#/workers/${w.id}` }, name);
    if (s.lifecycle === 'terminated') continue;
    const u = utilisation(w);
    for (const metric of s.alerts || []) {
      if (metric === 'cml_certificate') {
        const sha = s.cml.certificate?.pending_sha256 || '';
        out.push({ bad: true, node: h('span', {}, link(), ` — CML certificate changed (sha256 ${sha}); refused until an admin accepts it`) });
        continue;
      }
      out.push({ bad: true, node: h('span', {}, link(), ` — ${metric} above its threshold (now ${fmtPct(u[metric === 'cpu' ? 'cpu' : metric])})`) });
    }
    if (s.lifecycle === 'failed') out.push({ bad: true, node: h('span', {}, link(), ` — failed${s.reason ? `: ${s.reason}` : ''}`) });
    if (s.lifecycle === 'unknown') out.push({ bad: false, node: h('span', {}, link(), ' — state unknown') });
    if (s.lifecycle === 'running' && s.cml.healthy === false) out.push({ bad: true, node: h('span', {}, link(), ' — CML unhealthy') });
    // CML coming up after a start is not worth an alert.
    const booting = s.lifecycle !== 'running' || s.cml.state === 'starting' || s.cml.state === 'unavailable';
    if (booting) continue;
    if (s.cml.last_error) out.push({ bad: false, node: h('span', {}, link(), ` — CML: ${s.cml.last_error}`) });
    if (s.licence.last_error) out.push({ bad: false, node: h('span', {}, link(), ` — licence: ${s.licence.last_error}`) });
    for (const src of ['ec2', 'cloudwatch', 'cml']) {
      const err = s.metrics?.[src]?.error;
      if (err) out.push({ bad: false, node: h('span', {}, link(), ` — ${src} metrics: ${err}`) });
    }
  }
  for (const j of store.jobs) {
    if (j.last_outcome?.result === 'failed') out.push({ bad: true, node: h('span', {}, h('a', { href: '#/system' }, `job ${j.name}`), ` — last run failed: ${j.last_outcome.error}`) });
  }
  for (const l of store.lablets) {
    if (l.status.phase === 'failed') out.push({ bad: false, node: h('span', {}, h('a', { href: '#/lablets/list' }, `lablet ${l.meta.name}`), ` — failed${l.status.last_error ? `: ${l.status.last_error}` : ''}`) });
  }
  if (store.ready && store.ready.status !== 'ready') out.push({ bad: true, node: h('span', {}, 'The server is not ready (store unreachable).') });
  return out;
}

export function renderOverview(main) {
  const stats = h('div', { class: 'grid grid-stats', id: 'status-counts' });
  const money = h('div', { class: 'grid grid-stats', id: 'money' });
  const forecast = h('div', { id: 'forecast' });
  const alerts = h('div', { id: 'alerts' });
  const lablets = h('div', { id: 'lablet-phases' });
  const recent = h('div', { id: 'recent' });
  main.append(
    h('h1', {}, 'Fleet overview'),
    h('section', { 'data-view': 'overview' },
      h('h2', {}, 'Workers by status'), stats,
      h('h2', {}, 'Cost'), money,
      can('manager') ? h('div', { class: 'panel' }, h('h2', {}, 'Capacity forecast'), forecast) : null,
      h('div', { class: 'grid grid-2' },
        h('div', { class: 'panel' }, h('h2', {}, 'Alerts'), alerts),
        h('div', { class: 'panel' }, h('h2', {}, 'Lablets by phase'), lablets)),
      h('div', { class: 'panel' }, h('h2', {}, 'Latest events'), recent)));

  const draw = () => {
    const workers = [...store.workers.values()];
    const counts = {};
    for (const w of workers) counts[w.status.lifecycle] = (counts[w.status.lifecycle] || 0) + 1;
    const live = workers.filter((w) => w.status.lifecycle !== 'terminated').length;
    replace(stats,
      stat('Workers', store.loaded.has('workers') ? live : '…', 'not terminated', { 'data-count': 'total' }),
      LIFECYCLES.filter((s) => counts[s] || ['running', 'stopped'].includes(s)).map((s) =>
        stat(s, counts[s] || 0, null, { 'data-count': s })));
    const c = store.cost;
    const usd = (v) => (c ? fmtUsd(v) : '…');
    replace(money,
      stat('Burn rate', usd(c?.burn_rate_usd_per_hour), c ? `${c.billing_workers} billing worker(s), on-demand prices` : null, { 'data-money': 'cost' }),
      stat('Cost today', usd(c?.today.usd), c ? `${c.today.worker_hours.toFixed(1)} worker-hours since midnight UTC` : null, { 'data-money': 'today' }),
      stat('Cost this week', usd(c?.week.usd), c ? `${c.week.worker_hours.toFixed(1)} worker-hours since Monday UTC` : null, { 'data-money': 'week' }),
      stat('Saved today', usd(c?.today.saving_usd), c ? `against the same workers always on (${fmtUsd(c.today.always_on_usd)})` : null, { 'data-money': 'saved' }),
      stat('Saved this week', usd(c?.week.saving_usd), c ? `against always on (${fmtUsd(c.week.always_on_usd)})` : null, { 'data-money': 'saved-week' }));
    const f = store.forecast;
    if (f) {
      const points = f.steps.map((s) => ({ t: Date.parse(s.at), v: s.workers_needed }));
      const from = Date.parse(f.generated_at);
      const to = points.length ? points[points.length - 1].t : from;
      const starts = f.steps.reduce((n, s) => n + s.starts, 0);
      const peak = Math.max(0, ...f.steps.map((s) => s.workers_needed));
      const learned = f.lead.estimates.some((e) => e.learned);
      // The learned warm pool's expected short-notice lablets count in the workers.
      const expected = Math.max(0, ...f.steps.map((s) => s.expected_lablets || 0));
      const title = expected ? 'Workers the bookings and the warm pool need' : 'Workers the bookings need';
      replace(forecast,
        lineChart({ title, points, from, to, integer: true, cls: 'chart-cpu', width: 1100, endLabel: 'at the end' }),
        h('p', { class: 'muted', 'data-forecast': 'summary' },
          `Next ${Math.round((to - from) / 3600000)} h: peak ${peak} worker(s), ${starts} start(s) planned; ${f.workers_now} running now. `
          + `Lead time ${Math.round(f.lead.seconds / 60)} min (${learned ? 'learned from this fleet' : 'configured'}).`
          + (expected ? ` The warm pool expects up to ${expected} short-notice lablet(s) at once.` : '')));
    } else {
      replace(forecast, h('p', { class: 'muted' }, '…'));
    }
    const list = alertsOf();
    replace(alerts, list.length
      ? h('ul', { class: 'alerts' }, list.map((a) => h('li', { class: a.bad ? 'bad' : '' }, a.node)))
      : h('p', { class: 'muted', 'data-empty': 'alerts' }, 'No alerts. Every worker is within its thresholds.'));
    const byPhase = {};
    for (const l of store.lablets) byPhase[l.status.phase] = (byPhase[l.status.phase] || 0) + 1;
    replace(lablets, store.lablets.length
      ? h('div', { class: 'grid grid-stats' }, PHASES.filter((p) => byPhase[p]).map((p) => stat(p, byPhase[p])))
      : h('p', { class: 'muted' }, 'No lablets.'),
      h('p', {}, h('a', { href: '#/lablets' }, 'Lablet timeline →')));
    const last = store.events.slice(-8).reverse();
    replace(recent, last.length
      ? h('ul', { class: 'events' }, last.map((e) => h('li', {}, h('span', { class: 'muted' }, fmtTime(e.occurred_at)), h('span', { class: 'type' }, e.type), h('span', {}, eventText(e)))))
      : h('p', { class: 'muted' }, 'Events appear here as they happen.'));
  };
  draw();
  return subscribe(() => draw());
}

function workerOfLab(e) {
  const id = e.subject.id.split('/')[0];
  return store.workers.get(id)?.meta.name || id.slice(0, 8);
}

export function eventText(e) {
  const w = e.subject.kind === 'worker' ? store.workers.get(e.subject.id) : null;
  const who = w ? w.meta.name : `${e.subject.kind} ${e.subject.id.slice(0, 8)}`;
  const d = e.data || {};
  switch (e.type) {
    case 'worker.status.updated.v1': return h('span', {}, `${who}: `, statusBadge(d.from), ' → ', statusBadge(d.to), d.reason ? ` (${d.reason})` : '');
    case 'worker.paused.v1': return `${who} paused (${typeof d.reason === 'string' ? d.reason : JSON.stringify(d.reason)})`;
    case 'worker.resumed.v1': return `${who} resumed`;
    case 'worker.alert.raised.v1': return `${who}: ${d.metric} ${d.value?.toFixed?.(1)} ≥ ${d.threshold}`;
    case 'worker.alert.cleared.v1': return `${who}: ${d.metric} back to ${d.value?.toFixed?.(1)}`;
    case 'lablet.phase.changed.v1': return `lablet ${e.subject.id.slice(0, 8)}: ${d.from} → ${d.to}${d.reason ? ` (${d.reason})` : ''}`;
    case 'lab.state.changed.v1': return `lab ${d.cml_lab_id}: ${d.from} → ${d.to}`;
    case 'lab.discovered.v2': return `lab "${d.title}" (${d.cml_lab_id}) on ${workerOfLab(e)}`;
    case 'lab.discovered.v1': return `lab "${d.lab?.title}" (${d.lab?.cml_lab_id}) on ${workerOfLab(e)}`;
    case 'lab.operation.recorded.v1': return `lab ${d.cml_lab_id}: ${d.operation?.action}${d.operation?.actor ? ` by ${d.operation.actor}` : ''}`;
    case 'lab.updated.v1': return `lab ${d.cml_lab_id} updated`;
    case 'lab.gone.v1': return `lab ${d.cml_lab_id} gone from ${workerOfLab(e)}`;
    case 'lablet.access.assigned.v1': return `lablet ${e.subject.id.slice(0, 8)}: ${(d.access || []).map((x) => `${x.label} ${x.protocol} ${x.host} ${x.port}`).join(', ') || 'no console ports'}`;
    case 'lablet.bound.v1': return `lablet ${e.subject.id.slice(0, 8)} placed on ${store.workers.get(d.worker_id)?.meta.name || d.worker_id}`;
    default: return who;
  }
}
