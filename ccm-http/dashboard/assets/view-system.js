// System: jobs (next and last run, outcome, trigger/pause/resume), readiness
// (/readyz), for admins the leadership, lease and relay cursors
// (/api/v1/system/leadership) and the settings in force (/api/v1/settings), the
// live connection, and the server version.

import { h, replace, badge, countdown, can, act, table, kv } from './ui.js';
import { store, subscribe, loadJobs, loadReady, loadLeadership } from './store.js';
import { api } from './api.js';
import { fmtRelative, fmtTime } from './format.js';
import { outcomeBadge } from './view-worker.js';

let version = null;

function schedule(s) {
  if (!s) return '—';
  if (s.kind === 'every') return `every ${s.seconds}s`;
  return Object.entries(s).filter(([k]) => k !== 'kind').map(([k, v]) => `${k} ${v}`).join(', ') || s.kind;
}

/** Each relay's cursor and how far it trails the log. */
function relayTable(relays) {
  return h('div', { id: 'relays' }, h('h3', {}, 'Relays'), table(['Sink', 'Cursor', 'Behind', 'Moved'],
    relays.map((c) => h('tr', { 'data-relay': c.sink },
      h('td', {}, h('code', {}, c.sink)),
      h('td', {}, c.error ? badge(c.error, 'b-bad') : String(c.sequence)),
      h('td', {}, c.lag === null || c.lag === undefined ? '—' : c.lag === 0 ? badge('0', 'b-ok') : badge(String(c.lag), c.lag > 100 ? 'b-warn' : 'b-info')),
      h('td', { title: fmtTime(c.updated_at) }, fmtRelative(c.updated_at)))),
    { empty: 'No relay has recorded a cursor yet.' }));
}

/** `{a: {b: 1}}` as rows `a.b = 1`, lists and scalars as their JSON. */
function flatten(value, prefix = '', rows = []) {
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, rows);
  } else {
    rows.push([prefix, typeof value === 'string' ? value : JSON.stringify(value)]);
  }
  return rows;
}

/** Admins: the settings this process runs with, one row per setting. */
function settingsPanel() {
  const body = h('div', { id: 'settings' }, h('p', { class: 'muted' }, 'Loading…'));
  api('GET', '/api/v1/settings').then((s) => {
    replace(body, table(['Setting', 'Value'], flatten(s).map(([k, v]) => h('tr', { 'data-setting': k },
      h('td', {}, h('code', {}, k)), h('td', {}, v)))));
  }).catch((e) => replace(body, h('p', { class: 'muted' }, `Not available: ${e.message}`)));
  return h('div', { class: 'panel' }, h('h2', {}, 'Settings in force'), body);
}

export function renderSystem(main) {
  const jobs = h('div', { id: 'jobs' });
  const leader = h('div', { id: 'leader' });
  const about = h('div', { id: 'about' });
  main.append(h('h1', {}, 'System'), h('section', { 'data-view': 'system' },
    h('div', { class: 'panel' }, h('h2', {}, 'Jobs'), jobs),
    h('div', { class: 'grid grid-2' },
      h('div', { class: 'panel' }, h('h2', {}, can('admin') ? 'Leader and store' : 'Server'), leader),
      h('div', { class: 'panel' }, h('h2', {}, 'About'), about)),
    can('admin') ? settingsPanel() : null));

  const jobAction = (j, what, label) => h('button', { class: 'btn btn-sm', type: 'button', 'data-action': `job-${what}`, onclick: async () => {
    await act(`${label} ${j.name}`, () => api('POST', `/api/v1/jobs/${encodeURIComponent(j.name)}/${what}`));
    loadJobs().catch(() => {});
  } }, label);

  const draw = () => {
    replace(jobs, table(['Job', 'Schedule', 'Next run', 'Last run', 'Took', 'Outcome', can('admin') ? 'Actions' : ''],
      store.jobs.map((j) => h('tr', { 'data-job': j.name },
        h('td', {}, h('code', {}, j.name)), h('td', {}, schedule(j.schedule)),
        h('td', {}, j.paused ? badge('paused', 'b-warn') : countdown(j.next_run_at, { past: 'due' })),
        h('td', { title: fmtTime(j.last_run_at) }, fmtRelative(j.last_run_at)),
        h('td', {}, j.last_duration_ms === null || j.last_duration_ms === undefined ? '—' : `${j.last_duration_ms} ms`),
        h('td', {}, outcomeBadge(j)),
        h('td', {}, can('admin') ? h('div', { class: 'actions' }, jobAction(j, 'trigger', 'Run now'), j.paused ? jobAction(j, 'resume', 'Resume') : jobAction(j, 'pause', 'Pause')) : null))),
    { empty: store.loaded.has('jobs') ? 'No jobs.' : 'Loading…' }));
    const r = store.ready;
    const l = store.leadership;
    const lease = l?.lease;
    replace(leader, r ? h('div', {}, kv([
      ['Status', r.status === 'ready' ? badge('ready', 'b-ok') : badge(`not ready (${r.reason || 'store'})`, 'b-bad')],
      l && ['This process', h('code', {}, l.holder)],
      l && ['This process leads', l.leading ? badge('leader', 'b-ok') : badge('standby', 'b-idle')],
      l && ['Lease holder', lease ? h('code', {}, lease.holder) : '—'],
      l && ['Fencing token', lease?.token ?? '—'],
      l && ['Lease expires', lease ? h('span', { title: fmtTime(lease.expires_at) }, lease.live ? countdown(lease.expires_at) : badge('expired', 'b-warn')) : '—'],
      ['Last event', l?.log?.last_sequence ?? store.logHead ?? '—'],
      ['Live stream', h('span', { 'data-conn': store.conn }, store.conn)], ['Last event seen', store.lastSequence ?? '—'],
    ]), l ? relayTable(l.relays || []) : null) : h('p', { class: 'muted' }, 'Loading…'));
    replace(about, kv([
      ['Version', h('span', { id: 'server-version' }, version || '…')], ['Signed in as', `${store.session?.subject} (${store.session?.role})`],
      ['API', h('a', { href: '/api/v1/docs' }, 'documentation')], ['Metrics', h('a', { href: '/metrics' }, '/metrics')],
    ]));
  };
  draw();
  if (!version) {
    api('GET', '/api/v1/openapi.json').then((doc) => { version = doc.info?.version || '?'; draw(); }).catch(() => { version = 'unknown'; draw(); });
  }
  // Jobs emit no events: refresh them (and readiness, the lease) while this page is open.
  const refresh = () => { loadReady(); if (can('admin')) loadLeadership(); };
  const poll = setInterval(() => { loadJobs().catch(() => {}); refresh(); }, 5000);
  loadJobs().catch(() => {});
  refresh();
  const unsub = subscribe((topics) => { if (topics.has('jobs') || topics.has('ready') || topics.has('conn')) draw(); });
  return () => { clearInterval(poll); unsub(); };
}
