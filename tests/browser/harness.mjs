// What every browser test needs: a real `ictal serve` on a free port with a fresh data
// directory, Debian's headless Chromium (through playwright-core), the admin API token,
// and one way to fail that stops both and removes the directory.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Starts the server. Returns { base, port, token, dataDir, children, fail, cleanup, api }:
// fail(msg) prints FAIL and exits 1 after cleanup; api(method, path, body, token) is a
// JSON request (the admin token by default) answering { status, body, headers }.
export async function startServer(ictal, src, { timeoutS = 90 } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ictal-e2e-'));
  const portFile = join(dataDir, 'port');
  const children = [];
  const h = { dataDir, children, browsers: [] };
  h.cleanup = (code) => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    const done = () => { rmSync(dataDir, { recursive: true, force: true }); process.exit(code); };
    Promise.allSettled(h.browsers.map((b) => b.close())).then(done, done);
  };
  h.fail = (msg) => {
    console.error(`FAIL: ${msg}`);
    h.cleanup(1);
    return new Promise(() => {}); // never resolves: nothing runs after a failure
  };
  setTimeout(() => h.fail(`timed out after ${timeoutS} s`), timeoutS * 1000).unref();
  const server = spawn(ictal, ['serve', '--listen', '127.0.0.1:0', '--data', dataDir, '--port-file', portFile,
    '--model', join(src, 'tests/fixtures/server/linelength.model'), '--web', join(src, 'web'), '--quiet'],
  { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(server);
  for (let i = 0; i < 200 && !existsSync(portFile); i++) await sleep(25);
  await sleep(50);
  h.port = parseInt(readFileSync(portFile, 'utf8'), 10);
  h.token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  h.base = `http://127.0.0.1:${h.port}`;
  h.api = async (method, path, body, token = h.token) => {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const r = await fetch(h.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: await r.json().catch(() => null), headers: r.headers };
  };
  return h;
}

// A fresh Chromium profile (playwright passes it as --user-data-dir): one context.
export async function launchPersistent(h, viewport = { width: 1500, height: 1000 }) {
  const b = await chromium.launchPersistentContext(join(h.dataDir, 'chromium-profile'), {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport,
  });
  h.browsers.push(b);
  return b;
}

// A browser for several independent contexts (each its own localStorage: its own
// signed-in person).
export async function launch(h) {
  const b = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  h.browsers.push(b);
  return b;
}

// Page errors and unexpected dialogs are collected; the test fails on any at its end.
export function watch(page, errors) {
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss(); });
  return page;
}
