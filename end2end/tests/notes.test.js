// The shared note as the server renders it, and pages that are not there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launch, openPage, waitForHydration, screenshot } from '../support.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a note renders on the server as text, even text that looks like HTML', async () => {
  const url = `${BASE_URL}/notes/html-${Math.random().toString(36).slice(2, 8)}`;
  const text = 'a </textarea><script>window.pwned = 1</script> & <b>b</b>\nline two';
  const writer = await openPage(browser);
  const watcher = await openPage(browser);
  await writer.goto(url);
  await watcher.goto(url);
  await Promise.all([waitForHydration(writer), waitForHydration(watcher)]);
  await writer.waitForSelector('header .status[data-state="connected"]');
  await watcher.waitForSelector('header .status[data-state="connected"]');
  await writer.fill('textarea.note', text);
  // Once another window has it, the server has it.
  await watcher.waitForFunction((t) => document.querySelector('textarea.note').value === t, text);

  // Without JavaScript: the server's HTML holds the text, in the textarea.
  const plain = await openPage(browser, { javaScriptEnabled: false });
  await plain.goto(url);
  assert.equal(await plain.inputValue('textarea.note'), text);
  assert.equal(await plain.locator('script:text("pwned")').count(), 0, 'no script was injected');

  // With JavaScript: the same text, nothing ran, the page went live.
  const reader = await openPage(browser);
  await reader.goto(url);
  await waitForHydration(reader);
  assert.equal(await reader.inputValue('textarea.note'), text);
  assert.equal(await reader.evaluate(() => window.pwned), undefined);
  await screenshot(reader, 'note-with-html');
  for (const page of [writer, watcher, reader]) assert.deepEqual(page.problems, []);
  for (const page of [writer, watcher, plain, reader]) await page.context().close();
});

test('a page that does not exist says so, and hydrates cleanly', async () => {
  const page = await openPage(browser);
  const response = await page.goto(`${BASE_URL}/no/such/page`);
  assert.equal(response.status(), 404);
  await waitForHydration(page);
  await page.waitForSelector('text=Page not found.');
  // Chromium reports the page's own 404; nothing else may show up.
  const problems = page.problems.filter((m) => !/status of 404 \(Not Found\)/.test(m));
  assert.deepEqual(problems, []);
  await page.context().close();
});

test("the note's history shows any version, and restoring one reaches everyone", async () => {
  const url = `${BASE_URL}/notes/history-${Math.random().toString(36).slice(2, 8)}`;
  const a = await openPage(browser);
  const b = await openPage(browser);
  await a.goto(url);
  await b.goto(url);
  await Promise.all([waitForHydration(a), waitForHydration(b)]);
  await a.waitForSelector('header .status[data-state="connected"]');
  await b.waitForSelector('header .status[data-state="connected"]');
  const noteIs = (page, text) =>
    page.waitForFunction((t) => document.querySelector('textarea.note').value === t, text, { timeout: 5000 });

  await a.fill('textarea.note', 'first words');
  await noteIs(b, 'first words');
  await a.fill('textarea.note', 'something else entirely');
  await noteIs(b, 'something else entirely');

  await a.getByRole('button', { name: 'Show history' }).click();
  const versions = a.locator('.history button.version');
  await versions.first().waitFor();
  assert.match(await versions.first().textContent(), /^Version \d+ · edited \d+ s ago$/);
  // Newest first: find the version that still reads "first words".
  let restored = null;
  const count = await versions.count();
  for (let i = 0; i < count && restored === null; i++) {
    const label = await versions.nth(i).textContent();
    const v = label.match(/^Version (\d+)/)[1];
    await versions.nth(i).click();
    await a.waitForSelector(`.history .preview >> text=Version ${v}:`);
    if ((await a.textContent('.history .preview-text')) === 'first words') restored = v;
  }
  assert.ok(restored, 'some version reads "first words"');
  await a.getByRole('button', { name: `Restore version ${restored}` }).click();
  await a.waitForSelector(`.history [role=status]:text("Restored version ${restored}.")`);
  await noteIs(a, 'first words');
  await noteIs(b, 'first words');
  for (const page of [a, b]) assert.deepEqual(page.problems, []);
  for (const page of [a, b]) await page.context().close();
});
