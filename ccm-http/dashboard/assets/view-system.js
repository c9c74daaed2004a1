// System: jobs (next and last run, outcome, trigger/pause/resume), leader
// status (/readyz), the live connection, and the server version.

import { h, replace, badge, countdown, can, act, table, kv } from './ui.js';
import { store, subscribe, loadJobs, loadReady } from './store.js';
import { api } from './api.js';
import { fmtRelative, fmtTime } from './format.js';
import { outcomeBadge } from './view-worker.js';

let version = null;

function schedule(s) {
  if (!s) return '—';
  if (s.kind === 'every') return `every ${s.seconds}s`;
  return Object.entries(s).filter(([k]) => k !== 'kind').map(([k, v]) => `${k} ${v}`).join(', ') || s.kind;
}

export function renderSystem(main) {
  const jobs = h('div', { id: 'jobs' });
  const leader = h('div', { id: 'leader' });
  const about = h('div', { id: 'about' });
  main.append(h('h1', {}, 'System'), h('section', { 'data-view': 'system' },
    h('div', { class: 'panel' }, h('h2', {}, 'Jobs'), jobs),
    h('div', { class: 'grid grid-2' },
      h('div', { class: 'panel' }, h('h2', {}, 'Leader and store'), leader),
      h('div', { class: 'panel' }, h('h2', {}, 'About'), about))));

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
    replace(leader, r ? kv([
      ['Status', r.status === 'ready' ? badge('ready', 'b-ok') : badge(r.status, 'b-bad')],
      ['This process leads', r.lease?.leading ? badge('leader', 'b-ok') : badge('standby', 'b-idle')],
      ['Lease holder', r.lease?.holder || '—'], ['Fencing token', r.lease?.token ?? '—'],
      ['Store', r.store?.reachable ? 'reachable' : 'unreachable'], ['Last event', r.store?.last_sequence ?? '—'],
      ['Live stream', h('span', { 'data-conn': store.conn }, store.conn)], ['Last event seen', store.lastSequence ?? '—'],
    ]) : h('p', { class: 'muted' }, 'Loading…'));
    replace(about, kv([
      ['Version', h('span', { id: 'server-version' }, version || '…')], ['Signed in as', `${store.session?.subject} (${store.session?.role})`],
      ['API', h('a', { href: '/api/v1/docs' }, 'documentation')], ['Metrics', h('a', { href: '/metrics' }, '/metrics')],
    ]));
  };
  draw();
  if (!version) {
    api('GET', '/api/v1/openapi.json').then((doc) => { version = doc.info?.version || '?'; draw(); }).catch(() => { version = 'unknown'; draw(); });
  }
  // Jobs emit no events: refresh them (and the lease) while this page is open.
  const poll = setInterval(() => { loadJobs().catch(() => {}); loadReady(); }, 5000);
  loadJobs().catch(() => {});
  loadReady();
  const unsub = subscribe((topics) => { if (topics.has('jobs') || topics.has('ready') || topics.has('conn')) draw(); });
  return () => { clearInterval(poll); unsub(); };
}
