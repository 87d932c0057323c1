// Shared set-up of the browser tests: one Chromium per test file, pages that
// record console problems, and a helper that waits for hydration.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SCREENSHOTS = path.join(root, 'target', 'e2e');

const CHROMIUM = {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
};

export async function launch() {
  return chromium.launch(CHROMIUM);
}

// A browser context whose profile (IndexedDB included) lives in `dir`, so a
// test can close the browser and open it again with what pages stored.
export async function launchPersistent(dir) {
  return chromium.launchPersistentContext(dir, CHROMIUM);
}

// A new page whose console errors, warnings and uncaught exceptions are kept
// in `page.problems`, so a test can assert there were none.
export async function openPage(browser, options = {}) {
  const context = await browser.newContext(options);
  return watch(await context.newPage());
}

// Keeps a page's console problems in `page.problems`.
export function watch(page) {
  page.problems = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' || msg.type() === 'warning' || /hydrat/i.test(text)) {
      page.problems.push(`${msg.type()}: ${text}`);
    }
  });
  page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
  return page;
}

// The records pages left in the offline store (IndexedDB), parsed.
export async function storedRecords(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('peloton-offline');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains('pending')) { db.close(); resolve([]); return; }
      const all = db.transaction('pending').objectStore('pending').getAll();
      all.onsuccess = () => { db.close(); resolve(all.result.map((r) => JSON.parse(r))); };
      all.onerror = () => reject(all.error);
    };
  }));
}

// Resolves once the WASM has hydrated the page (the app marks <body>).
export async function waitForHydration(page) {
  await page.waitForSelector('body[data-hydrated]', { timeout: 30_000 });
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// The texts of a list page's items, in order.
export const itemTexts = (page) =>
  page.$$eval('ul.items li input.text', (inputs) => inputs.map((i) => i.value));

// Waits until a list page shows exactly these items, in this order.
export async function waitForItems(page, expected, timeout = 1000) {
  await page.waitForFunction(
    (want) => {
      const got = [...document.querySelectorAll('ul.items li input.text')].map((i) => i.value);
      return JSON.stringify(got) === JSON.stringify(want);
    },
    expected,
    { timeout },
  );
}

// A name no other test run uses.
export const unique = (name) => `${name} ${Math.random().toString(36).slice(2, 8)}`;

// Creates a list from the home page; returns its URL.
export async function createList(page, title) {
  await page.goto(BASE_URL + '/');
  await waitForHydration(page);
  await page.fill('form.new-list input', title);
  await page.click('form.new-list button');
  const link = page.locator('ul.lists a', { hasText: title });
  await link.waitFor({ timeout: 5000 });
  return BASE_URL + (await link.getAttribute('href'));
}

// Adds an item through a list page's form.
export async function addItem(page, text) {
  await page.fill('form.new-item input', text);
  await page.click('form.new-item button');
}
