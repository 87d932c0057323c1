// The walking skeleton: the page renders on the server and hydrates.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, launch, openPage, waitForHydration, screenshot } from '../support.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('without JavaScript the server-rendered page has its content', async () => {
  const page = await openPage(browser, { javaScriptEnabled: false });
  const response = await page.goto(BASE_URL + '/');
  assert.equal(response.status(), 200);
  assert.equal(await page.textContent('h1'), 'peloton');
  assert.equal(await page.textContent('button.counter'), 'Clicked 0 times');
  await page.click('button.counter');
  assert.equal(await page.textContent('button.counter'), 'Clicked 0 times', 'nothing runs without JS');
  await page.context().close();
});

test('with JavaScript the page hydrates and a click updates it', async () => {
  const page = await openPage(browser);
  await page.goto(BASE_URL + '/');
  await waitForHydration(page);
  await page.click('button.counter');
  await page.click('button.counter');
  await page.waitForFunction(
    () => document.querySelector('button.counter')?.textContent === 'Clicked 2 times',
  );
  await screenshot(page, 'home');
  assert.deepEqual(page.problems, [], 'no console errors or hydration warnings');
  await page.context().close();
});
