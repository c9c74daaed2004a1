// Workers: a sortable, filterable table for managers and admins, cards for users.

import { h, replace, statusBadge, bar, countdown, can, act, confirmDialog } from './ui.js';
import { store, subscribe, loadWorker, loadWorkers } from './store.js';
import { api } from './api.js';
import { LIFECYCLES, cmlMetrics, utilisation } from './format.js';

const view = { sort: 'name', dir: 1, search: '', status: '', region: '', terminated: false };

function idleUntil(w) {
  const idle = store.idle.get(w.id);
  if (!idle || !idle.enabled || w.status.lifecycle !== 'running') return null;
  return idle.pause_at;
}

function idleCell(w) {
  const idle = store.idle.get(w.id);
  if (!idle) return h('span', { class: 'muted' }, '—');
  if (!idle.enabled) return h('span', { class: 'muted', title: 'idle detection off' }, 'off');
  if (w.status.lifecycle !== 'running') return h('span', { class: 'muted' }, '—');
  return countdown(idle.pause_at, { past: 'pausing', empty: '—' });
}

function sortValue(w, key) {
  const u = utilisation(w);
  switch (key) {
    case 'status': return w.status.lifecycle;
    case 'region': return w.region;
    case 'type': return w.instance_type;
    case 'cpu': return u.cpu ?? -1;
    case 'memory': return u.memory ?? -1;
    case 'disk': return u.disk ?? -1;
    case 'labs': return cmlMetrics(w)?.labs_count ?? -1;
    case 'idle': return Date.parse(idleUntil(w) || '') || Infinity;
    case 'refresh': return Date.parse(w.status.next_refresh_at || '') || Infinity;
    default: return w.meta.name.toLowerCase();
  }
}

export function visibleWorkers() {
  const q = view.search.trim().toLowerCase();
  return [...store.workers.values()]
    .filter((w) => view.terminated || w.status.lifecycle !== 'terminated')
    .filter((w) => !view.status || w.status.lifecycle === view.status)
    .filter((w) => !view.region || w.region === view.region)
    .filter((w) => !q || [w.meta.name, w.id, w.instance_id, w.region, w.instance_type, w.network?.public_ip, w.network?.private_ip,
      ...Object.entries(w.tags || {}).map(([k, v]) => `${k}=${v}`), ...Object.entries(w.meta.labels || {}).map(([k, v]) => `${k}=${v}`)]
      .some((s) => s && String(s).toLowerCase().includes(q)))
    .sort((a, b) => {
      const x = sortValue(a, view.sort);
      const y = sortValue(b, view.sort);
      return (x < y ? -1 : x > y ? 1 : 0) * view.dir || a.meta.name.localeCompare(b.meta.name);
    });
}

/** Ids of the lablets bound to a worker (booked on it). */
export function boundLablets(w) {
  return Object.keys(w.status?.capacity?.allocations || {});
}

/** What a stop or deletion does to the lablets of `w`, for its confirmation; the
 * server refuses without `force` when lablets are bound, so confirming with them
 * named is what sends it. */
export function boundLabletsNote(w) {
  const bound = boundLablets(w);
  if (!bound.length) return '';
  return ` It holds ${bound.length} lablet(s) (${bound.join(', ')}): their labs are torn down, those not started yet are placed again and started ones end.`;
}

/** Start / stop buttons for a worker (managers and admins). */
export function powerButtons(w, { small = true } = {}) {
  if (!can('manager')) return [];
  const cls = `btn ${small ? 'btn-sm' : ''}`;
  const s = w.status.lifecycle;
  const out = [];
  const stop = (e) => { e.stopPropagation(); };
  if (['stopped', 'failed', 'unknown'].includes(s)) {
    out.push(h('button', { class: cls, type: 'button', 'data-action': 'start', onclick: async (e) => {
      stop(e);
      await act(`Start ${w.meta.name}`, () => api('POST', `/api/v1/workers/${w.id}/start`), { success: 'starting' });
      loadWorker(w.id).catch(() => {});
    } }, 'Start'));
  }
  if (['running', 'provisioning', 'pending'].includes(s)) {
    out.push(h('button', { class: cls, type: 'button', 'data-action': 'stop', onclick: async (e) => {
      stop(e);
      const force = boundLablets(w).length > 0;
      const ok = await confirmDialog(`Stop ${w.meta.name}?`, `Stop worker "${w.meta.name}"? Its running labs stop with it.${boundLabletsNote(w)}`, { ok: `Stop ${w.meta.name}` });
      if (!ok) return;
      await act(`Stop ${w.meta.name}`, () => api('POST', `/api/v1/workers/${w.id}/stop`, { query: force ? { force: true } : undefined }), { success: 'stopping' });
      loadWorker(w.id).catch(() => {});
    } }, 'Stop'));
  }
  return out;
}

function createForm() {
  const name = h('input', { name: 'name', required: true, placeholder: 'worker-04', 'aria-label': 'Worker name' });
  const region = h('input', { name: 'region', placeholder: 'default region', 'aria-label': 'Region' });
  const type = h('input', { name: 'instance_type', placeholder: 'default instance type', 'aria-label': 'Instance type' });
  // The configured images by name (admins read them from the settings); empty: the default image.
  const image = h('select', { name: 'image', 'aria-label': 'Image' }, h('option', { value: '' }, 'default image'));
  api('GET', '/api/v1/settings').then((s) => {
    for (const n of Object.keys(s.engine?.launch?.images || {})) image.append(h('option', { value: n }, n));
  }).catch(() => {});
  const form = h('form', { class: 'form-grid', onsubmit: async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim() };
    if (region.value.trim()) body.region = region.value.trim();
    if (type.value.trim()) body.instance_type = type.value.trim();
    if (image.value) body.image = image.value;
    const w = await act('Create worker', () => api('POST', '/api/v1/workers', { body }), { success: (r) => `${r.meta.name} is launching` });
    if (w) { form.reset(); loadWorkers().catch(() => {}); }
  } },
  h('label', { class: 'field' }, 'Name', name), h('label', { class: 'field' }, 'Region', region),
  h('label', { class: 'field' }, 'Instance type', type), h('label', { class: 'field' }, 'Image', image),
  h('button', { class: 'btn btn-primary', type: 'submit' }, 'Create worker'));
  return h('details', { class: 'panel' }, h('summary', {}, 'Create a worker (launches an instance, about $4/h)'), form);
}

// Adopting instances that already run CML: one by id, or every instance
// launched from an AMI whose name matches. The answer names what was skipped
// and why (already a worker, not a CML image, terminated…).
function importForm() {
  const mode = h('select', { name: 'mode', 'aria-label': 'Import what' },
    h('option', { value: 'one' }, 'One instance'), h('option', { value: 'matching' }, 'All matching an image name'));
  const instance = h('input', { name: 'instance_id', placeholder: 'i-0123456789abcdef0', 'aria-label': 'Instance id' });
  const pattern = h('input', { name: 'image_name_pattern', placeholder: 'cml-2.9-*', 'aria-label': 'Image name pattern' });
  const region = h('input', { name: 'region', placeholder: 'default region', 'aria-label': 'Import region' });
  const instanceField = h('label', { class: 'field' }, 'Instance id', instance);
  const patternField = h('label', { class: 'field', hidden: true }, 'Image name (* wildcards)', pattern);
  const result = h('div', { id: 'import-result', 'aria-live': 'polite' });
  mode.onchange = () => { instanceField.hidden = mode.value !== 'one'; patternField.hidden = mode.value === 'one'; };
  const form = h('form', { class: 'form-grid', id: 'import-form', onsubmit: async (e) => {
    e.preventDefault();
    const body = {};
    if (region.value.trim()) body.region = region.value.trim();
    if (mode.value === 'one') {
      body.instance_id = instance.value.trim();
      const w = await act('Import instance', () => api('POST', '/api/v1/workers/import', { body }), { success: (r) => `${r.meta.name} imported` });
      if (w) { replace(result, h('p', {}, `1 imported, 0 skipped: ${w.meta.name}.`)); loadWorkers().catch(() => {}); }
      return;
    }
    body.image_name_pattern = pattern.value.trim();
    const r = await act('Import matching', () => api('POST', '/api/v1/workers/import-matching', { body }), { success: (x) => `${x.imported.length} imported` });
    if (!r) return;
    replace(result, h('p', {}, `${r.imported.length} imported, ${r.skipped.length} skipped (${r.found} matched).`),
      r.skipped.length ? h('ul', { class: 'small' }, r.skipped.map((s) => h('li', { 'data-skipped': s.instance_id }, h('code', {}, s.instance_id), ` — ${s.reason}`))) : null);
    loadWorkers().catch(() => {});
  } },
  h('label', { class: 'field' }, 'Import', mode), instanceField, patternField, h('label', { class: 'field' }, 'Region', region),
  h('button', { class: 'btn btn-primary', type: 'submit' }, 'Import'));
  return h('details', { class: 'panel', id: 'import-panel' }, h('summary', {}, 'Import running CML instances'), form, result);
}

export function renderWorkers(main) {
  const tableMode = can('manager');
  const body = h('div', { id: 'workers-body' });
  const count = h('span', { class: 'muted small' });
  const search = h('input', { type: 'search', placeholder: 'Search name, id, instance, IP, tag…', value: view.search, 'aria-label': 'Search workers', id: 'worker-search',
    oninput: (e) => { view.search = e.target.value; draw(); } });
  const status = h('select', { 'aria-label': 'Filter by status', id: 'worker-status-filter', onchange: (e) => { view.status = e.target.value; draw(); } },
    h('option', { value: '' }, 'All statuses'), LIFECYCLES.map((s) => h('option', { value: s }, s)));
  status.value = view.status;
  const region = h('select', { 'aria-label': 'Filter by region', onchange: (e) => { view.region = e.target.value; draw(); } });
  const terminated = h('label', { class: 'small' }, h('input', { type: 'checkbox', checked: view.terminated, onchange: (e) => { view.terminated = e.target.checked; draw(); } }), ' show terminated');
  main.append(...[
    h('h1', {}, 'Workers'),
    can('admin') ? createForm() : null,
    can('admin') ? importForm() : null,
    h('section', { 'data-view': 'workers', 'data-mode': tableMode ? 'table' : 'cards' },
      h('div', { class: 'toolbar' }, search, status, region, terminated, count), body)].filter(Boolean));

  const header = (label, key, cls) => h('th', { class: `sortable ${cls || ''}`, 'data-sort': key, 'aria-sort': view.sort === key ? (view.dir > 0 ? 'ascending' : 'descending') : 'none',
    onclick: () => { if (view.sort === key) view.dir = -view.dir; else { view.sort = key; view.dir = 1; } draw(); } },
  label, view.sort === key ? (view.dir > 0 ? ' ▲' : ' ▼') : '');

  const draw = () => {
    const regions = [...new Set([...store.workers.values()].map((w) => w.region))].sort();
    if (region.options.length !== regions.length + 1) {
      replace(region, h('option', { value: '' }, 'All regions'), regions.map((r) => h('option', { value: r }, r)));
      region.value = view.region;
    }
    const rows = visibleWorkers();
    count.textContent = `${rows.length} of ${store.workers.size}`;
    if (!store.loaded.has('workers')) { replace(body, h('p', { class: 'muted' }, 'Loading workers…')); return; }
    if (!rows.length) { replace(body, h('p', { class: 'muted' }, store.workers.size ? 'No worker matches the filters.' : 'No workers yet.')); return; }
    const open = (w) => { location.hash = `#/workers/${w.id}`; };
    if (tableMode) {
      replace(body, h('div', { class: 'table-wrap panel' }, h('table', { class: 'table', id: 'workers-table' },
        h('thead', {}, h('tr', {}, header('Name', 'name'), header('Status', 'status'), header('Region', 'region', 'hide-sm'), header('Type', 'type', 'hide-sm'),
          header('CPU', 'cpu'), header('Memory', 'memory'), header('Disk', 'disk', 'hide-sm'), header('Labs', 'labs'),
          header('Idle pause in', 'idle', 'hide-sm'), header('Next refresh', 'refresh', 'hide-sm'), h('th', {}, 'Actions'))),
        h('tbody', {}, rows.map((w) => {
          const u = utilisation(w);
          return h('tr', { class: 'clickable', 'data-worker': w.id, 'data-name': w.meta.name, onclick: () => open(w) },
            h('td', {}, h('a', { href: `#/workers/${w.id}`, onclick: (e) => e.stopPropagation() }, w.meta.name)),
            h('td', {}, statusBadge(w.status.lifecycle)),
            h('td', { class: 'hide-sm' }, w.region), h('td', { class: 'hide-sm' }, w.instance_type),
            h('td', {}, bar(u.cpu, 'CPU')), h('td', {}, bar(u.memory, 'Memory')), h('td', { class: 'hide-sm' }, bar(u.disk, 'Disk')),
            h('td', {}, String(cmlMetrics(w)?.labs_count ?? '—')),
            h('td', { class: 'hide-sm' }, idleCell(w)),
            h('td', { class: 'hide-sm' }, countdown(w.status.next_refresh_at, { past: 'due' })),
            h('td', {}, h('div', { class: 'actions' }, powerButtons(w))));
        })))));
    } else {
      replace(body, h('div', { class: 'grid grid-cards', id: 'workers-cards' }, rows.map((w) => {
        const u = utilisation(w);
        return h('article', { class: 'card', 'data-worker': w.id, 'data-name': w.meta.name, tabindex: 0, onclick: () => open(w), onkeydown: (e) => { if (e.key === 'Enter') open(w); } },
          h('div', { class: 'title' }, h('span', {}, w.meta.name), statusBadge(w.status.lifecycle)),
          h('div', { class: 'muted small' }, `${w.region} · ${w.instance_type} · ${cmlMetrics(w)?.labs_count ?? 0} labs`),
          h('div', { class: 'meters' }, 'CPU', bar(u.cpu, 'CPU'), 'Memory', bar(u.memory, 'Memory'), 'Disk', bar(u.disk, 'Disk')),
          h('div', { class: 'muted small' }, 'Idle pause in ', idleCell(w), ' · next refresh ', countdown(w.status.next_refresh_at, { past: 'due' })));
      })));
    }
  };
  draw();
  return subscribe((topics) => { if (topics.has('workers')) draw(); });
}
