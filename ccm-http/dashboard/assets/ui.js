// DOM helpers: element builder, badges, bars, countdowns, toasts, confirmation.

import { fmtDuration, fmtPct, parseTime, statusClass, phaseClass } from './format.js';

/** h('div', {class: 'x', onclick}, child, …): builds an element. */
export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'value' && !svg) el.value = v;
    else if (k === 'checked' && !svg) el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
export function replace(el, ...children) { clear(el); append(el, children); return el; }

export function statusBadge(status) {
  return h('span', { class: `badge ${statusClass(status)}`, 'data-status': status }, status || 'unknown');
}
export function phaseBadge(phase) {
  return h('span', { class: `badge ${phaseClass(phase)}`, 'data-phase': phase }, phase);
}
export function badge(text, cls = 'b-idle') { return h('span', { class: `badge ${cls}` }, text); }

/** A utilisation bar (percent or null). */
export function bar(percent, label) {
  const known = percent !== null && percent !== undefined && Number.isFinite(percent);
  const cls = !known ? 'na' : percent >= 90 ? 'bad' : percent >= 75 ? 'warn' : '';
  const fill = h('span');
  fill.style.width = known ? `${Math.min(100, Math.max(0, percent))}%` : '0';
  return h('div', { class: `bar ${cls}`, role: 'meter', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': known ? percent.toFixed(1) : undefined },
    fill, h('em', {}, known ? fmtPct(percent) : 'n/a'));
}

/** A countdown to `iso`, updated every second by the ticker. */
export function countdown(iso, { past = 'due', empty = '—' } = {}) {
  const el = h('span', { class: 'countdown', 'data-until': iso || '', 'data-past': past, 'data-empty': empty });
  tick(el);
  return el;
}

function tick(el, now = Date.now()) {
  const t = parseTime(el.dataset.until);
  if (t === null) { el.textContent = el.dataset.empty; return; }
  const s = (t - now) / 1000;
  el.textContent = s > 0 ? fmtDuration(s) : el.dataset.past;
}

setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll('.countdown')) tick(el, now);
}, 1000);

export function toast(title, text, kind = 'ok') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast ${kind === 'error' ? 'error' : ''}`, role: kind === 'error' ? 'alert' : 'status', 'data-kind': kind },
    h('strong', {}, title), text ? h('span', {}, text) : null);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 9000 : 5000);
}

/** Runs an action, then a toast with its result or its error text. */
export async function act(label, fn, { success } = {}) {
  try {
    const result = await fn();
    toast(label, typeof success === 'function' ? success(result) : (success || 'done'));
    return result;
  } catch (e) {
    toast(`${label} failed`, e.code ? `${e.message} (${e.code})` : e.message, 'error');
    return undefined;
  }
}

/** Asks for confirmation; resolves true/false. `extra` are nodes shown in the dialog. */
export function confirmDialog(title, text, { ok = 'Confirm', extra = null } = {}) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  replace(document.getElementById('confirm-extra'), extra);
  document.getElementById('confirm-ok').textContent = ok;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

const RANK = { user: 1, manager: 2, admin: 3 };
let currentRole = null;
export function setRole(role) { currentRole = role; }
export function role() { return currentRole; }
/** True when the signed-in role is at least `needed`. */
export function can(needed) { return (RANK[currentRole] || 0) >= RANK[needed]; }

export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

export function table(headers, rows, { empty = 'Nothing here yet.' } = {}) {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows)));
}
