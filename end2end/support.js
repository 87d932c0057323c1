// Shared set-up of the browser tests: one Chromium per test file, pages that
// record console problems, and a helper that waits for hydration.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SCREENSHOTS = path.join(root, 'target', 'e2e');

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

// A new page whose console errors, warnings and uncaught exceptions are kept
// in `page.problems`, so a test can assert there were none.
export async function openPage(browser, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
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
