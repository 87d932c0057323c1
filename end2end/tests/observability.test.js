// What operators and developers see: the demo's Prometheus metrics, and
// peloton's tracing in the browser's console.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_URL, launch, openPage, waitForHydration, waitForItems, unique, createList, addItem,
} from '../support.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// The samples of a Prometheus text exposition, by name (with labels).
async function scrape() {
  const response = await fetch(`${BASE_URL}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await response.text();
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { text, samples };
}

test('/metrics counts connections, ops, renders and the process', async () => {
  const before = (await scrape()).samples;
  const page = await openPage(browser);
  await page.goto(await createList(page, unique('Metrics')));
  await waitForHydration(page);
  await addItem(page, 'counted');
  await waitForItems(page, ['counted']);

  const { text, samples } = await scrape();
  assert.ok(samples.get('peloton_connections{kind="websocket"}') >= 1, 'the page is connected');
  assert.ok(samples.get('peloton_subscriptions') >= 1, 'it subscribed to its list');
  const committed = (s) => s.get('peloton_ops_committed_total') ?? 0;
  assert.ok(committed(samples) >= committed(before) + 2, 'the list and its item were committed');
  assert.ok(samples.get('peloton_submit_seconds_count') >= 2);
  assert.ok(samples.get('peloton_ssr_render_seconds_count') >= 1, 'the page was rendered');
  assert.ok(samples.get('process_cpu_seconds_total') > 0);
  assert.ok(samples.get('process_resident_memory_bytes') > 0);
  assert.match(text, /# HELP peloton_connections Live connections/);
  assert.deepEqual(page.problems, []);
});

test("the browser's console gets peloton's tracing, at the level asked", async () => {
  const page = await openPage(browser);
  const url = await createList(page, unique('Traced'));
  const lines = [];
  page.on('console', (msg) => lines.push(`${msg.type()}: ${msg.text()}`));

  await page.goto(url);
  await waitForHydration(page);
  await addItem(page, 'quiet');
  await waitForItems(page, ['quiet']);
  assert.deepEqual(lines.filter((l) => l.startsWith('debug:')), [], 'info and above by default');

  await page.evaluate(() => { localStorage.log = 'debug'; });
  await page.reload();
  await waitForHydration(page);
  await addItem(page, 'loud');
  await waitForItems(page, ['quiet', 'loud']);
  const acked = lines.find((l) => l.startsWith('debug:') && /op on lists\.\S+ acknowledged at v\d+/.test(l));
  assert.ok(acked, `a debug line for the item's op, in:\n${lines.join('\n')}`);
  await page.evaluate(() => { delete localStorage.log; });
  assert.deepEqual(page.problems, []);
});
