// Time to interactive of the demo's home page in headless Chromium: for each
// of RUNS cold loads (a fresh browser context, so nothing cached), the time
// from navigation start until
//   hydrated  the WASM has hydrated the page (<body data-hydrated>, as the
//             browser tests wait for it), and
//   live      the header says the realtime connection is up
//             (.status[data-state="connected"]),
// plus the page's own DOMContentLoaded and load. Prints the medians (and the
// range) as a Markdown table, and the sizes of the WASM and JS the page
// fetched, as the network saw them.
//
//   BASE_URL=http://127.0.0.1:3000 RUNS=10 node end2end/tti.js
// (the demo must be serving; BENCHMARKS.md has the whole recipe)
import { launch } from './support.js';

const BASE_URL = process.env.BASE_URL ?? 'http://127.0.0.1:3000';
const RUNS = Number(process.env.RUNS ?? 10);

// Runs in the page before its scripts: notes when the markers appear, on
// the page's own clock (ms since navigation start).
function recordMarkers() {
  const marks = (window.__tti = {});
  const check = () => {
    const body = document.body;
    if (marks.hydrated === undefined && body?.hasAttribute('data-hydrated')) {
      marks.hydrated = performance.now();
    }
    if (marks.live === undefined && document.querySelector('header .status[data-state="connected"]')) {
      marks.live = performance.now();
    }
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true,
    attributeFilter: ['data-hydrated', 'data-state'],
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const browser = await launch();
const rows = [];
let fetched = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript(recordMarkers);
    await page.goto(`${BASE_URL}/`);
    await page.waitForFunction(
      () => window.__tti?.hydrated !== undefined && window.__tti?.live !== undefined,
      null, { timeout: 30_000 },
    );
    const r = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource')
        .filter((e) => /\/pkg\/.*\.(wasm|js)$/.test(e.name))
        .map((e) => ({ name: new URL(e.name).pathname, transfer: e.transferSize, body: e.decodedBodySize }));
      return {
        ...window.__tti,
        domContentLoaded: nav.domContentLoadedEventEnd,
        load: nav.loadEventEnd,
        res,
      };
    });
    rows.push(r);
    fetched = r.res;
    await context.close();
  }
} finally {
  await browser.close();
}

const fmt = (key) => {
  const xs = rows.map((r) => r[key]);
  return `| ${key} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} |`;
};
console.log(`${RUNS} cold loads of ${BASE_URL}/ (ms since navigation start)\n`);
console.log('| marker | median | range |');
console.log('|---|---:|---:|');
for (const key of ['domContentLoaded', 'load', 'hydrated', 'live']) console.log(fmt(key));
console.log('\nfetched (bytes on the wire / decoded):');
for (const f of fetched) console.log(`  ${f.name}: ${f.transfer} / ${f.body}`);
