// The in-memory demo restarts and forgets every list: a page still showing
// one must say so when an edit to it cannot be saved, not roll it back in
// silence. This file runs its own demo server (the same binary the other
// tests use), so it can stop and start it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  launch, openPage, waitForHydration, waitForItems, addItem, createList, unique,
} from '../support.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const APP = process.env.APP_BIN ?? path.join(root, 'target', 'debug', 'app');
const ADDR = process.env.RESTART_ADDR ?? '127.0.0.1:3117';
const URL = `http://${ADDR}`;

// Starts the demo on ADDR (in memory) and resolves once it answers.
async function startServer() {
  const env = { ...process.env, LEPTOS_SITE_ADDR: ADDR, RUST_LOG: 'warn' };
  delete env.PELOTON_MONGO_URL;
  delete env.PELOTON_REDIS_URL;
  const server = spawn(APP, [], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.stopped = async () => { server.kill('SIGINT'); await exited; };
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`${URL}/`)).ok) return server;
    } catch { /* not listening yet */ }
    if (server.exitCode !== null) throw new Error(`the demo (${APP}) exited: ${server.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the demo did not answer on ${URL}`);
}

let browser;
let server;
before(async () => {
  browser = await launch();
  server = await startServer();
});
after(async () => {
  await browser?.close();
  await server?.stopped();
});

test('after the in-memory server restarts, an edit to a list it lost says the list is gone', async () => {
  const page = await openPage(browser);
  await page.goto(await createList(page, unique('Forgotten'), URL));
  await waitForHydration(page);
  await page.waitForSelector('header .status[data-state="connected"]');
  await addItem(page, 'before the restart');
  await waitForItems(page, ['before the restart'], 5000);

  await server.stopped();
  await page.waitForSelector('header .status:not([data-state="connected"])', { timeout: 10_000 });
  server = await startServer();
  await page.waitForSelector('header .status[data-state="connected"]', { timeout: 30_000 });

  await addItem(page, 'after the restart');
  const alert = page.getByRole('alert');
  await page.waitForFunction(
    () => /no longer exists on the server/.test(document.querySelector('[role=alert]').textContent),
    null, { timeout: 10_000 },
  );
  assert.match(await alert.textContent(), /Reload the page/);
  await page.context().close();
});
