// Edits made offline outlive the page: kept in IndexedDB, sent by the next
// page of the origin when it opens online, exactly once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BASE_URL, launch, launchPersistent, openPage, watch, waitForHydration, waitForItems,
  storedRecords, unique, createList, addItem,
} from '../support.js';

let browser;
const dirs = [];
before(async () => { browser = await launch(); });
after(async () => {
  await browser?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const profile = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'peloton-offline-'));
  dirs.push(dir);
  return dir;
};

// Creates a list and opens it twice, the second time through the service
// worker, which then keeps copies of the page and its files; its URL.
async function openListKept(page, title) {
  const url = await createList(page, title);
  await page.goto(url);
  await waitForHydration(page);
  await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 10_000 });
  await page.reload();
  await waitForHydration(page);
  await page.waitForSelector('header .status[data-state="connected"]');
  return url;
}

// What the server has: the list as a fresh browser sees it.
async function serverItems(url) {
  const page = await openPage(browser);
  await page.goto(url);
  await waitForHydration(page);
  const items = await page.$$eval('ul.items li input.text', (inputs) => inputs.map((i) => i.value));
  await page.context().close();
  return items;
}

async function until(what, check, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// The connection's reconnect attempts while offline are the only console
// noise allowed.
const problems = (page) =>
  page.problems.filter((m) => !/WebSocket|ERR_INTERNET_DISCONNECTED|net::/.test(m));

test('edits made offline survive closing the browser and reach the server once', async () => {
  const dir = profile();
  let context = await launchPersistent(dir);
  let page = watch(await context.newPage());
  const url = await createList(page, unique('Offline trip'));
  await page.goto(url);
  await waitForHydration(page);
  await page.waitForSelector('header .status[data-state="connected"]');

  await context.setOffline(true);
  await page.waitForSelector('header .status[data-state="offline"]');
  await addItem(page, 'tent');
  await addItem(page, 'stove');
  await waitForItems(page, ['tent', 'stove']);
  // Stored before the browser goes away.
  await until('the edits stored', async () => {
    const records = await storedRecords(page);
    return records.some((r) => r.docs.some((d) => d.data?.items?.length === 2));
  });
  assert.deepEqual(problems(page), []);
  await context.close();
  assert.deepEqual(await serverItems(url), [], 'nothing reached the server yet');

  // The browser opens again, online: the edits go out, once.
  context = await launchPersistent(dir);
  page = watch(await context.newPage());
  await page.goto(url);
  await waitForHydration(page);
  await waitForItems(page, ['tent', 'stove'], 10_000);
  await until('nothing left to send', async () => (await storedRecords(page)).every((r) => r.docs.length === 0));
  await page.reload();
  await waitForHydration(page);
  await waitForItems(page, ['tent', 'stove']);
  assert.deepEqual(await serverItems(url), ['tent', 'stove'], 'each edit once on the server');
  assert.deepEqual(problems(page), []);
  await context.close();
});

test('two tabs offline at once each send their own edits, once', async () => {
  const context = await launchPersistent(profile());
  const first = watch(await context.newPage());
  const url = await createList(first, unique('Two tabs'));
  const second = watch(await context.newPage());
  await first.goto(url);
  await second.goto(url);
  await Promise.all([waitForHydration(first), waitForHydration(second)]);
  await first.waitForSelector('header .status[data-state="connected"]');
  await second.waitForSelector('header .status[data-state="connected"]');

  await context.setOffline(true);
  await first.waitForSelector('header .status[data-state="offline"]');
  await second.waitForSelector('header .status[data-state="offline"]');
  await addItem(first, 'from the first');
  await addItem(second, 'from the second');
  await until('both tabs stored their edit', async () =>
    (await storedRecords(first)).filter((r) => r.docs.length > 0).length === 2);
  await context.setOffline(false);
  await until('nothing left to send', async () => (await storedRecords(first)).every((r) => r.docs.length === 0));
  const items = (await serverItems(url)).sort();
  assert.deepEqual(items, ['from the first', 'from the second'], 'each once');
  assert.deepEqual(problems(first), []);
  assert.deepEqual(problems(second), []);
  await context.close();
});

test('a page visited before opens offline with the edits made offline, and they reach the server once', async () => {
  const dir = profile();
  let context = await launchPersistent(dir);
  let page = watch(await context.newPage());
  const url = await openListKept(page, unique('Cabin'));

  await context.setOffline(true);
  await page.waitForSelector('header .status[data-state="offline"]');
  await addItem(page, 'wood');
  await waitForItems(page, ['wood']);
  await until('the edit stored', async () =>
    (await storedRecords(page)).some((r) => r.docs.some((d) => d.data?.items?.length === 1)));
  await context.close();

  // Offline, the page opens from the service worker's copy, with the edit.
  context = await launchPersistent(dir);
  await context.setOffline(true);
  page = watch(await context.newPage());
  const response = await page.goto(url);
  assert.ok(response.fromServiceWorker(), 'served by the service worker');
  await waitForHydration(page);
  await waitForItems(page, ['wood'], 10_000);
  await addItem(page, 'matches');
  await waitForItems(page, ['wood', 'matches']);
  await until('both stored', async () =>
    (await storedRecords(page)).some((r) => r.docs.some((d) => d.data?.items?.length === 2)));
  const offlineProblems = problems(page).filter((m) => !/Failed to load resource|service worker/i.test(m));
  assert.deepEqual(offlineProblems, []);
  await context.close();
  assert.deepEqual(await serverItems(url), [], 'nothing reached the server yet');

  // Online again: both edits arrive, once.
  context = await launchPersistent(dir);
  page = watch(await context.newPage());
  await page.goto(url);
  await waitForHydration(page);
  await waitForItems(page, ['wood', 'matches'], 10_000);
  await until('nothing left to send', async () => (await storedRecords(page)).every((r) => r.docs.length === 0));
  assert.deepEqual(await serverItems(url), ['wood', 'matches'], 'each edit once');
  await context.close();
});

test('offline, a list created on the home page joins its live query and count at once', async () => {
  const page = await openPage(browser);
  await page.goto(BASE_URL + '/');
  await waitForHydration(page);
  await page.waitForSelector('header .status[data-state="connected"]');
  const lists = () => page.$$eval('ul.lists a', (links) => links.length);
  const before = await lists();

  await page.context().setOffline(true);
  await page.waitForSelector('header .status[data-state="offline"]');
  const title = unique('Made offline');
  await page.fill('form.new-list input', title);
  await page.click('form.new-list button');
  await page.locator('ul.lists a', { hasText: title }).waitFor({ timeout: 2000 });
  assert.equal(await lists(), before + 1);
  assert.equal(await page.textContent('p.count'), `${before + 1} lists`);

  await page.context().setOffline(false);
  await page.waitForSelector('header .status[data-state="connected"]');
  const fresh = await openPage(browser);
  await fresh.goto(BASE_URL + '/');
  await fresh.locator('ul.lists a', { hasText: title }).waitFor({ timeout: 5000 });
  assert.equal(await fresh.locator('ul.lists a', { hasText: title }).count(), 1, 'once on the server');
  assert.deepEqual(problems(page), []);
  await fresh.context().close();
  await page.context().close();
});

test('opened offline, a page shows the latest it had seen, not the older copy it was served', async () => {
  const dir = profile();
  let context = await launchPersistent(dir);
  let page = watch(await context.newPage());
  const url = await openListKept(page, unique('Latest'));

  // Someone else adds an item; it arrives live, after the copy was taken.
  const other = await openPage(browser);
  await other.goto(url);
  await waitForHydration(other);
  await addItem(other, 'seen live');
  await waitForItems(page, ['seen live'], 5000);
  await until('the latest stored', async () =>
    (await storedRecords(page)).some((r) => r.held.some((d) => d.data?.items?.length === 1)));
  await other.context().close();
  await context.close();

  context = await launchPersistent(dir);
  await context.setOffline(true);
  page = watch(await context.newPage());
  await page.goto(url);
  await waitForHydration(page);
  await waitForItems(page, ['seen live'], 10_000);
  await context.close();
});
