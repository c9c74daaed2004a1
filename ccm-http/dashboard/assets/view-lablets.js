// Lablets: the timeline (workers × time), the list, definitions, booking a
// lablet, and the placement preview with its reasons.

import { h, replace, phaseBadge, badge, can, act, confirmDialog, table, kv } from './ui.js';
import { store, subscribe, loadLablets, loadDefinitions } from './store.js';
import { api } from './api.js';
import { fmtTime, fmtUsd, shortId, PHASES } from './format.js';
import { timeline } from './charts.js';

const TABS = ['timeline', 'list', 'definitions', 'preview'];
const LABEL = { timeline: 'Timeline', list: 'Lablets', definitions: 'Definitions', preview: 'Placement preview' };
const WINDOWS = { '3h': 3, '12h': 12, '24h': 24, '3d': 72 };
let windowKey = '12h';

function defName(id) {
  const d = store.definitions.find((x) => x.id === id);
  return d ? `${d.meta.name} ${d.version}` : shortId(id);
}

function workerName(id) {
  return id ? (store.workers.get(id)?.meta.name || shortId(id)) : '—';
}

function timelineTab(el) {
  const hours = WINDOWS[windowKey];
  const now = Date.now();
  const from = now - hours * 3600000 * 0.25;
  const to = now + hours * 3600000 * 0.75;
  const workers = [...store.workers.values()].filter((w) => w.status.lifecycle !== 'terminated').sort((a, b) => a.meta.name.localeCompare(b.meta.name));
  const item = (l) => ({
    id: l.id, phase: l.status.phase, start: Date.parse(l.spec.timeslot.start), end: Date.parse(l.spec.timeslot.end),
    label: `${l.meta.name} · ${l.status.phase}`,
    title: `${l.meta.name} (${defName(l.spec.definition_id)})\n${l.status.phase}\n${fmtTime(l.spec.timeslot.start)} – ${fmtTime(l.spec.timeslot.end)}\nowner ${l.spec.owner}`,
  });
  const inWindow = (l) => Date.parse(l.spec.timeslot.end) >= from && Date.parse(l.spec.timeslot.start) <= to;
  const rows = workers.map((w) => ({ label: w.meta.name, items: store.lablets.filter((l) => l.status.worker_id === w.id && inWindow(l)).map(item) }));
  const unplaced = store.lablets.filter((l) => !l.status.worker_id && inWindow(l));
  rows.push({ label: 'not placed', items: unplaced.map(item) });
  const picker = h('div', { class: 'toolbar' }, 'Window:', Object.keys(WINDOWS).map((k) => h('button', { class: `btn btn-sm ${k === windowKey ? 'btn-primary' : ''}`, type: 'button', onclick: () => { windowKey = k; timelineTab(el); } }, k)));
  replace(el, picker, h('div', { class: 'panel', id: 'lablet-timeline' },
    timeline({ rows, from, to, now, onClick: (it) => { location.hash = `#/lablets/list/${it.id}`; } }),
    h('div', { class: 'legend' }, PHASES.map((p) => h('span', {}, h('i', { class: `ph-${p}` }), p)))));
}

// Managers and admins act on every lablet; users on their own (the server says the same).
function mayAct(l) { return can('manager') || l.spec.owner === store.session?.subject; }

// How students reach the lab: one line per console node, as the command they
// type (`telnet <host> <port>`). Records from before access was kept have none.
function accessList(access) {
  if (!access?.length) return '—';
  return h('ul', { id: 'lablet-access' }, access.map((a) => h('li', { 'data-node': a.node },
    h('strong', {}, a.label), ' ', h('code', {}, `${a.protocol} ${a.host} ${a.port}`))));
}

function listTab(el, selected) {
  const rows = [...store.lablets].sort((a, b) => Date.parse(b.spec.timeslot.start) - Date.parse(a.spec.timeslot.start));
  const action = (l, what) => h('button', { class: `btn btn-sm ${what === 'delete' ? 'btn-danger' : ''}`, type: 'button', 'data-action': `lablet-${what}`, onclick: async () => {
    const label = what === 'delete' ? 'Delete' : 'Cancel';
    const ok = await confirmDialog(`${label} lablet ${l.meta.name}?`, `${label} lablet "${l.meta.name}"${l.status.worker_id ? ` on worker "${workerName(l.status.worker_id)}"` : ''}? Its lab is torn down.`, { ok: label });
    if (!ok) return;
    await act(`${label} ${l.meta.name}`, () => (what === 'delete' ? api('DELETE', `/api/v1/lablets/${l.id}`) : api('POST', `/api/v1/lablets/${l.id}/cancel`)));
    loadLablets().catch(() => {});
  } }, label(what));
  function label(what) { return what === 'delete' ? 'Delete' : 'Cancel'; }
  const detail = selected ? store.lablets.find((l) => l.id === selected) : null;
  replace(el,
    detail ? h('div', { class: 'panel', id: 'lablet-detail' }, h('h2', {}, `Lablet ${detail.meta.name}`), kv([
      ['Phase', phaseBadge(detail.status.phase)], ['Definition', defName(detail.spec.definition_id)], ['Owner', detail.spec.owner],
      ['Timeslot', `${fmtTime(detail.spec.timeslot.start)} – ${fmtTime(detail.spec.timeslot.end)}`], ['Worker', workerName(detail.status.worker_id)],
      ['Ports', detail.status.ports.join(', ') || '—'], ['Access', accessList(detail.status.access)], ['CML lab', detail.status.cml_lab_id], ['Attempts', String(detail.status.attempts)], ['Last error', detail.status.last_error],
      ['History', h('ul', {}, detail.status.history.map((p) => h('li', {}, `${fmtTime(p.at)}: ${p.from} → ${p.to}${p.reason ? ` (${p.reason})` : ''}`)))],
    ])) : null,
    h('div', { class: 'panel' }, table(['Name', 'Phase', 'Definition', 'Owner', 'Start', 'End', 'Worker', 'Ports', ''], rows.map((l) => h('tr', { 'data-lablet': l.id, class: 'clickable', onclick: () => { location.hash = `#/lablets/list/${l.id}`; } },
      h('td', {}, l.meta.name), h('td', {}, phaseBadge(l.status.phase)), h('td', {}, defName(l.spec.definition_id)), h('td', {}, l.spec.owner),
      h('td', {}, fmtTime(l.spec.timeslot.start)), h('td', {}, fmtTime(l.spec.timeslot.end)), h('td', {}, workerName(l.status.worker_id)),
      h('td', {}, l.status.ports.join(', ') || '—'),
      h('td', { onclick: (e) => e.stopPropagation() }, h('div', { class: 'actions' },
        mayAct(l) && !['terminated', 'failed', 'expired', 'stopped'].includes(l.status.phase) ? action(l, 'cancel') : null,
        mayAct(l) ? action(l, 'delete') : null)))), { empty: 'No lablets booked.' })));
}

function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

function bookForm() {
  const def = h('select', { 'aria-label': 'Definition', required: true, id: 'book-definition' }, store.definitions.filter((d) => d.active).map((d) => h('option', { value: d.id }, `${d.meta.name} ${d.version}`)));
  const start = h('input', { type: 'datetime-local', value: toLocalInput(Date.now() + 5 * 60000), 'aria-label': 'Start', required: true });
  const minutes = h('input', { type: 'number', min: 5, value: 60, 'aria-label': 'Minutes', required: true });
  // Users book for themselves only, so only managers and admins name an owner.
  const owner = h('input', { placeholder: 'owner (you when empty)', 'aria-label': 'Owner' });
  const ownerField = can('manager') ? h('label', { class: 'field' }, 'Owner', owner) : null;
  return h('details', { class: 'panel', open: store.lablets.length === 0 }, h('summary', {}, 'Book a lablet'),
    h('form', { class: 'form-grid', id: 'book-lablet', onsubmit: async (e) => {
      e.preventDefault();
      const s = new Date(start.value).getTime();
      const body = { definition_id: def.value, timeslot: { start: new Date(s).toISOString(), end: new Date(s + Number(minutes.value) * 60000).toISOString() } };
      if (owner.value.trim()) body.owner = owner.value.trim();
      const l = await act('Book lablet', () => api('POST', '/api/v1/lablets', { body }), { success: (r) => `${r.meta.name} booked (${r.status.phase})` });
      if (l) loadLablets().catch(() => {});
    } },
    h('label', { class: 'field' }, 'Definition', def), h('label', { class: 'field' }, 'Start', start),
    h('label', { class: 'field' }, 'Minutes', minutes), ownerField,
    h('button', { class: 'btn btn-primary', type: 'submit' }, 'Book')));
}

function definitionsTab(el) {
  const admin = can('admin');
  replace(el, h('div', { class: 'panel' }, table(['Name', 'Version', 'Needs', 'Max', 'Licence', 'Min CML', 'Active', ''], store.definitions.map((d) => h('tr', { 'data-definition': d.id },
    h('td', {}, h('details', {}, h('summary', {}, d.meta.name), h('pre', { class: 'yaml' }, d.topology_yaml))),
    h('td', {}, d.version),
    h('td', {}, `${d.needs.resources.cpu_millis / 1000} vCPU · ${Math.round(d.needs.resources.memory_mib / 1024 * 10) / 10} GiB · ${d.needs.resources.storage_gib} GiB · ${d.needs.nodes} nodes · ${d.needs.ports} ports`),
    h('td', {}, `${d.max_duration_minutes} min`), h('td', {}, d.licence_affinity || 'any'), h('td', {}, d.min_cml_version || '—'),
    h('td', {}, d.active ? badge('active', 'b-ok') : badge('inactive', 'b-idle')),
    h('td', {}, admin ? h('button', { class: 'btn btn-sm', type: 'button', onclick: async () => {
      await act(`${d.active ? 'Deactivate' : 'Activate'} ${d.meta.name}`, () => api('PUT', `/api/v1/definitions/${d.id}/active`, { body: { active: !d.active } }));
      loadDefinitions().catch(() => {});
    } }, d.active ? 'Deactivate' : 'Activate') : null))), { empty: 'No definitions.' })));
}

function definitionForm() {
  const f = {
    name: h('input', { required: true, 'aria-label': 'Name' }), version: h('input', { required: true, value: '1.0.0', 'aria-label': 'Version' }),
    cpu: h('input', { type: 'number', min: 0, step: 0.5, value: 2, 'aria-label': 'vCPU' }), mem: h('input', { type: 'number', min: 0, value: 4096, 'aria-label': 'Memory MiB' }),
    disk: h('input', { type: 'number', min: 0, value: 20, 'aria-label': 'Disk GiB' }), nodes: h('input', { type: 'number', min: 0, value: 2, 'aria-label': 'Nodes' }),
    ports: h('input', { type: 'number', min: 0, value: 2, 'aria-label': 'Ports' }), max: h('input', { type: 'number', min: 1, value: 240, 'aria-label': 'Max minutes' }),
    yaml: h('textarea', { required: true, placeholder: 'lab:\n  title: my-lab\nnodes: []\nlinks: []', 'aria-label': 'Topology YAML' }),
  };
  return h('details', { class: 'panel' }, h('summary', {}, 'Create a definition (or a new version)'),
    h('form', { onsubmit: async (e) => {
      e.preventDefault();
      const body = {
        name: f.name.value.trim(), version: f.version.value.trim(), topology_yaml: f.yaml.value,
        needs: { resources: { cpu_millis: Math.round(Number(f.cpu.value) * 1000), memory_mib: Number(f.mem.value), storage_gib: Number(f.disk.value) }, nodes: Number(f.nodes.value), ports: Number(f.ports.value) },
        licence_affinity: null, min_cml_version: null, max_duration_minutes: Number(f.max.value), warm_pool_depth: 0,
      };
      const d = await act('Create definition', () => api('POST', '/api/v1/definitions', { body }), { success: (r) => `${r.meta.name} ${r.version}` });
      if (d) loadDefinitions().catch(() => {});
    } }, h('div', { class: 'form-grid' },
      h('label', { class: 'field' }, 'Name', f.name), h('label', { class: 'field' }, 'Version', f.version), h('label', { class: 'field' }, 'vCPU', f.cpu),
      h('label', { class: 'field' }, 'Memory (MiB)', f.mem), h('label', { class: 'field' }, 'Disk (GiB)', f.disk), h('label', { class: 'field' }, 'Nodes', f.nodes),
      h('label', { class: 'field' }, 'Ports', f.ports), h('label', { class: 'field' }, 'Max minutes', f.max)),
    h('label', { class: 'field' }, 'Topology (CML YAML)', f.yaml), h('div', { class: 'actions' }, h('button', { class: 'btn btn-primary', type: 'submit' }, 'Create'))));
}

function previewTab(el) {
  const def = h('select', { 'aria-label': 'Definition', id: 'preview-definition' }, store.definitions.map((d) => h('option', { value: d.id }, `${d.meta.name} ${d.version}`)));
  const count = h('input', { type: 'number', min: 1, max: 1000, value: 5, 'aria-label': 'Count', id: 'preview-count' });
  const policy = h('select', { 'aria-label': 'Policy' }, h('option', { value: '' }, 'configured policy'), h('option', { value: 'pack' }, 'pack'), h('option', { value: 'spread' }, 'spread'));
  const out = h('div', { id: 'preview-result' });
  replace(el, h('div', { class: 'panel' },
    h('p', { class: 'muted' }, 'Where lablets of a definition would go now, and why the other workers refuse. Writes nothing.'),
    h('form', { class: 'form-grid', onsubmit: async (e) => {
      e.preventDefault();
      const body = { definition_id: def.value, count: Number(count.value) };
      if (policy.value) body.policy = policy.value;
      try {
        showPlan(out, await api('POST', '/api/v1/placement/preview', { body }));
      } catch (err) {
        replace(out, h('p', { class: 'preview-no' }, `${err.message} (${err.code})`));
      }
    } }, h('label', { class: 'field' }, 'Definition', def), h('label', { class: 'field' }, 'Lablets', count), h('label', { class: 'field' }, 'Policy', policy),
    h('button', { class: 'btn btn-primary', type: 'submit' }, 'Preview'))), out);
}

function showPlan(out, plan) {
  const SHOWN = 50;
  // Lablets left over for the same reasons are shown once, with their count.
  const groups = new Map();
  for (const u of plan.unplaced) {
    const key = `${u.dominant_reason}|${JSON.stringify(u.reasons)}`;
    if (!groups.has(key)) groups.set(key, { first: u, count: 0 });
    groups.get(key).count += 1;
  }
  replace(out,
    h('div', { class: 'panel' }, kv([
      ['Policy', typeof plan.policy === 'string' ? plan.policy : JSON.stringify(plan.policy)], ['Workers considered', String(plan.workers_considered)],
      ['Placed', h('span', { class: 'preview-ok', id: 'preview-placed' }, String(plan.placed.length))],
      ['Not placed', h('span', { class: plan.unplaced.length ? 'preview-no' : '', id: 'preview-unplaced' }, String(plan.unplaced.length))],
      ['Scale-up', plan.scale_up.length ? `${plan.scale_up.map((l) => `${l.workers} × ${l.instance_type} for ${l.lablets} lablet(s)`).join(', ')} — ${fmtUsd(plan.scale_up_hourly_usd)}/h` : 'none needed'],
    ])),
    plan.unplaced.length ? h('div', { class: 'panel', id: 'preview-reasons' }, h('h3', {}, 'Not placed, and why'), [...groups.values()].map(({ first: u, count }) => h('details', { open: groups.size === 1 },
      h('summary', {}, `${count} lablet(s): ${u.dominant_reason || 'no worker'} `, h('span', { class: 'muted small' }, Object.entries(u.reasons).map(([r, n]) => `${r} on ${n} worker(s)`).join(', '))),
      table(['Worker', 'Refused because'], u.workers.map((r) => h('tr', {}, h('td', {}, r.worker_name), h('td', {}, r.reason))), { empty: 'No worker to consider.' })))) : null,
    h('div', { class: 'panel' }, h('h3', {}, 'Placed'),
      table(['#', 'Worker', 'Ports'], plan.placed.slice(0, SHOWN).map((p) => h('tr', {}, h('td', {}, String(p.index + 1)), h('td', {}, p.worker_name), h('td', {}, p.ports.join(', ')))), { empty: 'Nothing placed.' }),
      plan.placed.length > SHOWN ? h('p', { class: 'muted' }, `… and ${plan.placed.length - SHOWN} more.`) : null,
      plan.placed.length ? h('p', { class: 'muted small' }, 'Per worker: ', Object.entries(plan.placed.reduce((acc, p) => { acc[p.worker_name] = (acc[p.worker_name] || 0) + 1; return acc; }, {})).map(([w, n]) => `${w} × ${n}`).join(', ')) : null));
}

export function renderLablets(main, tab) {
  const [sub, selected] = [tab, location.hash.split('/')[3]];
  const current = TABS.includes(sub) ? sub : 'timeline';
  const content = h('div', { id: 'lablets-tab', 'data-tab': current });
  // Forms live outside the redrawn part, so live updates never wipe what is typed.
  const forms = h('div', { id: 'lablets-forms' });
  main.append(h('h1', {}, 'Lablets'), h('section', { 'data-view': 'lablets' },
    h('nav', { class: 'tabs' }, TABS.map((t) => h('a', { href: `#/lablets/${t}`, class: t === current ? 'active' : '', 'data-tab': t }, LABEL[t]))), content, forms));
  let formDefs = null;
  const drawForms = () => {
    const defs = store.definitions.map((d) => `${d.id}${d.active}`).join();
    if (defs === formDefs) return;
    formDefs = defs;
    if (current === 'list' && store.session?.can_book_lablets) replace(forms, bookForm());
    if (current === 'definitions' && can('admin') && !forms.childElementCount) replace(forms, definitionForm());
  };
  drawForms();
  const draw = () => {
    if (current === 'timeline') timelineTab(content);
    else if (current === 'list') listTab(content, selected);
    else if (current === 'definitions') definitionsTab(content);
  };
  if (current === 'preview') previewTab(content); else draw();
  const tick = current === 'timeline' ? setInterval(draw, 30000) : null;
  const unsub = subscribe((topics) => {
    if (current === 'preview') { if (topics.has('definitions') && !content.querySelector('#preview-result')?.childElementCount) previewTab(content); return; }
    if (topics.has('definitions') && !forms.querySelector(':focus')) drawForms();
    if (topics.has('lablets') || topics.has('definitions') || (current === 'timeline' && topics.has('workers'))) draw();
  });
  return () => { unsub(); if (tick) clearInterval(tick); };
}
