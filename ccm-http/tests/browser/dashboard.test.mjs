// End-to-end tests of the ccm web dashboard in headless Chromium.
//
// Starts a real OpenID Connect provider (../oidc/provider.mjs) and `ccm serve` (the
// built binary, simulated cloud with its short default delays, a temporary data
// directory), logs in with the one-time admin link the server prints, and as a
// manager and a user through the provider; then drives the dashboard the way an
// operator does. Every wait is on a condition, never a fixed sleep.
//
// Environment:
//   CCM_BIN                 the ccm binary (default $CARGO_TARGET_DIR/debug/ccm)
//   CHROMIUM                the browser (default /usr/bin/chromium)
//   DASHBOARD_SCREENSHOTS   where screenshots go (default $CARGO_TARGET_DIR/dashboard-screenshots)

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const targetDir = process.env.CARGO_TARGET_DIR || resolve(here, '../../../target');
const ccmBin = process.env.CCM_BIN || join(targetDir, 'debug', 'ccm');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = process.env.DASHBOARD_SCREENSHOTS || join(targetDir, 'dashboard-screenshots');

// The simulator boots an instance in ~45 s and CML in ~30 s more; stops take ~20 s.
const LONG = 240_000;
const SHORT = 30_000;

const children = [];
let workDir;
let base;
let loginLink;
let browser;
const serverLog = [];

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** Spawns a process and resolves with the first stdout match of `pattern`. */
function startProcess(cmd, args, options, pattern, what) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    const timer = setTimeout(() => fail(new Error(`${what} did not start in time:\n${out}`)), 60_000);
    const onData = (chunk) => {
      const text = chunk.toString();
      out += text;
      serverLog.push(`[${what}] ${text}`);
      const m = out.match(pattern);
      if (m) { clearTimeout(timer); ok({ child, match: m }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => serverLog.push(`[${what} err] ${c}`));
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`${what} exited (${code}):\n${out}`)); });
  });
}

async function newPage(viewport = { width: 1366, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 4[0-9][0-9]/.test(m.text())) errors.push(`console: ${m.text()}`); });
  page.errors = errors;
  return { context, page };
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function oidcLogin(page, account) {
  await page.goto(`${base}/auth/login?login_hint=${account}&return_to=/`);
  await page.waitForURL(`${base}/**`, { timeout: SHORT });
  await page.locator('#whoami').filter({ hasText: account }).waitFor({ timeout: SHORT });
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  workDir = mkdtempSync(join(tmpdir(), 'ccm-dashboard-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const provider = await startProcess('node', [join(here, '..', 'oidc', 'provider.mjs')], {
    cwd: here,
    env: { ...process.env, REDIRECT_URI: `${base}/auth/callback`, POST_LOGOUT_URI: `${base}/`, ACCESS_TTL: '3600' },
  }, /ready (\d+)/, 'oidc');
  const issuer = `http://127.0.0.1:${provider.match[1]}`;
  const config = join(workDir, 'ccm.toml');
  writeFileSync(config, [
    '[auth.oidc]',
    `issuer = "${issuer}"`,
    'audience = "ccm"',
    'client_id = "ccm"',
    'client_secret = "ccm-secret"',
    'scopes = "openid profile roles"',
    '',
  ].join('\n'));
  const env = { ...process.env, CCM_LISTEN: `127.0.0.1:${port}`, CCM_PUBLIC_URL: base, CCM_LOG_LEVEL: 'warn' };
  for (const k of Object.keys(env)) if (k.startsWith('CCM_') && !['CCM_LISTEN', 'CCM_PUBLIC_URL', 'CCM_LOG_LEVEL'].includes(k)) delete env[k];
  const ccm = await startProcess(ccmBin, ['serve', '--config', config, '--admin-login-link'], { cwd: workDir, env },
    /(http:\/\/\S+\/login\/once\?token=[0-9a-zA-Z]+)/, 'ccm');
  loginLink = ccm.match[1];
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('dashboard', { concurrency: 1 }, () => {
  let admin;
  let workerName;
  let workerId;

  it('serves the page and its assets from the binary, and asks for a login', async () => {
    const { context, page } = await newPage();
    const external = [];
    page.on('request', (r) => { if (!r.url().startsWith(base)) external.push(r.url()); });
    await page.goto(base);
    await page.locator('[data-view=login]').waitFor({ timeout: SHORT });
    assert.ok(await page.locator('#login-oidc').isVisible());
    assert.deepEqual(external, [], 'nothing is loaded from elsewhere');
    const css = await page.request.get(`${base}/assets/app.css`);
    assert.equal(css.status(), 200);
    assert.match(css.headers()['content-type'], /text\/css/);
    const missing = await page.request.get(`${base}/assets/nope.js`);
    assert.equal(missing.status(), 404);
    await shot(page, '00-login');
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  it('logs in with the one-time admin link and shows the fleet overview', async () => {
    admin = await newPage();
    const { page } = admin;
    await page.goto(loginLink);
    await page.waitForURL(`${base}/`);
    await page.locator('#whoami[data-role=admin]').waitFor({ timeout: SHORT });
    await page.locator('#conn[data-state=connected]').waitFor({ timeout: SHORT });
    await page.locator('[data-view=overview]').waitFor();
    await page.locator('[data-count=total] .value', { hasText: '3' }).waitFor({ timeout: SHORT });
    await page.locator('[data-money=cost] .value', { hasText: '$' }).waitFor({ timeout: SHORT });
    await page.locator('[data-money=saved] .value').filter({ hasNotText: '…' }).waitFor({ timeout: SHORT });
    await page.locator('[data-money=week] .value', { hasText: '$' }).waitFor({ timeout: SHORT });
    // The capacity forecast (managers and admins): a chart and what it says.
    await page.locator('svg[data-chart="Workers the bookings need"]').waitFor({ timeout: SHORT });
    await page.locator('[data-forecast=summary]', { hasText: 'Lead time 35 min (configured)' }).waitFor({ timeout: SHORT });
    await shot(page, '01-overview');
  });

  it('lists the workers in a sortable, searchable table and sees them come up live', async () => {
    const { page } = admin;
    await page.click('a[data-nav=workers]');
    await page.locator('#workers-table tbody tr[data-worker]').nth(2).waitFor({ timeout: SHORT });
    assert.equal(await page.locator('#workers-table tbody tr[data-worker]').count(), 3);
    // The seeded workers boot in the simulator; their badges turn running without a reload.
    await page.evaluate(() => { window.__sameDocument = true; });
    await page.locator('#workers-table tbody tr[data-worker] [data-status=running]').nth(2).waitFor({ timeout: LONG });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload happened');
    // Telemetry fills the bars.
    await page.waitForFunction(() => [...document.querySelectorAll('#workers-table [role=meter]')].some((m) => m.getAttribute('aria-valuenow')), null, { timeout: LONG });
    // Sorting by name (the default, ascending); a click turns it descending.
    await page.click('th[data-sort=name]');
    await page.locator('th[data-sort=name][aria-sort=descending]').waitFor();
    const names = await page.locator('#workers-table tbody tr[data-worker]').evaluateAll((rows) => rows.map((r) => r.dataset.name));
    assert.deepEqual(names, [...names].sort().reverse());
    // Search filters.
    await page.fill('#worker-search', names[0]);
    await page.waitForFunction(() => document.querySelectorAll('#workers-table tbody tr[data-worker]').length === 1);
    await page.fill('#worker-search', '');
    await page.locator('#workers-table tbody tr[data-worker]').nth(2).waitFor();
    // Admins see every action; dangerous ones live on the worker's page.
    assert.ok(await page.locator('#workers-table button[data-action=stop]').first().isVisible());
    assert.ok(await page.locator('summary', { hasText: 'Create a worker' }).isVisible());
    // Importing every instance of the fleet's image adopts none: each is a worker
    // already, and the answer says so instance by instance.
    await page.click('summary:text("Import running CML instances")');
    await page.selectOption('#import-form select[name=mode]', 'matching');
    await page.fill('#import-form input[name=image_name_pattern]', '*');
    await page.click('#import-form button[type=submit]');
    await page.locator('#import-result', { hasText: /^0 imported, [1-9]\d* skipped/ }).waitFor({ timeout: SHORT });
    const skipped = await page.locator('#import-result li[data-skipped]').allTextContents();
    assert.ok(skipped.length >= 1 && skipped.every((t) => /already imported as worker [0-9a-f-]{36}/.test(t)), skipped.join('\n'));
    // One unknown instance: the server's refusal is shown.
    await page.selectOption('#import-form select[name=mode]', 'one');
    await page.fill('#import-form input[name=instance_id]', 'i-00000000000000000');
    await page.click('#import-form button[type=submit]');
    await page.locator('.toast[data-kind=error]', { hasText: 'Import instance failed' }).waitFor({ timeout: SHORT });
    await shot(page, '02b-workers-import');
    workerName = names[names.length - 1];
    workerId = await page.locator(`#workers-table tr[data-name="${workerName}"]`).getAttribute('data-worker');
    await shot(page, '02-workers-admin');
  });

  it('opens a worker: overview, AWS, CML, metrics charts, labs, jobs, events', async () => {
    const { page } = admin;
    await page.click(`#workers-table tr[data-name="${workerName}"] td:first-child a`);
    await page.locator('#worker-name', { hasText: workerName }).waitFor();
    await page.locator('#worker-tab[data-tab=overview] .kv').first().waitFor();
    await shot(page, '03-worker-overview');
    await page.click('a[data-tab=aws]');
    await page.locator('#worker-tab', { hasText: /i-[0-9a-f]+/ }).waitFor();
    await page.locator('#worker-tab', { hasText: /ami-[0-9a-f]+/ }).waitFor();
    await page.click('a[data-tab=cml]');
    await page.locator('#worker-tab', { hasText: /2\.9\.\d/ }).waitFor({ timeout: LONG });
    // The node definitions CML offers, read by the monitor, each with its images.
    await page.locator('#worker-catalog tr[data-node-definition=iosv]').waitFor({ timeout: LONG });
    assert.ok(await page.locator('#worker-catalog tr[data-node-definition=alpine] code.chip').count() > 0, 'alpine lists its image');
    await page.click('a[data-tab=metrics]');
    await page.locator('svg[data-chart=CPU]').waitFor({ timeout: SHORT });
    for (const chart of ['CPU', 'Memory', 'Disk', 'Running nodes']) {
      await page.waitForFunction((c) => Number(document.querySelector(`svg[data-chart="${c}"]`)?.dataset.points) > 0, chart, { timeout: LONG });
    }
    assert.ok(await page.locator('svg[data-chart=CPU] polyline, svg[data-chart=CPU] circle').count() > 0, 'a line is drawn');
    await page.click('button:text-is("15m")');
    await page.locator('svg[data-chart=CPU] polyline, svg[data-chart=CPU] circle').first().waitFor({ timeout: SHORT });
    await shot(page, '04-worker-metrics');
    await page.click('a[data-tab=labs]');
    await page.locator('#worker-tab').filter({ hasText: /No labs on this worker|Title/ }).waitFor({ timeout: SHORT });
    // A bad topology: the server's error text is shown in a toast.
    await page.click('summary:text("Import a lab")');
    await page.fill('textarea[aria-label="Topology YAML"]', 'nodes: [oops');
    await page.click('button:text-is("Import")');
    await page.locator('.toast[data-kind=error]', { hasText: 'Import lab failed' }).waitFor({ timeout: SHORT });
    // A good one is imported and listed, then deleted after a confirmation.
    await page.fill('textarea[aria-label="Topology YAML"]', [
      'lab:', '  title: browser-test-lab', 'nodes:', '  - id: n0', '    label: r1', '    node_definition: iosv',
      '  - id: n1', '    label: r2', '    node_definition: iosv', 'links:', '  - id: l0', '    n1: n0', '    n2: n1', '',
    ].join('\n'));
    await page.click('button:text-is("Import")');
    await page.locator('.toast', { hasText: 'imported "browser-test-lab"' }).waitFor({ timeout: SHORT });
    const labRow = page.locator('tr[data-lab]', { hasText: 'browser-test-lab' });
    await labRow.waitFor({ timeout: SHORT });
    await labRow.locator('button[data-action=lab-start]').click();
    await page.locator('tr[data-lab]', { hasText: 'browser-test-lab' }).locator('button[data-action=lab-stop]').waitFor({ timeout: LONG });
    assert.ok(await page.locator('tr[data-lab] a', { hasText: 'Download' }).first().isVisible());
    // What its two running IOSv nodes take, read by the lab sync.
    await page.locator('tr[data-lab]', { hasText: 'browser-test-lab' }).locator('td[data-usage=read]', { hasText: '2 vCPU · 1.5 GiB' }).waitFor({ timeout: LONG });
    await shot(page, '05-worker-labs');
    await page.locator('tr[data-lab]', { hasText: 'browser-test-lab' }).locator('button[data-action=lab-delete]').click();
    await page.locator('#confirm[open]', { hasText: workerName }).waitFor();
    await page.click('#confirm-ok');
    await page.locator('tr[data-lab]', { hasText: 'browser-test-lab' }).waitFor({ state: 'detached', timeout: LONG });
    await page.click('a[data-tab=jobs]');
    await page.locator('#worker-tab tr', { hasText: 'metrics-sweep' }).waitFor({ timeout: SHORT });
    await page.click('a[data-tab=events]');
    await page.locator('#worker-events li[data-seq]').first().waitFor({ timeout: SHORT });
    await shot(page, '06-worker-events');
  });

  it('stops and starts a worker, with confirmation, CSRF header, toasts and live badges', async () => {
    const { page } = admin;
    await page.goto(`${base}/#/workers/${workerId}/overview`);
    const badge = page.locator('#worker-status .badge');
    await page.locator('#worker-status [data-status=running]').waitFor({ timeout: LONG });
    await page.evaluate(() => { window.__sameDocument = true; });
    const csrf = [];
    page.on('request', (r) => { if (r.method() !== 'GET') csrf.push([r.url(), r.headers()['x-csrf-token']]); });
    // Delete asks for a confirmation that names the worker; cancel it.
    await page.click('#worker-actions button[data-action=delete]');
    await page.locator('#confirm[open] #confirm-title', { hasText: workerName }).waitFor();
    await page.click('#confirm button[value=cancel]');
    await page.locator('#confirm[open]').waitFor({ state: 'detached' });
    // Stop, confirmed.
    await page.click('#worker-actions button[data-action=stop]');
    await page.locator('#confirm[open]', { hasText: workerName }).waitFor();
    await page.click('#confirm-ok');
    await page.locator('.toast', { hasText: `Stop ${workerName}` }).waitFor({ timeout: SHORT });
    await page.locator('#worker-status [data-status=stopped]').waitFor({ timeout: LONG });
    // Start: the badge moves on by itself, through booting to running.
    await page.locator('#worker-actions button[data-action=start]').click();
    await page.locator('.toast', { hasText: `Start ${workerName}` }).waitFor({ timeout: SHORT });
    await page.locator('#worker-status .badge:not([data-status=stopped])').waitFor({ timeout: LONG });
    const booting = await badge.getAttribute('data-status');
    assert.ok(['pending', 'provisioning', 'running'].includes(booting), booting);
    await shot(page, '07-worker-starting');
    await page.locator('#worker-status [data-status=running]').waitFor({ timeout: LONG });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the badge changed without a reload');
    assert.ok(csrf.length >= 2, 'state-changing requests were made');
    for (const [url, token] of csrf) assert.ok(token && token.length > 10, `${url} carries the CSRF header`);
  });

  it('reconnects the live stream and resumes after the last event', async () => {
    const { page } = admin;
    const streams = [];
    page.on('request', (r) => { if (r.url().includes('/api/v1/events/stream')) streams.push(r.url()); });
    await page.evaluate(async () => { (await import('/assets/live.js')).dropConnection(); });
    await page.locator('#conn[data-state=reconnecting]').waitFor({ timeout: SHORT });
    await page.locator('#conn[data-state=connected]').waitFor({ timeout: SHORT });
    assert.ok(streams.some((u) => /last_event_id=\d+/.test(u)), `resumed with the last sequence: ${streams}`);
  });

  it('shows lablets on a timeline, definitions, booking and the placement preview', async () => {
    const { page } = admin;
    await page.click('a[data-nav=lablets]');
    await page.locator('#lablet-timeline svg').waitFor({ timeout: SHORT });
    await page.locator('#lablet-timeline g[data-lablet]').first().waitFor({ timeout: SHORT });
    await shot(page, '08-lablets-timeline');
    await page.click('a[data-tab=list]');
    await page.locator('tr[data-lablet]').first().waitFor({ timeout: SHORT });
    const before = await page.locator('tr[data-lablet]').count();
    await page.click('summary:text("Book a lablet")');
    await page.locator('#book-lablet button[type=submit]').click();
    await page.locator('.toast', { hasText: 'booked' }).waitFor({ timeout: SHORT });
    await page.waitForFunction((n) => document.querySelectorAll('tr[data-lablet]').length === n + 1, before, { timeout: SHORT });
    // The demo's first lablet (ccna-basics, three nodes, three ports; the list
    // is newest first) lists how students reach each node's console once its lab
    // is imported: `telnet <worker address> <port>`.
    await page.locator('tr[data-lablet]', { hasText: 'ccna-basics-demo' }).last().click();
    await page.locator('#lablet-detail').waitFor({ timeout: SHORT });
    await page.waitForFunction(() => document.querySelectorAll('#lablet-access li').length === 3, null, { timeout: LONG });
    const access = await page.locator('#lablet-access li').allTextContents();
    assert.deepEqual(access.map((t) => t.split(' ')[0]), ['r1', 'r2', 'sw']);
    for (const line of access) assert.match(line, /telnet \S+ \d{4}$/, line);
    const ports = access.map((t) => Number(t.split(' ').pop()));
    assert.equal(new Set(ports).size, 3, `distinct ports: ${ports}`);
    await shot(page, '08b-lablet-access');
    await page.click('a[data-tab=definitions]');
    await page.locator('tr[data-definition]').nth(1).waitFor({ timeout: SHORT });
    await shot(page, '09-definitions');
    await page.click('a[data-tab=preview]');
    await page.fill('#preview-count', '500');
    await page.click('#lablets-tab button[type=submit]');
    await page.locator('#preview-placed').waitFor({ timeout: SHORT });
    await page.locator('#preview-reasons summary').first().waitFor({ timeout: SHORT });
    await shot(page, '10-placement-preview');
  });

  it('shows jobs, the leader, the settings in force and the version on the system page', async () => {
    const { page } = admin;
    await page.click('a[data-nav=system]');
    await page.locator('tr[data-job=metrics-sweep]').waitFor({ timeout: SHORT });
    await page.locator('tr[data-setting="engine.monitoring_interval_seconds"]').waitFor({ timeout: SHORT });
    await page.locator('tr[data-setting="licence_token_configured"]', { hasText: 'false' }).waitFor({ timeout: SHORT });
    await page.locator('#leader', { hasText: 'leader' }).waitFor({ timeout: SHORT });
    await page.locator('#server-version').filter({ hasText: /\d+\.\d+\.\d+/ }).waitFor({ timeout: SHORT });
    await page.click('tr[data-job=labs-sync] button[data-action=job-trigger]');
    await page.locator('.toast', { hasText: 'Run now labs-sync' }).waitFor({ timeout: SHORT });
    await shot(page, '11-system');
  });

  it('remembers the dark theme across reloads, and fits a phone', async () => {
    const { page } = admin;
    await page.goto(`${base}/#/overview`);
    await page.locator('[data-view=overview]').waitFor();
    const start = await page.evaluate(() => document.documentElement.dataset.theme);
    if (start !== 'dark') await page.click('#theme-toggle');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    await page.reload();
    await page.locator('[data-view=overview]').waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.equal(await page.evaluate(() => localStorage.getItem('ccm-theme')), 'dark');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(bg, 'rgb(245, 247, 250)', 'the dark palette applies');
    await page.locator('[data-count=total] .value', { hasText: '3' }).waitFor({ timeout: SHORT });
    await shot(page, '12-overview-dark');
    await page.goto(`${base}/#/workers`);
    await page.locator('#workers-table tbody tr[data-worker]').first().waitFor({ timeout: SHORT });
    await shot(page, '13-workers-dark');
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling of the page on a phone (${overflow}px)`);
    await shot(page, '14-workers-phone-dark');
    await page.click('#theme-toggle');
    assert.equal(await page.evaluate(() => localStorage.getItem('ccm-theme')), 'light');
    assert.deepEqual(page.errors, []);
  });

  it('a manager (OIDC login) may start and stop but not delete', async () => {
    const { context, page } = await newPage();
    await oidcLogin(page, 'alice');
    assert.equal(await page.locator('#whoami').getAttribute('data-role'), 'manager');
    await page.click('a[data-nav=workers]');
    await page.locator('#workers-table tbody tr[data-worker]').nth(2).waitFor({ timeout: SHORT });
    assert.ok(await page.locator('#workers-table button[data-action=stop], #workers-table button[data-action=start]').count() > 0);
    assert.equal(await page.locator('summary', { hasText: 'Create a worker' }).count(), 0);
    await page.goto(`${base}/#/workers/${workerId}/overview`);
    await page.locator('#worker-actions button[data-action=refresh]').waitFor({ timeout: SHORT });
    assert.equal(await page.locator('#worker-actions button[data-action=delete]').count(), 0, 'no delete for managers');
    assert.equal(await page.locator('#worker-actions button[data-action=idle-detection]').count(), 0, 'admin only');
    await page.click('#worker-actions button[data-action=refresh]');
    await page.locator('.toast', { hasText: `Refresh ${workerName}` }).waitFor({ timeout: SHORT });
    await page.goto(`${base}/#/system`);
    await page.locator('tr[data-job=metrics-sweep]').waitFor({ timeout: SHORT });
    assert.equal(await page.locator('button[data-action=job-trigger]').count(), 0, 'jobs are admin only');
    await shot(page, '15-worker-manager');
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  it('a user (OIDC login) sees cards and no actions', async () => {
    const { context, page } = await newPage();
    await oidcLogin(page, 'bob');
    assert.equal(await page.locator('#whoami').getAttribute('data-role'), 'user');
    await page.click('a[data-nav=workers]');
    await page.locator('#workers-cards article[data-worker]').nth(2).waitFor({ timeout: SHORT });
    assert.equal(await page.locator('#workers-table').count(), 0);
    assert.equal(await page.locator('button[data-action]').count(), 0, 'no action buttons for users');
    await shot(page, '16-workers-user-cards');
    await page.locator(`article[data-worker="${workerId}"]`).click();
    await page.locator('#worker-name', { hasText: workerName }).waitFor();
    assert.equal(await page.locator('#worker-actions button').count(), 0, 'no worker actions for users');
    await page.click('a[data-tab=labs]');
    await page.locator('#worker-tab').filter({ hasText: /No labs on this worker|Title/ }).waitFor({ timeout: SHORT });
    assert.equal(await page.locator('summary', { hasText: 'Import a lab' }).count(), 0);
    await page.click('a[data-nav=lablets]');
    await page.click('a[data-tab=list]');
    // Bob owns no lablet, and users see only their own.
    await page.locator('#lablets-tab', { hasText: 'No lablets booked.' }).waitFor({ timeout: SHORT });
    assert.equal(await page.locator('tr[data-lablet]').count(), 0, 'only their own lablets');
    assert.equal(await page.locator('#book-lablet').count(), 0, 'users cannot book (self-service is off)');
    assert.equal(await page.locator('button[data-action^=lablet-]').count(), 0);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('a[data-nav=workers]');
    await page.locator('#workers-cards article[data-worker]').first().waitFor();
    await shot(page, '17-workers-user-phone');
    assert.deepEqual(page.errors, []);
    // Logging out ends the session, here and at the provider (its logout page).
    await page.click('#logout');
    await page.waitForURL((url) => url.pathname.startsWith('/session/end'), { timeout: SHORT });
    await page.goto(base);
    await page.locator('[data-view=login]').waitFor({ timeout: SHORT });
    await context.close();
  });

  it('had no script errors on the admin page', () => {
    assert.deepEqual(admin.page.errors, []);
  });
});

process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (process.exitCode && serverLog.length) process.stderr.write(`--- server output ---\n${serverLog.join('').slice(-8000)}\n`);
});
