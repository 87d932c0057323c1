// The demo for screen reader users: every control has a name that says
// what it is for, others' changes are announced politely (and one's own
// are not), and the connection's state is a status region.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_URL, launch, openPage, waitForHydration, unique, createList, addItem, waitForItems,
  accessibility, recordAnnouncements, announcements, waitForAnnouncement, live, openLive,
} from '../support.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const CONTROLS = 'input, textarea, select, button, [contenteditable]';

// Every control of the page has a name in words, from its text, a <label>,
// aria-label or aria-labelledby; a placeholder or a tooltip is not one.
async function assertNamed(page, what) {
  const controls = await accessibility(page, CONTROLS);
  assert.ok(controls.length > 0, `${what} has controls`);
  for (const control of controls) {
    assert.notEqual(control.name.trim(), '', `${what}: ${control.element} has no accessible name`);
    // Words, not a glyph such as "✕" or "↑".
    assert.match(control.name, /\p{L}{2}/u, `${what}: ${control.element} is named ${JSON.stringify(control.name)}`);
    assert.ok(
      !['placeholder', 'title'].includes(control.from),
      `${what}: ${control.element} is named only by its ${control.from}`,
    );
  }
  return controls;
}

// The control named `name` (there must be exactly one).
function named(controls, name) {
  const found = controls.filter((c) => c.name === name);
  assert.equal(found.length, 1, `one control named ${JSON.stringify(name)} in ${JSON.stringify(controls.map((c) => c.name))}`);
  return found[0];
}

test('every input and button of the home, list and note pages has a meaningful name', async () => {
  const page = await openPage(browser);
  const url = await createList(page, unique('Named'));
  const home = await assertNamed(page, 'the home page');
  assert.equal(named(home, 'New list title').role, 'textbox');
  assert.equal(named(home, 'Create list').role, 'button');
  assert.equal(named(home, 'Undo').role, 'button');

  await page.goto(url);
  await waitForHydration(page);
  await addItem(page, 'milk');
  await addItem(page, 'eggs');
  await waitForItems(page, ['milk', 'eggs']);
  const list = await assertNamed(page, 'a list page');
  assert.equal(named(list, 'New item').role, 'textbox');
  assert.equal(named(list, 'Done: milk').role, 'checkbox');
  assert.equal(named(list, 'Done: eggs').role, 'checkbox');
  assert.equal(named(list, 'Move up: eggs').role, 'button');
  assert.equal(named(list, 'Move down: milk').role, 'button');
  assert.equal(named(list, 'Delete: milk').role, 'button');
  assert.equal(list.filter((c) => c.name === 'Item text' && c.role === 'textbox').length, 2);
  // The names follow the item's text as it changes.
  await page.fill('ul.items li:first-child input.text', 'oat milk');
  await page.waitForSelector('ul.items li:first-child input[type=checkbox][aria-label="Done: oat milk"]');
  named(await assertNamed(page, 'a list page'), 'Delete: oat milk');

  await page.goto(`${BASE_URL}/notes/${unique('named').replace(' ', '-')}`);
  await waitForHydration(page);
  await live(page);
  await page.fill('textarea.note', 'some words');
  // The history panel's buttons too: versions and the restore button.
  await page.getByRole('button', { name: 'Show history' }).click();
  await page.locator('.history button.version').first().click();
  await page.waitForSelector('.history .preview button.restore');
  const note = await assertNamed(page, 'a note page');
  assert.equal(named(note, 'Note text').role, 'textbox');
  assert.ok(note.some((c) => /^Version \d+ · /.test(c.name)), 'the versions are named');
  assert.ok(note.some((c) => /^Restore version \d+$/.test(c.name)), 'the restore button is named');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("others' changes to a list are announced politely, one's own are not", async () => {
  const a = await openPage(browser);
  const url = await createList(a, unique('Announced'));
  const b = await openPage(browser);
  await openLive(url, a, b);
  // The region is polite, and there from the server's render on.
  for (const page of [a, b]) {
    const [region] = await accessibility(page, '.announcements');
    assert.equal(region.live, 'polite');
  }
  await Promise.all([recordAnnouncements(a), recordAnnouncements(b)]);

  await addItem(a, 'milk');
  await waitForAnnouncement(b, 'Someone added an item: milk');
  await a.click('ul.items li:first-child input[type=checkbox]');
  await waitForAnnouncement(b, 'Someone marked an item done: milk');
  // Typing into an item: one message for the whole run of keystrokes.
  await a.focus('ul.items li:first-child input.text');
  await a.keyboard.press('End');
  await a.keyboard.type(' and honey', { delay: 20 });
  await waitForItems(b, ['milk and honey'], 3000);
  await waitForAnnouncement(b, 'Someone edited item 1');
  // B's own edit reaches A, announced there and not in B.
  await b.click('ul.items li:first-child .delete');
  await waitForAnnouncement(a, 'Someone deleted an item: milk and honey');
  await waitForItems(a, []);

  assert.deepEqual(await announcements(b), [
    'Someone added an item: milk',
    'Someone marked an item done: milk',
    'Someone edited item 1',
  ]);
  assert.deepEqual(await announcements(a), ['Someone deleted an item: milk and honey']);
  for (const page of [a, b]) assert.deepEqual(page.problems, []);
  for (const page of [a, b]) await page.context().close();
});

test("a list someone else adds is announced on the home page, one's own is not", async () => {
  const a = await openPage(browser);
  const b = await openPage(browser);
  await openLive(`${BASE_URL}/`, a, b);
  await Promise.all([recordAnnouncements(a), recordAnnouncements(b)]);

  const title = unique('Newcomer');
  await b.fill('form.new-list input', title);
  await b.click('form.new-list button');
  await a.locator('ul.lists a', { hasText: title }).waitFor({ timeout: 5000 });
  await waitForAnnouncement(a, `Someone added a list: ${title}`);
  // B's own list reached B through the same query: not announced there.
  await b.locator('ul.lists a', { hasText: title }).waitFor({ timeout: 5000 });
  await b.waitForTimeout(300);
  assert.deepEqual(await announcements(b), []);
  // Lists that other tests add meanwhile may be announced too; this one once.
  assert.equal((await announcements(a)).filter((t) => t.includes(title)).length, 1);
  for (const page of [a, b]) assert.deepEqual(page.problems, []);
  for (const page of [a, b]) await page.context().close();
});

test("someone else's typing in the note is announced once, one's own not at all", async () => {
  const url = `${BASE_URL}/notes/${unique('announced').replace(' ', '-')}`;
  const a = await openPage(browser);
  const b = await openPage(browser);
  await openLive(url, a, b);
  await Promise.all([recordAnnouncements(a), recordAnnouncements(b)]);

  await a.focus('textarea.note');
  await a.keyboard.type('hello there', { delay: 20 });
  await b.waitForFunction(() => document.querySelector('textarea.note').value === 'hello there');
  await waitForAnnouncement(b, 'The note was edited by someone else');
  assert.deepEqual(await announcements(b), ['The note was edited by someone else']);
  assert.deepEqual(await announcements(a), []);
  for (const page of [a, b]) assert.deepEqual(page.problems, []);
  for (const page of [a, b]) await page.context().close();
});

test("the header's connection state is a status region, announced as it changes", async () => {
  const page = await openPage(browser);
  await page.goto(BASE_URL + '/');
  await waitForHydration(page);
  await live(page);
  const [status] = await accessibility(page, 'header .status');
  assert.equal(status.role, 'status');
  assert.equal(status.live, 'polite');
  const region = page.locator('header [role=status]');
  assert.equal((await region.textContent()).trim(), 'Connection: live');
  await page.context().setOffline(true);
  await page.waitForSelector('header .status[data-state="offline"]');
  assert.equal((await region.textContent()).trim(), 'Connection: offline');
  await page.context().setOffline(false);
  await live(page);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
