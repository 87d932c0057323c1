// The demo as people use it: shared todo lists, live in several windows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_URL, launch, openPage, waitForHydration, screenshot, itemTexts, waitForItems,
  unique, createList, addItem,
} from '../support.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a list renders on the server with its items, without JavaScript', async () => {
  const page = await openPage(browser);
  const url = await createList(page, unique('Groceries'));
  await page.goto(url);
  await waitForHydration(page);
  await addItem(page, 'milk');
  await addItem(page, 'eggs');
  await waitForItems(page, ['milk', 'eggs']);

  const plain = await openPage(browser, { javaScriptEnabled: false });
  const response = await plain.goto(url);
  assert.equal(response.status(), 200);
  const html = await response.text();
  assert.match(html, /value="milk"/);
  assert.match(html, /value="eggs"/);
  assert.deepEqual(await itemTexts(plain), ['milk', 'eggs']);
  await screenshot(plain, 'list-without-js');
  assert.deepEqual(page.problems, []);
  await page.context().close();
  await plain.context().close();
});

test('an edit in one window appears in the other within a second', async () => {
  const a = await openPage(browser);
  const url = await createList(a, unique('Shared'));
  const b = await openPage(browser);
  await a.goto(url);
  await b.goto(url);
  await Promise.all([waitForHydration(a), waitForHydration(b)]);
  await b.waitForSelector('header .status[data-state="connected"]');
  await a.waitForSelector('header .status[data-state="connected"]');

  await addItem(a, 'from a');
  await waitForItems(b, ['from a'], 1000);
  await b.click('ul.items li .delete');
  await waitForItems(a, [], 1000);

  // Both at once: everything lands, in the same order on both sides.
  await Promise.all([addItem(a, 'a1'), addItem(b, 'b1')]);
  await Promise.all([addItem(a, 'a2'), addItem(b, 'b2')]);
  await a.waitForFunction(() => document.querySelectorAll('ul.items li').length === 4);
  await b.waitForFunction(() => document.querySelectorAll('ul.items li').length === 4);
  const [fromA, fromB] = [await itemTexts(a), await itemTexts(b)];
  assert.deepEqual(fromA, fromB);
  assert.deepEqual([...fromA].sort(), ['a1', 'a2', 'b1', 'b2']);

  // Toggle and reorder travel too.
  await a.click('ul.items li:first-child input[type=checkbox]');
  await b.waitForSelector('ul.items li:first-child.done');
  await b.click('ul.items li:first-child .down');
  await a.waitForFunction((first) =>
    document.querySelector('ul.items li:nth-child(2) input.text')?.value === first, fromA[0]);
  await screenshot(a, 'list-shared');
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context().close();
  await b.context().close();
});

test('a reactive function and a filter update from the other window', async () => {
  const a = await openPage(browser);
  const url = await createList(a, unique('Derived'));
  await a.goto(url);
  await waitForHydration(a);
  await addItem(a, 'first');
  await addItem(a, 'second');
  await waitForItems(a, ['first', 'second']);

  // Rendered on the server too: the function's output and the filter's view.
  const plain = await openPage(browser, { javaScriptEnabled: false });
  await plain.goto(url);
  assert.equal(await plain.textContent('p.meta'), '0 of 2 done');
  assert.equal(await plain.textContent('p.next'), 'Next: first');

  const b = await openPage(browser);
  await b.goto(url);
  await waitForHydration(b);
  await b.waitForSelector('header .status[data-state="connected"]');
  await a.waitForSelector('header .status[data-state="connected"]');
  await a.click('ul.items li:first-child input[type=checkbox]');
  await b.waitForFunction(() => document.querySelector('p.meta')?.textContent === '1 of 2 done');
  await b.waitForFunction(() => document.querySelector('p.next')?.textContent === 'Next: second');
  await b.click('ul.items li:nth-child(2) input[type=checkbox]');
  await a.waitForFunction(() => document.querySelector('p.next')?.textContent === 'Nothing left to do');
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await plain.context().close();
  await a.context().close();
  await b.context().close();
});

test('editing an item\'s text shows in the other window', async () => {
  const a = await openPage(browser);
  const url = await createList(a, unique('Renames'));
  const b = await openPage(browser);
  await a.goto(url);
  await b.goto(url);
  await Promise.all([waitForHydration(a), waitForHydration(b)]);
  await addItem(a, 'bread');
  await waitForItems(b, ['bread'], 1000);
  await a.fill('ul.items li input.text', 'rye bread');
  await a.press('ul.items li input.text', 'Enter');
  await waitForItems(b, ['rye bread'], 1000);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context().close();
  await b.context().close();
});

test('a window that goes offline catches up when it is back, nothing lost', async () => {
  const a = await openPage(browser);
  const url = await createList(a, unique('Offline'));
  const b = await openPage(browser);
  await a.goto(url);
  await b.goto(url);
  await Promise.all([waitForHydration(a), waitForHydration(b)]);
  await b.waitForSelector('header .status[data-state="connected"]');

  await b.context().setOffline(true);
  await b.waitForSelector('header .status[data-state="offline"]');
  await addItem(a, 'online 1');
  await addItem(b, 'offline 1');
  await addItem(a, 'online 2');
  await addItem(b, 'offline 2');
  await waitForItems(b, ['offline 1', 'offline 2']);
  await b.context().setOffline(false);
  await b.waitForSelector('header .status[data-state="connected"]');

  await a.waitForFunction(() => document.querySelectorAll('ul.items li').length === 4, null, { timeout: 5000 });
  await b.waitForFunction(() => document.querySelectorAll('ul.items li').length === 4, null, { timeout: 5000 });
  const [fromA, fromB] = [await itemTexts(a), await itemTexts(b)];
  assert.deepEqual(fromA, fromB);
  assert.deepEqual([...fromA].sort(), ['offline 1', 'offline 2', 'online 1', 'online 2']);
  // The page's reconnect attempts while offline are the only console noise allowed.
  const problems = (p) => p.problems.filter((m) => !/WebSocket|ERR_INTERNET_DISCONNECTED|net::/.test(m));
  assert.deepEqual(problems(a), []);
  assert.deepEqual(problems(b), []);
  await a.context().close();
  await b.context().close();
});

test('the shared note keeps both writers\' words', async () => {
  const id = unique('note').replace(' ', '-');
  const a = await openPage(browser);
  const b = await openPage(browser);
  await a.goto(`${BASE_URL}/notes/${id}`);
  await b.goto(`${BASE_URL}/notes/${id}`);
  await Promise.all([waitForHydration(a), waitForHydration(b)]);
  await a.waitForSelector('header .status[data-state="connected"]');
  await b.waitForSelector('header .status[data-state="connected"]');
  await a.click('textarea.note');
  await a.keyboard.type('hello ');
  await b.waitForFunction(() => document.querySelector('textarea.note').value === 'hello ');
  // Both type at once: a at the end, b at the start.
  await b.click('textarea.note');
  await b.keyboard.press('Home');
  await Promise.all([a.keyboard.type('world'), b.keyboard.type('>> ')]);
  const want = '>> hello world';
  await a.waitForFunction((w) => document.querySelector('textarea.note').value === w, want, { timeout: 5000 });
  await b.waitForFunction((w) => document.querySelector('textarea.note').value === w, want, { timeout: 5000 });
  await screenshot(a, 'note');
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context().close();
  await b.context().close();
});

test('an edit the server refuses is taken back, and the page says so', async () => {
  const page = await openPage(browser);
  const url = await createList(page, unique('Refused'));
  await page.goto(url);
  await waitForHydration(page);
  await page.waitForSelector('header .status[data-state="connected"]');
  await addItem(page, 'short');
  await waitForItems(page, ['short']);
  const alert = page.getByRole('alert');
  assert.equal((await alert.textContent()).trim(), '', 'nothing to say yet');

  // More than the server reads in one message (1 MiB): refused.
  await page.fill('ul.items li input.text', 'x'.repeat(1_100_000));
  await page.waitForFunction(() => /not saved/.test(document.querySelector('[role=alert]').textContent));
  assert.match(await alert.textContent(), /Your change was not saved/);
  await waitForItems(page, ['short'], 5000);
  await page.getByRole('button', { name: 'Dismiss' }).click();
  await page.waitForFunction(() => document.querySelector('[role=alert]').textContent.trim() === '');
  // The server's refusal is in the console too; nothing else is.
  const problems = page.problems.filter((m) => !/too large|too big|not saved|reloading|exceeds/i.test(m));
  assert.deepEqual(problems, []);
  await page.context().close();
});
