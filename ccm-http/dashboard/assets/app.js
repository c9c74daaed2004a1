// The ccm dashboard: session, routing (#/section/…), theme, connection badge.

import { api, setCsrf } from './api.js';
import { h, replace, setRole, toast } from './ui.js';
import { store, subscribe, loadAll } from './store.js';
import { connect, disconnect } from './live.js';
import { renderOverview } from './view-overview.js';
import { renderWorkers } from './view-workers.js';
import { renderWorker } from './view-worker.js';
import { renderLablets } from './view-lablets.js';
import { renderSystem } from './view-system.js';

const main = document.getElementById('main');
let cleanup = null;

function route() {
  const parts = (location.hash || '#/overview').replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  return { section: parts[0] || 'overview', rest: parts.slice(1) };
}

function render() {
  if (!store.session) return;
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  const { section, rest } = route();
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === section);
  replace(main);
  const views = {
    overview: () => renderOverview(main),
    workers: () => (rest[0] ? renderWorker(main, rest[0], rest[1] || 'overview') : renderWorkers(main)),
    lablets: () => renderLablets(main, rest[0] || 'timeline'),
    system: () => renderSystem(main),
  };
  cleanup = (views[section] || views.overview)() || null;
  main.focus({ preventScroll: true });
}

function renderConn() {
  const el = document.getElementById('conn');
  el.className = `conn conn-${store.conn}`;
  el.dataset.state = store.conn;
  el.title = `Live event stream: ${store.conn}${store.connDetail ? ` (${store.connDetail})` : ''}`;
  el.querySelector('.conn-label').textContent = store.conn;
}

function theme() {
  const root = document.documentElement;
  document.getElementById('theme-toggle').addEventListener('click', () => {
    const next = root.dataset.theme === 'dark' ? 'light' : 'dark';
    root.dataset.theme = next;
    try { localStorage.setItem('ccm-theme', next); } catch { /* storage off */ }
  });
}

function showLogin(reason) {
  disconnect();
  store.session = null;
  setCsrf(null);
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('whoami').textContent = '';
  replace(main, h('section', { class: 'panel login', 'data-view': 'login' },
    h('h1', {}, 'Sign in to ccm'),
    reason ? h('p', { class: 'muted' }, reason) : null,
    h('p', {}, h('a', { class: 'btn btn-primary', href: '/auth/login?return_to=/', id: 'login-oidc' }, 'Log in with your identity provider')),
    h('p', { class: 'muted' }, 'Administrators can also use the one-time login link that ', h('code', {}, 'ccm serve'),
      ' prints at start. Scripts use API keys (see ', h('a', { href: '/api/v1/docs' }, 'the API documentation'), ').')));
}

async function start() {
  theme();
  subscribe((topics) => { if (topics.has('conn')) renderConn(); });
  window.addEventListener('ccm:unauthenticated', () => {
    if (store.session) { toast('Signed out', 'your session ended; please log in again', 'error'); showLogin('Your session has ended.'); }
  });
  document.getElementById('logout').addEventListener('click', async () => {
    try {
      const answer = await api('POST', '/logout');
      disconnect();
      if (answer && answer.end_session_url) { location.href = answer.end_session_url; return; }
    } catch { /* logged out anyway */ }
    showLogin('You are logged out.');
  });
  let session;
  try {
    session = await api('GET', '/api/v1/session');
  } catch (e) {
    showLogin(e.status === 401 ? '' : `The server answered: ${e.message}`);
    return;
  }
  store.session = session;
  setCsrf(session.csrf_token);
  setRole(session.role);
  document.body.dataset.role = session.role;
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = session.method?.kind !== 'session';
  document.getElementById('whoami').textContent = `${session.subject} · ${session.role}`;
  document.getElementById('whoami').dataset.role = session.role;
  window.addEventListener('hashchange', render);
  render();
  connect();
  await loadAll();
}

start();
