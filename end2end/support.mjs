// Starts the release binary from a folder of its own (no target/site beside it) and a
// headless Chromium, for the browser tests.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const artifacts = join(root, 'end2end', 'artifacts');
mkdirSync(artifacts, { recursive: true });

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** A database URL for one server: a fresh Postgres database, or SQLite in the data dir. */
function databaseUrl() {
  const admin = process.env.PXECLOUD_E2E_ADMIN_URL;
  if (!admin) return null;
  const name = `pxecloud_e2e_${Math.random().toString(16).slice(2, 10)}`;
  execFileSync('psql', [admin, '-qc', `CREATE DATABASE ${name}`]);
  return admin.replace(/\/[^/]*$/, `/${name}`);
}

/** Starts `pxecloud serve` on a free loopback port, with `extraArgs`; resolves once it listens. */
export async function startServer(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'pxecloud-e2e-'));
  const binary = join(dir, 'pxecloud');
  // PXECLOUD_E2E_BINARY runs another build (a debug one, while developing).
  copyFileSync(process.env.PXECLOUD_E2E_BINARY || join(root, 'target', 'release', 'pxecloud'), binary);
  const port = await freePort();
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data')];
  const url = databaseUrl();
  if (url) args.push('--database-url', url);
  args.push(...extraArgs);
  const child = spawn(binary, args, { cwd: dir, env: { ...process.env, RUST_LOG: 'info' } });
  let log = '';
  const started = Date.now();
  await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${log}`)), 60_000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      if (log.includes('PXE Cloud is listening')) {
        clearTimeout(timer);
        done();
      }
    });
    child.on('exit', (code) => fail(new Error(`server exited with ${code}:\n${log}`)));
  });
  // The first start writes the admin's password to a file in the data folder, not the log.
  const passwordFile = join(dir, 'data', 'first-admin-password');
  const adminPassword = existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : null;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    pid: child.pid,
    adminPassword,
    passwordFile,
    startMillis: Date.now() - started,
    log: () => log,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((done) => (child.exitCode !== null ? done() : child.on('exit', done)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Launches Debian's Chromium headless, with the flags that work on this machine. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** Opens a page that fails the test on any console error, CSP violation or page crash. */
export async function openPage(browser, options = {}) {
  const context = await browser.newContext(options);
  // A script or style the Content Security Policy blocks is an error too.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console (${page.url()}): ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { context, page, problems };
}

/** Waits until the page has hydrated (the app marks <body> once its effects run). */
export async function hydrated(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
}

/**
 * Waits until `read()` gives a value deep-equal to `expected` (what the user would see once
 * the page has caught up), then returns it; fails with the last value seen.
 */
export async function eventually(read, expected, { timeout = 10_000, interval = 25 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await read();
    if (isDeepStrictEqual(last, expected)) return last;
    if (Date.now() > deadline) {
      throw new assert.AssertionError({ actual: last, expected, operator: 'deepStrictEqual', message: 'the page did not show what was expected in time' });
    }
    await new Promise((done) => setTimeout(done, interval));
  }
}

/**
 * Sends key presses to the page the way fast typing arrives: every event is handed to the
 * browser at once, without waiting for the page to handle the one before.
 * `keys` are `{ key, code, keyCode, modifiers }` (modifiers: 1 Alt, 2 Ctrl, 4 Meta, 8 Shift).
 */
export async function burstKeys(page, keys) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const sent = [];
    for (const { key, code, keyCode, modifiers = 0 } of keys) {
      const common = { key, code, windowsVirtualKeyCode: keyCode, nativeVirtualKeyCode: keyCode, modifiers };
      sent.push(cdp.send('Input.dispatchKeyEvent', { type: 'rawKeyDown', ...common }));
      sent.push(cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', ...common }));
    }
    await Promise.all(sent);
  } finally {
    await cdp.detach();
  }
}
