// SVG line charts and the lablet timeline, drawn by hand (no chart library).

import { h } from './ui.js';

const NS = 'svg:';

function niceMax(max, fixed) {
  if (fixed) return fixed;
  if (!Number.isFinite(max) || max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function hhmm(t) {
  return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** An axis label: the time, and the day too when the chart spans more than a day. */
function tick(t, span) {
  if (span <= 20 * 3600 * 1000) return hhmm(t);
  const day = new Date(t).toLocaleDateString([], { weekday: 'short' });
  return `${day} ${hhmm(t)}`;
}

/**
 * A line chart of `points` ([{t: ms, v: number|null}]) from `from` to `to` (ms).
 * Gaps (null values) break the line. `max` fixes the y range (100 for percents).
 */
export function lineChart({ title, points, from, to, max, integer = false, unit = '', cls = 'chart-cpu', width = 560, height = 220, endLabel = 'now' }) {
  const pad = { l: 40, r: 10, t: 22, b: 22 };
  const w = width - pad.l - pad.r;
  const hgt = height - pad.t - pad.b;
  const values = points.map((p) => p.v).filter((v) => v !== null && Number.isFinite(v));
  const top = integer ? Math.max(4, Math.ceil(Math.max(...values, 0) / 4) * 4) : niceMax(Math.max(...values, 0), max);
  const x = (t) => pad.l + ((t - from) / Math.max(1, to - from)) * w;
  const y = (v) => pad.t + hgt - (v / top) * hgt;
  const svg = h(`${NS}svg`, { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, 'data-chart': title, 'data-points': values.length });
  svg.append(h(`${NS}text`, { x: pad.l, y: 14, class: 'chart-title' }, `${title}${unit ? ` (${unit})` : ''}`));
  for (let i = 0; i <= 4; i++) {
    const v = (top / 4) * i;
    svg.append(h(`${NS}line`, { x1: pad.l, x2: pad.l + w, y1: y(v), y2: y(v), class: 'grid-line' }));
    svg.append(h(`${NS}text`, { x: pad.l - 4, y: y(v) + 3, 'text-anchor': 'end', class: 'axis-label' }, Number.isInteger(v) ? v : v.toFixed(1)));
  }
  for (let i = 0; i <= 4; i++) {
    const t = from + ((to - from) / 4) * i;
    svg.append(h(`${NS}text`, { x: x(t), y: height - 6, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle', class: 'axis-label' }, tick(t, to - from)));
  }
  if (!values.length) {
    svg.append(h(`${NS}text`, { x: pad.l + w / 2, y: pad.t + hgt / 2, 'text-anchor': 'middle', class: 'nodata' }, 'no data in this range'));
    return svg;
  }
  // Split into runs of known values.
  const runs = [];
  let run = [];
  for (const p of points) {
    if (p.v === null || !Number.isFinite(p.v)) { if (run.length) runs.push(run); run = []; } else run.push(p);
  }
  if (run.length) runs.push(run);
  for (const r of runs) {
    const pts = r.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
    if (r.length > 1) {
      const area = `M${x(r[0].t).toFixed(1)},${y(0)} L${pts.join(' L')} L${x(r[r.length - 1].t).toFixed(1)},${y(0)} Z`;
      svg.append(h(`${NS}path`, { d: area, class: `area ${cls}` }));
      svg.append(h(`${NS}polyline`, { points: pts.join(' '), class: `line ${cls}` }));
    } else {
      svg.append(h(`${NS}circle`, { cx: x(r[0].t), cy: y(r[0].v), r: 2.5, class: cls }));
    }
  }
  const last = [...points].reverse().find((p) => p.v !== null && Number.isFinite(p.v));
  if (last) {
    svg.append(h(`${NS}text`, { x: pad.l + w, y: 14, 'text-anchor': 'end', class: 'axis-label' }, `${endLabel} ${Number.isInteger(last.v) ? last.v : last.v.toFixed(1)}${unit === '%' ? '%' : ''}`));
  }
  return svg;
}

/**
 * The lablet timeline: one row per worker (and one for lablets not yet placed),
 * each lablet a bar over its timeslot coloured by phase.
 */
export function timeline({ rows, from, to, now = Date.now(), onClick, width = 1100 }) {
  const rowH = 26;
  const labelW = 150;
  const top = 22;
  const height = top + rows.length * rowH + 6;
  const w = width - labelW - 10;
  const x = (t) => labelW + ((Math.min(Math.max(t, from), to) - from) / (to - from)) * w;
  const svg = h(`${NS}svg`, { class: 'timeline', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'Lablet timeline' });
  const span = to - from;
  const stepMs = [15, 30, 60, 120, 240, 360, 720, 1440].map((m) => m * 60000).find((s) => span / s <= 10) || 1440 * 60000;
  for (let t = Math.ceil(from / stepMs) * stepMs; t <= to; t += stepMs) {
    svg.append(h(`${NS}line`, { x1: x(t), x2: x(t), y1: top - 4, y2: height, class: 'tick' }));
    svg.append(h(`${NS}text`, { x: x(t), y: 12, 'text-anchor': 'middle', class: 'tick-label' }, hhmm(t)));
  }
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    svg.append(h(`${NS}rect`, { x: labelW, y: y + 2, width: w, height: rowH - 4, rx: 3, class: 'row-bg' }));
    svg.append(h(`${NS}text`, { x: 4, y: y + rowH / 2 + 4, class: 'row-label' }, row.label.length > 22 ? `${row.label.slice(0, 21)}…` : row.label));
    for (const item of row.items) {
      const x1 = x(item.start);
      const x2 = Math.max(x1 + 3, x(item.end));
      const g = h(`${NS}g`, { 'data-lablet': item.id, 'data-phase': item.phase });
      const rect = h(`${NS}rect`, { x: x1, y: y + 4, width: x2 - x1, height: rowH - 8, rx: 3, class: `slot ph-${item.phase}` });
      rect.append(h(`${NS}title`, {}, item.title));
      if (onClick) rect.addEventListener('click', () => onClick(item));
      g.append(rect);
      const fits = Math.floor((x2 - x1 - 8) / 6.2);
      if (fits >= 4) g.append(h(`${NS}text`, { x: x1 + 4, y: y + rowH / 2 + 4, class: 'slot-label' }, item.label.length > fits ? `${item.label.slice(0, fits - 1)}…` : item.label));
      svg.append(g);
    }
  });
  if (now >= from && now <= to) svg.append(h(`${NS}line`, { x1: x(now), x2: x(now), y1: top - 6, y2: height, class: 'now' }));
  return svg;
}
