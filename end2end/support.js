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

// Creates a list from the home page (of the demo at `base`); returns its URL.
export async function createList(page, title, base = BASE_URL) {
  await page.goto(base + '/');
  await waitForHydration(page);
  await page.fill('form.new-list input', title);
  await page.click('form.new-list button');
  const link = page.locator('ul.lists a', { hasText: title });
  await link.waitFor({ timeout: 5000 });
  return base + (await link.getAttribute('href'));
}

// Adds an item through a list page's form.
export async function addItem(page, text) {
  await page.fill('form.new-item input', text);
  await page.click('form.new-item button');
}

// What a screen reader is told about every element matching `selector`:
// the role and accessible name Chromium computes (its accessibility tree,
// over CDP), and where the name came from (`contents`, `aria-label`,
// `relatedElement` for a <label> or aria-labelledby, `placeholder`, …).
export async function accessibility(page, selector) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
    const { nodeIds } = await cdp.send('DOM.querySelectorAll', { nodeId: root.nodeId, selector });
    const found = [];
    for (const nodeId of nodeIds) {
      const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { nodeId, fetchRelatives: false });
      const { outerHTML } = await cdp.send('DOM.getOuterHTML', { nodeId });
      const node = nodes[0];
      // The source that gave the name: the first one with a value that a
      // later one did not supersede.
      const source = (node.name?.sources ?? []).find((s) => s.value?.value && !s.superseded);
      found.push({
        element: outerHTML.slice(0, 160),
        role: node.role?.value,
        name: node.name?.value ?? '',
        from: source && (source.attribute ?? source.type),
        live: node.properties?.find((p) => p.name === 'live')?.value.value,
      });
    }
    return found;
  } finally {
    await cdp.detach();
  }
}

// From now on keeps every text the page's polite live region shows (the
// announcements of others' changes), for `announcements(page)`.
export async function recordAnnouncements(page) {
  await page.evaluate(() => {
    const region = document.querySelector('.announcements[aria-live=polite]');
    window.announced = [];
    new MutationObserver(() => {
      const text = region.textContent.trim();
      if (text && text !== window.announced.at(-1)) window.announced.push(text);
    }).observe(region, { childList: true, characterData: true, subtree: true });
  });
}

// What the live region announced since `recordAnnouncements(page)`.
export const announcements = (page) => page.evaluate(() => window.announced);

// Waits until the page's live region has announced `text`.
export async function waitForAnnouncement(page, text, timeout = 3000) {
  await page.waitForFunction((t) => window.announced.includes(t), text, { timeout });
}

// Resolves once a page's connection is live.
export const live = (page) => page.waitForSelector('header .status[data-state="connected"]');

// Opens `url` in each page, and waits until all are hydrated and live.
export async function openLive(url, ...pages) {
  for (const page of pages) await page.goto(url);
  await Promise.all(pages.map(waitForHydration));
  await Promise.all(pages.map(live));
}
