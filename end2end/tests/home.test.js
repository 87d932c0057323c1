// The home page: server-rendered, then live: the list of lists and their
// count follow what others create.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launch, openPage, waitForHydration, screenshot } from '../support.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('without JavaScript the server-rendered home page has its content', async () => {
  const page = await openPage(browser, { javaScriptEnabled: false });
  const response = await page.goto(BASE_URL + '/');
  assert.equal(response.status(), 200);
  assert.equal(await page.textContent('h1'), 'Shared todo lists');
  assert.match(await page.textContent('p.count'), /^\d+ lists?$/);
  assert.ok(await page.$('script#peloton-bundle'), 'the model bundle is in the page');
  await page.context().close();
});

test('a list created in one window shows up in the other, with the count', async () => {
  const a = await openPage(browser);
  const b = await openPage(browser);
  await a.goto(BASE_URL + '/');
  await b.goto(BASE_URL + '/');
  await Promise.all([waitForHydration(a), waitForHydration(b)]);
  await b.waitForSelector('header .status[data-state="connected"]');
  const count = async (page) => Number((await page.textContent('p.count')).split(' ')[0]);
  const before = await count(b);
  const title = `Picnic ${Math.random().toString(36).slice(2, 8)}`;
  await a.fill('form.new-list input', title);
  await a.click('form.new-list button');
  await b.locator('ul.lists a', { hasText: title }).waitFor({ timeout: 1000 });
  await b.waitForFunction((n) => document.querySelector('p.count').textContent.startsWith(`${n} `), before + 1);
  // Both see each other in the header.
  await a.waitForFunction(() => document.querySelector('header .presence').textContent.startsWith('you + '));
  await screenshot(b, 'home');
  assert.deepEqual(a.problems, [], 'no console errors or hydration warnings');
  assert.deepEqual(b.problems, []);
  await a.context().close();
  await b.context().close();
});
