// One worker: overview, AWS, CML, metrics charts, labs, jobs, events.

import { h, replace, statusBadge, badge, bar, countdown, can, act, confirmDialog, kv, table, toast } from './ui.js';
import { store, subscribe, loadWorker, loadIdle, loadJobs, later } from './store.js';
import { api, readHistory } from './api.js';
import { fmtTime, fmtRelative, cmlMetrics, utilisation, fmtDuration } from './format.js';
import { lineChart } from './charts.js';
import { powerButtons, boundLablets, boundLabletsNote } from './view-workers.js';
import { eventText } from './view-overview.js';

const TABS = ['overview', 'aws', 'cml', 'metrics', 'labs', 'jobs', 'events'];
const TAB_LABEL = { overview: 'Overview', aws: 'AWS', cml: 'CML', metrics: 'Metrics', labs: 'Labs', jobs: 'Jobs', events: 'Events' };

function adminButtons(w) {
  const out = [];
  const name = w.meta.name;
  if (can('manager')) {
    out.push(h('button', { class: 'btn', type: 'button', 'data-action': 'refresh', onclick: async () => {
      await act(`Refresh ${name}`, () => api('POST', `/api/v1/workers/${w.id}/refresh`), { success: 'observed' });
      loadWorker(w.id).catch(() => {});
    } }, 'Refresh now'));
  }
  if (can('admin')) {
    const idleOn = w.spec.idle.enabled;
    out.push(h('button', { class: 'btn', type: 'button', 'data-action': 'idle-detection', onclick: async () => {
      await act(`Idle detection ${idleOn ? 'off' : 'on'}`, () => api('PUT', `/api/v1/workers/${w.id}/idle-detection`, { body: { enabled: !idleOn } }));
      loadWorker(w.id).catch(() => {}); loadIdle(w.id);
    } }, idleOn ? 'Turn idle detection off' : 'Turn idle detection on'));
    if (!w.status.detailed_monitoring) {
      out.push(h('button', { class: 'btn', type: 'button', 'data-action': 'monitoring', onclick: () =>
        act('Detailed monitoring', () => api('POST', `/api/v1/workers/${w.id}/monitoring`), { success: 'enabled' }) }, 'Enable detailed monitoring'));
    }
    const terminate = h('input', { type: 'checkbox', id: 'terminate-instance', checked: true });
    out.push(h('button', { class: 'btn btn-danger', type: 'button', 'data-action': 'delete', onclick: async () => {
      terminate.checked = true;
      const force = boundLablets(w).length > 0;
      const ok = await confirmDialog(`Delete worker ${name}?`,
        `This removes worker "${name}" (${w.instance_id || 'no instance'}) from ccm.${boundLabletsNote(w)}`,
        { ok: `Delete ${name}`, extra: h('label', {}, terminate, ' also terminate its EC2 instance (its disks and labs are lost)') });
      if (!ok) return;
      const result = await act(`Delete ${name}`, () => api('DELETE', `/api/v1/workers/${w.id}`, { query: { terminate_instance: terminate.checked, ...(force ? { force: true } : {}) } }),
        { success: terminate.checked ? 'terminating its instance, then removing it' : 'removed (instance left running unmanaged)' });
      if (result !== undefined) loadWorker(w.id).catch(() => {});
    } }, 'Delete…'));
  }
  return out;
}

function overviewTab(el, w) {
  const u = utilisation(w);
  const idle = store.idle.get(w.id);
  const cml = cmlMetrics(w);
  const s = w.status;
  replace(el, h('div', { class: 'grid grid-2' },
    h('div', { class: 'panel' }, h('h2', {}, 'Status'), kv([
      ['Lifecycle', statusBadge(s.lifecycle)], ['EC2 state', s.ec2_state], ['Reason', s.reason],
      ['Desired', w.spec.desired_status], ['Since', fmtTime(s.transitioned_at)], ['Launched', fmtTime(s.launched_at)],
      ['Next refresh', countdown(s.next_refresh_at, { past: 'due' })],
      ['Alerts', (s.alerts || []).length ? (s.alerts || []).map((a) => badge(a, 'b-bad')) : 'none'],
      ['Created by', w.audit?.created_by], ['Labels', Object.entries(w.meta.labels || {}).map(([k, v]) => `${k}=${v}`).join(', ') || '—'],
    ])),
    h('div', { class: 'panel' }, h('h2', {}, 'Utilisation'), kv([
      ['CPU', bar(u.cpu, 'CPU')], ['Memory', bar(u.memory, 'Memory')], ['Disk', bar(u.disk, 'Disk')],
      ['Running nodes', cml ? `${cml.running_nodes} of ${cml.total_nodes}` : '—'], ['Labs', cml ? String(cml.labs_count) : '—'],
      ['Observed', fmtRelative(w.status.metrics?.cml?.observed_at)],
    ])),
    h('div', { class: 'panel' }, h('h2', {}, 'Idle pause'), idle ? kv([
      ['Detection', idle.enabled ? `on, after ${idle.timeout_minutes} min idle` : 'off'],
      ['Verdict', idle.verdict?.verdict || '—'], ['Idle since', fmtTime(idle.idle_since)], ['Last activity', fmtTime(idle.last_activity_at)],
      ['Pause in', idle.enabled && s.lifecycle === 'running' ? countdown(idle.pause_at, { past: 'pausing' }) : '—'],
      ['Pauses so far', String(idle.pause_count)],
    ]) : h('p', { class: 'muted' }, 'Loading…')),
    h('div', { class: 'panel' }, h('h2', {}, 'Capacity'), kv([
      ['Declared', `${s.capacity.declared.cpu_millis / 1000} vCPU · ${Math.round(s.capacity.declared.memory_mib / 1024)} GiB · ${s.capacity.declared.storage_gib} GiB disk`],
      ['Node slots', String(s.capacity.node_slots)], ['Lablets placed', String(Object.keys(s.capacity.allocations || {}).length)],
      ['Hand-made labs', handMade(s.capacity.unmanaged)],
    ]))));
}

// Labs built on the worker's CML without ccm: placement counts what they take.
function handMade(u) {
  if (!u || !u.labs) return 'none';
  const r = u.resources;
  return h('span', { id: 'worker-unmanaged' }, `${u.labs} lab(s), ${u.nodes} running node(s): ${r.cpu_millis / 1000} vCPU · ${(r.memory_mib / 1024).toFixed(1)} GiB · ${r.storage_gib} GiB disk`);
}

function tagsEditor(w) {
  if (!can('manager')) return null;
  const key = h('input', { placeholder: 'key', 'aria-label': 'Tag key' });
  const value = h('input', { placeholder: 'value', 'aria-label': 'Tag value' });
  return h('form', { class: 'toolbar', onsubmit: async (e) => {
    e.preventDefault();
    if (!key.value.trim()) return;
    const r = await act('Set tag', () => api('PUT', `/api/v1/workers/${w.id}/tags`, { body: { tags: { [key.value.trim()]: value.value } } }));
    if (r !== undefined) { key.value = ''; value.value = ''; loadWorker(w.id).catch(() => {}); }
  } }, key, value, h('button', { class: 'btn', type: 'submit' }, 'Set tag'));
}

function awsTab(el, w) {
  const tags = Object.entries(w.tags || {});
  replace(el, h('div', { class: 'grid grid-2' },
    h('div', { class: 'panel' }, h('h2', {}, 'Instance'), kv([
      ['Instance', h('code', {}, w.instance_id || '—')], ['Type', w.instance_type], ['Region', w.region],
      ['EC2 state', w.status.ec2_state], ['Status checks', w.status.metrics?.ec2?.value ? `instance ${w.status.metrics.ec2.value.instance_status}, system ${w.status.metrics.ec2.value.system_status}` : '—'],
      ['Detailed monitoring', w.status.detailed_monitoring ? 'on' : 'off'],
    ])),
    h('div', { class: 'panel' }, h('h2', {}, 'AMI'), w.ami ? kv([
      ['Id', h('code', {}, w.ami.id)], ['Name', w.ami.name], ['Description', w.ami.description], ['Created', fmtTime(w.ami.created_at)],
    ]) : h('p', { class: 'muted' }, 'Not known yet.')),
    h('div', { class: 'panel' }, h('h2', {}, 'Network'), kv([
      ['Public IP', w.network?.public_ip], ['Private IP', w.network?.private_ip], ['CML endpoint', w.network?.endpoint],
    ])),
    h('div', { class: 'panel' }, h('h2', {}, 'Tags'),
      table(['Key', 'Value', ''], tags.map(([k, v]) => h('tr', {}, h('td', {}, h('code', {}, k)), h('td', {}, v),
        h('td', {}, can('manager') ? h('button', { class: 'btn btn-sm', type: 'button', onclick: async () => {
          await act(`Remove tag ${k}`, () => api('DELETE', `/api/v1/workers/${w.id}/tags/${encodeURIComponent(k)}`));
          loadWorker(w.id).catch(() => {});
        } }, 'Remove') : null))), { empty: 'No tags.' }),
      tagsEditor(w))));
}

function cmlTab(el, w) {
  const c = w.status.cml;
  const l = w.status.licence;
  const licenceActions = can('admin') ? h('div', { class: 'actions' },
    h('button', { class: 'btn', type: 'button', 'data-action': 'licence-register', onclick: async () => {
      await act('Register licence', () => api('POST', `/api/v1/workers/${w.id}/licence`), { success: 'registration requested' });
      loadWorker(w.id).catch(() => {});
    } }, 'Register licence'),
    h('button', { class: 'btn', type: 'button', 'data-action': 'licence-deregister', onclick: async () => {
      const ok = await confirmDialog(`Deregister the licence of ${w.meta.name}?`, `Worker "${w.meta.name}" will stop running licensed nodes.`, { ok: 'Deregister' });
      if (!ok) return;
      await act('Deregister licence', () => api('DELETE', `/api/v1/workers/${w.id}/licence`));
      loadWorker(w.id).catch(() => {});
    } }, 'Deregister licence')) : null;
  replace(el, h('div', { class: 'grid grid-2' },
    h('div', { class: 'panel' }, h('h2', {}, 'CML service'), kv([
      ['State', c.state], ['Version', c.version], ['Ready', c.ready ? 'yes' : 'no'],
      ['Health', c.healthy === null ? '—' : c.healthy ? badge('healthy', 'b-ok') : badge('unhealthy', 'b-bad')], ['Last error', c.last_error],
    ])),
    h('div', { class: 'panel' }, h('h2', {}, 'Licence'), kv([
      ['State', l.state], ['Kind', l.kind], ['Expires', fmtTime(l.expires_at)], ['Node limit', l.node_limit === null ? '—' : String(l.node_limit)],
      ['Features', (l.features || []).map((f) => `${f.name} (${f.status})`).join(', ') || '—'], ['Last error', l.last_error],
    ]), licenceActions),
    catalogPanel(w.status.catalog)));
}

// The node and image definitions CML offers on this worker: placement only
// sends a lablet here when its topology's definitions are all listed.
function catalogPanel(catalog) {
  const title = h('h2', {}, 'Node definitions');
  if (!catalog) return h('div', { class: 'panel', id: 'worker-catalog' }, title, h('p', { class: 'muted' }, 'Not read from CML yet.'));
  const images = new Map();
  for (const [image, node] of Object.entries(catalog.image_definitions || {})) {
    if (!images.has(node)) images.set(node, []);
    images.get(node).push(image);
  }
  const rows = (catalog.node_definitions || []).map((node) => h('tr', { 'data-node-definition': node },
    h('td', {}, h('code', {}, node)), h('td', {}, (images.get(node) || []).map((i) => h('code', { class: 'chip' }, i)))));
  return h('div', { class: 'panel', id: 'worker-catalog' }, title,
    h('p', { class: 'muted small' }, `CML ${catalog.cml_version || '?'} · read ${fmtRelative(catalog.synced_at)}`,
      catalog.truncated ? ' · some entries not kept (over the size limits)' : ''),
    table(['Node definition', 'Images'], rows, { empty: 'CML offers no node definitions.' }));
}

const RANGES = { '1h': [3600, 60], '6h': [21600, 300], '24h': [86400, 900], '15m': [900, 0] };
let range = '1h';

function metricsTab(el, w) {
  const picker = h('div', { class: 'toolbar' }, 'Range:', Object.keys(RANGES).map((r) => h('button', { class: `btn btn-sm ${r === range ? 'btn-primary' : ''}`, type: 'button', onclick: () => { range = r; metricsTab(el, w); } }, r)));
  const charts = h('div', { class: 'grid grid-charts', id: 'metric-charts' }, h('p', { class: 'muted' }, 'Loading metrics…'));
  replace(el, picker, charts);
  const [span, step] = RANGES[range];
  const since = new Date(Date.now() - span * 1000).toISOString();
  api('GET', `/api/v1/workers/${w.id}/metrics`, { query: { since, step } }).then((series) => {
    const from = Date.now() - span * 1000;
    const to = Date.now();
    const pts = (k) => series.map((p) => ({ t: Date.parse(p.at), v: p[k] }));
    replace(charts,
      h('div', { class: 'panel' }, lineChart({ title: 'CPU', unit: '%', max: 100, points: pts('cpu_percent'), from, to, cls: 'chart-cpu' })),
      h('div', { class: 'panel' }, lineChart({ title: 'Memory', unit: '%', max: 100, points: pts('memory_percent'), from, to, cls: 'chart-mem' })),
      h('div', { class: 'panel' }, lineChart({ title: 'Disk', unit: '%', max: 100, points: pts('disk_percent'), from, to, cls: 'chart-disk' })),
      h('div', { class: 'panel' }, lineChart({ title: 'Running nodes', integer: true, points: pts('running_nodes'), from, to, cls: 'chart-nodes' })));
  }).catch((e) => replace(charts, h('p', { class: 'muted' }, `Metrics unavailable: ${e.message}`)));
}

// What a lab's nodes take on the worker: CPUs and memory while they run, disk always.
function labUsage(u) {
  if (!u) return '—';
  return `${u.cpus} vCPU · ${(u.memory_mib / 1024).toFixed(1)} GiB · ${u.disk_gib} GiB disk`;
}

function labsTab(el, w) {
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading labs…'));
  const mgr = can('manager');
  const importForm = mgr ? (() => {
    const title = h('input', { placeholder: 'title (optional)', 'aria-label': 'Lab title' });
    const file = h('input', { type: 'file', accept: '.yaml,.yml,text/yaml', 'aria-label': 'Topology file' });
    const text = h('textarea', { placeholder: 'Paste a CML topology (YAML) or choose a file', 'aria-label': 'Topology YAML' });
    file.addEventListener('change', async () => { if (file.files[0]) text.value = await file.files[0].text(); });
    return h('details', { class: 'panel' }, h('summary', {}, 'Import a lab (YAML topology)'),
      h('form', { onsubmit: async (e) => {
        e.preventDefault();
        const lab = await act('Import lab', () => api('POST', `/api/v1/workers/${w.id}/labs`, { body: text.value, contentType: 'application/yaml', query: { title: title.value.trim() || undefined } }),
          { success: (r) => `imported "${r.title}"` });
        if (lab) { text.value = ''; title.value = ''; load(); }
      } }, h('div', { class: 'toolbar' }, title, file), text, h('div', { class: 'actions' }, h('button', { class: 'btn btn-primary', type: 'submit' }, 'Import'))));
  })() : null;
  const refresh = mgr ? h('button', { class: 'btn', type: 'button', onclick: async () => {
    const labs = await act('Refresh labs', () => api('POST', `/api/v1/workers/${w.id}/labs/refresh`), { success: (r) => `${r.length} lab(s)` });
    if (labs) draw(labs);
  } }, 'Refresh from CML') : null;
  replace(el, h('div', { class: 'toolbar' }, refresh), list, importForm);

  const labAction = (lab, action, label) => h('button', { class: `btn btn-sm ${action === 'delete' ? 'btn-danger' : ''}`, type: 'button', 'data-action': `lab-${action}`, onclick: async () => {
    if (action === 'delete' || action === 'wipe') {
      const ok = await confirmDialog(`${label} lab "${lab.title}"?`, `${label} lab "${lab.title}" on worker "${w.meta.name}"? ${action === 'delete' ? 'It is stopped, wiped and deleted.' : 'Its nodes lose their disks.'}`, { ok: label });
      if (!ok) return;
    }
    const path = action === 'delete' ? `/api/v1/workers/${w.id}/labs/${encodeURIComponent(lab.cml_lab_id)}` : `/api/v1/workers/${w.id}/labs/${encodeURIComponent(lab.cml_lab_id)}/${action}`;
    const method = action === 'delete' ? 'DELETE' : 'POST';
    // A lablet's lab is refused (409 lab_in_use) until the operator confirms
    // once more, knowing the lablet is cancelled with it.
    const labs = await act(`${label} ${lab.title}`, async () => {
      try {
        return await api(method, path);
      } catch (e) {
        if (e.code !== 'lab_in_use') throw e;
        const again = await confirmDialog(`Lab "${lab.title}" belongs to a lablet`,
          `It belongs to lablet ${e.details?.lablet}. ${label} it anyway? The lablet is cancelled.`, { ok: `${label} anyway` });
        if (!again) throw e;
        return api(method, path, { query: { force: true } });
      }
    });
    if (labs) draw(labs);
  } }, label);

  const draw = (labs) => {
    replace(list, table(['Title', 'State', 'Owner', 'Nodes', 'Links', 'Takes', 'Synced', 'Actions'], labs.map((lab) => h('tr', { 'data-lab': lab.cml_lab_id },
      h('td', {}, lab.title, lab.description ? h('div', { class: 'muted small' }, lab.description) : null),
      h('td', {}, badge(lab.state, lab.state === 'STARTED' ? 'b-ok' : lab.state === 'STOPPED' ? 'b-idle' : 'b-info')),
      h('td', {}, lab.owner || '—'), h('td', {}, String(lab.node_count)), h('td', {}, String(lab.link_count)),
      h('td', { class: 'small', 'data-usage': lab.usage ? 'read' : 'unknown' }, labUsage(lab.usage)), h('td', {}, fmtRelative(lab.last_synced_at)),
      h('td', {}, h('div', { class: 'actions' },
        mgr && lab.state !== 'STARTED' ? labAction(lab, 'start', 'Start') : null,
        mgr && lab.state === 'STARTED' ? labAction(lab, 'stop', 'Stop') : null,
        mgr && lab.state === 'STOPPED' ? labAction(lab, 'wipe', 'Wipe') : null,
        h('a', { class: 'btn btn-sm', href: `/api/v1/workers/${w.id}/labs/${encodeURIComponent(lab.cml_lab_id)}/topology`, download: `lab-${lab.cml_lab_id}.yaml` }, 'Download'),
        mgr ? labAction(lab, 'delete', 'Delete') : null)))), { empty: 'No labs on this worker.' }));
  };
  const load = () => api('GET', `/api/v1/workers/${w.id}/labs`).then(draw).catch((e) => replace(list, h('p', { class: 'muted' }, `Labs unavailable: ${e.message}`)));
  load();
  return load;
}

function jobsTab(el, w) {
  const WORKER_JOBS = { 'metrics-sweep': 'observes EC2, CloudWatch and CML metrics', 'labs-sync': 'mirrors the labs from CML', 'idle-check': 'pauses idle workers' };
  const jobs = store.jobs.filter((j) => WORKER_JOBS[j.name]);
  replace(el, h('div', { class: 'panel' }, h('h2', {}, 'Jobs that act on this worker'),
    h('p', { class: 'muted' }, 'This worker is next observed ', countdown(w.status.next_refresh_at, { past: 'now' }), ' from now.'),
    table(['Job', 'What', 'Next run', 'Last run', 'Outcome'], jobs.map((j) => h('tr', {},
      h('td', {}, j.name), h('td', {}, WORKER_JOBS[j.name]), h('td', {}, j.paused ? 'paused' : countdown(j.next_run_at, { past: 'due' })),
      h('td', {}, fmtRelative(j.last_run_at)), h('td', {}, outcomeBadge(j))))),
    h('p', {}, h('a', { href: '#/system' }, 'All jobs →'))));
}

export function outcomeBadge(j) {
  if (!j.last_outcome) return badge('never run', 'b-idle');
  return j.last_outcome.result === 'succeeded' ? badge('succeeded', 'b-ok') : h('span', {}, badge('failed', 'b-bad'), ' ', j.last_outcome.error || '');
}

function eventsTab(el, w) {
  const list = h('ul', { class: 'events', id: 'worker-events' });
  replace(el, h('div', { class: 'panel' }, h('h2', {}, 'Events'), list));
  let events = [];
  const draw = () => {
    const live = store.events.filter((e) => e.subject.id === w.id || e.subject.id.startsWith(`${w.id}/`));
    const seen = new Set(events.map((e) => e.sequence));
    const all = [...events, ...live.filter((e) => !seen.has(e.sequence))].sort((a, b) => b.sequence - a.sequence).slice(0, 200);
    replace(list, all.length ? all.map((e) => h('li', { 'data-seq': e.sequence }, h('span', { class: 'muted' }, fmtTime(e.occurred_at)), h('span', { class: 'type' }, e.type), h('span', {}, eventText(e))))
      : h('li', { class: 'muted' }, 'No events yet.'));
  };
  const last = store.logHead ?? store.lastSequence ?? 0;
  readHistory({ worker: w.id, after: Math.max(0, last - 5000), limit: 1000 })
    .then((page) => { events = page.events; draw(); }).catch(() => draw());
  return draw;
}

export function renderWorker(main, id, tab) {
  if (!TABS.includes(tab)) tab = 'overview';
  const head = h('div', { id: 'worker-head' });
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Worker sections' }, TABS.map((t) => h('a', { href: `#/workers/${id}/${t}`, class: t === tab ? 'active' : '', 'data-tab': t }, TAB_LABEL[t])));
  const content = h('div', { id: 'worker-tab', 'data-tab': tab });
  main.append(h('p', {}, h('a', { href: '#/workers' }, '← Workers')), h('section', { 'data-view': 'worker', 'data-worker': id }, head, tabs, content));
  let tabHook = null;
  let lastKey = '';

  const drawHead = (w) => {
    replace(head, h('div', { class: 'toolbar' },
      h('h1', { id: 'worker-name' }, w.meta.name), h('span', { id: 'worker-status' }, statusBadge(w.status.lifecycle)),
      h('span', { class: 'muted small' }, `${w.region} · ${w.instance_type} · ${w.id}`)),
    h('div', { class: 'actions', id: 'worker-actions' }, powerButtons(w, { small: false }), adminButtons(w)));
  };
  const drawTab = (w) => {
    const fns = { overview: overviewTab, aws: awsTab, cml: cmlTab, metrics: metricsTab, labs: labsTab, jobs: jobsTab, events: eventsTab };
    tabHook = fns[tab](content, w) || null;
  };
  const draw = (first) => {
    const w = store.workers.get(id);
    if (!w) {
      if (store.loaded.has('workers')) replace(head, h('h1', {}, 'Worker not found'), h('p', { class: 'muted' }, `No worker ${id}.`));
      return;
    }
    // Buttons depend on the status and settings; redraw the head when they change.
    const key = `${w.status.lifecycle}|${w.spec.idle.enabled}|${w.status.detailed_monitoring}|${w.meta.name}`;
    if (first || key !== lastKey) { drawHead(w); lastKey = key; }
    if (first || ['overview', 'aws', 'cml', 'jobs'].includes(tab)) drawTab(w);
  };
  draw(true);
  if (!store.workers.has(id)) loadWorker(id).then(() => draw(true)).catch((e) => toast('Worker', e.message, 'error'));
  loadIdle(id);
  if (tab === 'jobs') loadJobs().catch(() => {});
  return subscribe((topics) => {
    if (topics.has(`worker:${id}`) || (topics.has('workers') && tab !== 'metrics')) {
      const w = store.workers.get(id);
      if (w && tab === 'metrics' && topics.has(`worker:${id}`)) later(`chart:${id}`, 5000, () => { if (location.hash.includes(`${id}/metrics`)) metricsTab(content, store.workers.get(id)); });
      draw(false);
    }
    if (topics.has(`labs:${id}`) && tab === 'labs' && tabHook) later(`labs-reload:${id}`, 300, tabHook);
    if (topics.has('events') && tab === 'events' && tabHook) tabHook();
    if (topics.has('jobs') && tab === 'jobs') draw(false);
  });
}
