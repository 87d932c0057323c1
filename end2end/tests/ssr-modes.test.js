// The list page in each of Leptos's streamed SSR modes (`/ssr/<mode>/lists/<id>`;
// `/lists/<id>` is Async): the data the page loaded reaches the browser with
// it, the page hydrates without a mismatch, and it subscribes at the versions
// it rendered, so it goes live without fetching again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_URL, launch, openPage, waitForHydration, itemTexts, waitForItems, unique, createList, addItem,
} from '../support.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

// A list with these items; its id.
async function listWith(page, title, items) {
  const url = await createList(page, title);
  await page.goto(url);
  await waitForHydration(page);
  for (const text of items) await addItem(page, text);
  await waitForItems(page, items);
  return url.split('/').pop();
}

// The messages a page sends on its WebSocket, parsed.
function recordSent(page) {
  const sent = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => {
      try { sent.push(JSON.parse(payload)); } catch { /* not JSON */ }
    });
  });
  return sent;
}

// The version a subscribe message for `lists/<id>` claimed to have (single
// `s` or bulk `bs`), or undefined if none was sent.
function subscribedVersion(sent, id) {
  for (const m of sent) {
    if (m.a === 's' && m.c === 'lists' && m.d === id) return m.v ?? null;
    if (m.a === 'bs' && m.c === 'lists') {
      if (Array.isArray(m.b) && m.b.includes(id)) return null;
      if (m.b && !Array.isArray(m.b) && id in m.b) return m.b[id];
    }
  }
  return undefined;
}

for (const mode of ['out-of-order', 'in-order', 'partially-blocked']) {
  test(`the list page streamed ${mode} hydrates with its data and goes live`, async () => {
    const writer = await openPage(browser);
    const items = ['one', 'two'];
    const id = await listWith(writer, unique(`Mode ${mode}`), items);
    const url = `${BASE_URL}/ssr/${mode}/lists/${id}`;

    // The HTML carries the items and the model's bundle.
    const response = await fetch(url);
    assert.equal(response.status, 200);
    const html = await response.text();
    assert.match(html, /value="one"/);
    assert.match(html, /value="two"/);
    const bundle = html.match(/<script id="peloton-bundle" type="application\/json">(.*?)<\/script>/s);
    assert.ok(bundle, 'the page has the model bundle');
    const version = JSON.parse(bundle[1]).docs.lists[id].v;
    assert.equal(typeof version, 'number');

    const reader = await openPage(browser);
    const sent = recordSent(reader);
    await reader.goto(url);
    await waitForHydration(reader);
    await reader.waitForSelector('header .status[data-state="connected"]');
    assert.deepEqual(await itemTexts(reader), items);
    // Subscribed at the rendered version: the server sends only what changed.
    const claimed = subscribedVersion(sent, id);
    assert.equal(typeof claimed, 'number', `subscribe for ${id} claims a version: ${JSON.stringify(sent)}`);

    // Live both ways.
    await addItem(writer, 'three');
    await waitForItems(reader, ['one', 'two', 'three']);
    await reader.click('ul.items li:first-child .delete');
    await waitForItems(writer, ['two', 'three']);

    assert.deepEqual(reader.problems, [], 'no hydration mismatch or error');
    assert.deepEqual(writer.problems, []);
    await reader.context().close();
    await writer.context().close();
  });
}
