// Formatting helpers: times, durations, money, percentages, status colours.

export function parseTime(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

export function fmtTime(iso) {
  const t = parseTime(iso);
  if (t === null) return '—';
  const d = new Date(t);
  const sameDay = new Date().toDateString() === d.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "in 1m 05s" / "3s ago" relative to now. */
export function fmtRelative(iso, now = Date.now()) {
  const t = parseTime(iso);
  if (t === null) return '—';
  const diff = (t - now) / 1000;
  if (Math.abs(diff) < 1) return 'now';
  return diff > 0 ? `in ${fmtDuration(diff)}` : `${fmtDuration(-diff)} ago`;
}

export function fmtUsd(value, digits = 2) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `$${value.toFixed(digits)}`;
}

export function fmtPct(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${value.toFixed(value < 10 ? 1 : 0)}%`;
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : '—';
}

const STATUS_CLASS = {
  running: 'b-ok', provisioning: 'b-info', pending: 'b-info', stopping: 'b-warn',
  stopped: 'b-idle', 'shutting-down': 'b-warn', terminated: 'b-idle', failed: 'b-bad', unknown: 'b-warn',
};
export function statusClass(status) { return STATUS_CLASS[status] || 'b-idle'; }

const PHASE_CLASS = {
  pending: 'b-idle', scheduled: 'b-info', instantiating: 'b-info', ready: 'b-ok', running: 'b-ok',
  stopping: 'b-warn', stopped: 'b-idle', terminated: 'b-idle', failed: 'b-bad', expired: 'b-warn',
};
export function phaseClass(phase) { return PHASE_CLASS[phase] || 'b-idle'; }

export const LIFECYCLES = ['pending', 'provisioning', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated', 'failed', 'unknown'];
export const PHASES = ['pending', 'scheduled', 'instantiating', 'ready', 'running', 'stopping', 'stopped', 'terminated', 'failed', 'expired'];

/** The CML telemetry of a worker (or null). */
export function cmlMetrics(worker) {
  return worker?.status?.metrics?.cml?.value ?? null;
}

/** CPU/memory/disk: CML telemetry first, CloudWatch otherwise. */
export function utilisation(worker) {
  // Readings of a worker that is not running are stale: show none.
  if (worker?.status?.lifecycle !== 'running') return { cpu: null, memory: null, disk: null };
  const cml = cmlMetrics(worker) || {};
  const cw = worker?.status?.metrics?.cloudwatch?.value || {};
  const pick = (k) => (cml[k] ?? cw[k] ?? null);
  return { cpu: pick('cpu_percent'), memory: pick('memory_percent'), disk: pick('disk_percent') };
}
