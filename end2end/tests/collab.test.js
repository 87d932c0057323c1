// Collaborative editing as people do it: two windows typing into the same
// field at the same moment, remote edits of every shape around the caret,
// an IME composition, items ticked and moved under someone's typing, undo
// that only takes back one's own edits, and others' carets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_URL, launch, openPage, waitForHydration, screenshot, live, openLive,
} from '../support.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const unique = (name) => `${name}-${Math.random().toString(36).slice(2, 8)}`;
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

// Two windows on a new note, both live, the note holding `text`.
async function twoOnANote(text) {
  const url = `${BASE_URL}/notes/${unique('collab')}`;
  const a = await openPage(browser);
  const b = await openPage(browser);
  await openLive(url, a, b);
  if (text) {
    await a.fill('textarea.note', text);
    await both(a, b, (t) => t === text);
  }
  return [a, b];
}

const noteText = (page) => page.inputValue('textarea.note');

// Waits until both windows show the same text and it passes `check`.
async function both(a, b, check, timeout = 3000) {
  const start = Date.now();
  for (;;) {
    const [ta, tb] = await Promise.all([noteText(a), noteText(b)]);
    if (ta === tb && check(ta)) return ta;
    if (Date.now() - start > timeout) {
      throw new Error(`the windows did not agree: ${JSON.stringify(ta)} vs ${JSON.stringify(tb)}`);
    }
    await pause(20);
  }
}

async function caretAt(page, start, end = start) {
  await page.focus('textarea.note');
  await page.evaluate(([s, e]) => document.querySelector('textarea.note').setSelectionRange(s, e), [start, end]);
}

const close = async (...pages) => {
  for (const page of pages) {
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }
};

test('two windows typing into the note at the same moment both keep every keystroke', async () => {
  const [a, b] = await twoOnANote('middle');
  await caretAt(a, 6);
  await caretAt(b, 0);
  await Promise.all([
    a.keyboard.type(' and the end', { delay: 15 }),
    b.keyboard.type('the start and ', { delay: 15 }),
  ]);
  await both(a, b, (t) => t === 'the start and middle and the end');
  await close(a, b);
});

test('remote edits of every shape keep the local caret on its text', async () => {
  const [a, b] = await twoOnANote('one two three four');
  await caretAt(b, 13); // after "three"

  // A replaces a selection before B's caret: one op, a delete and an insert.
  await caretAt(a, 0, 3);
  await a.keyboard.type('1');
  await both(a, b, (t) => t === '1 two three four');
  await b.keyboard.type('^');
  await both(a, b, (t) => t === '1 two three^ four');

  // A deletes a selection that spans B's caret and more: B's caret goes to
  // where the deleted text was.
  await caretAt(b, 12); // after "^"
  await caretAt(a, 6, 16); // "three^ fou"
  await a.keyboard.press('Backspace');
  await both(a, b, (t) => t === '1 two r');
  await b.keyboard.type('#');
  await both(a, b, (t) => t === '1 two #r');

  // A delete split around B's pending typing: B types while offline, A
  // deletes a range around where B typed; when B is back, A's delete
  // arrives in two parts around B's text.
  await caretAt(b, 4); // inside "two"
  await b.context().setOffline(true);
  await b.waitForSelector('header .status[data-state="offline"]');
  await b.keyboard.type('ZZ');
  await caretAt(a, 2, 7); // "two #"
  await a.keyboard.press('Backspace');
  await both(a, a, (t) => t === '1 r');
  await b.context().setOffline(false);
  await live(b);
  await both(a, b, (t) => t === '1 ZZr');
  await b.keyboard.type('!');
  await both(a, b, (t) => t === '1 ZZ!r');
  await close(a, b);
});

test('an IME composition is left alone until it ends, then lands with what arrived meanwhile', async () => {
  const [a, b] = await twoOnANote('ab');
  await caretAt(b, 1);
  const cdp = await b.context().newCDPSession(b);
  await cdp.send('Input.imeSetComposition', { text: 'に', selectionStart: 1, selectionEnd: 1 });
  await cdp.send('Input.imeSetComposition', { text: 'にほ', selectionStart: 2, selectionEnd: 2 });
  // A types at the start while B is composing.
  await caretAt(a, 0);
  await a.keyboard.type('XY');
  await a.waitForFunction(() => document.querySelector('textarea.note').value === 'XYab');
  await pause(200);
  // B's field still shows the composition where B was composing.
  assert.equal(await noteText(b), 'aにほb');
  await cdp.send('Input.insertText', { text: '日本' });
  await both(a, b, (t) => t === 'XYa日本b');
  // The caret is after the composed text: the next key lands there.
  await b.keyboard.type('!');
  await both(a, b, (t) => t === 'XYa日本!b');
  await close(a, b);
});

test("undo takes back one's own typing, never the other window's", async () => {
  const [a, b] = await twoOnANote('');
  await caretAt(a, 0);
  await a.keyboard.type('hello');
  await both(a, b, (t) => t === 'hello');
  await caretAt(b, 5);
  await b.keyboard.type(' world');
  await both(a, b, (t) => t === 'hello world');
  await caretAt(a, 2);
  await a.keyboard.type('LL');
  await both(a, b, (t) => t === 'heLLllo world');

  await a.keyboard.press('Control+z');
  await both(a, b, (t) => t === 'hello world');
  await a.keyboard.press('Control+z');
  await both(a, b, (t) => t === ' world');
  assert.equal(await a.locator('header button.undo').isDisabled(), true);
  await a.keyboard.press('Control+Shift+z');
  await both(a, b, (t) => t === 'hello world');
  // B's own undo takes back B's words only.
  await b.click('header button.undo');
  await both(a, b, (t) => t === 'hello');
  await close(a, b);
});

// The text of the caret layer up to the caret of `name`, as B sees it.
const beforeCaret = (page, name) =>
  page.evaluate((who) => {
    let text = '';
    for (const node of document.querySelector('.peloton-carets').childNodes) {
      if (node.classList?.contains('peloton-caret') && node.dataset.name === who) return text;
      text += node.textContent;
    }
    return null;
  }, name);

test("others' carets show where they are and follow the edits", async () => {
  const [a, b] = await twoOnANote('hello world');
  await caretAt(a, 5);
  await a.keyboard.press('ArrowLeft');
  await a.keyboard.press('ArrowRight');
  const name = await b.waitForFunction(() => document.querySelector('.peloton-caret')?.dataset.name);
  const who = await name.jsonValue();
  await b.waitForFunction((w) => document.querySelectorAll(`.peloton-caret[data-name="${w}"]`).length === 1, who);
  // A's caret passes 4 on its way back to 5 (ArrowLeft, ArrowRight): wait
  // for where it ends, not for the first presence that arrives.
  await b.waitForFunction(
    (w) => {
      let text = '';
      for (const node of document.querySelector('.peloton-carets').childNodes) {
        if (node.dataset?.name === w) return text === 'hello';
        text += node.textContent;
      }
      return false;
    },
    who,
  );
  assert.equal(await beforeCaret(b, who), 'hello');
  assert.match(await b.textContent('.editors'), new RegExp(who));

  // B types before A's caret: it moves with A's text.
  await caretAt(b, 0);
  await b.keyboard.type('>> ');
  await both(a, b, (t) => t === '>> hello world');
  await b.waitForFunction(
    (w) => {
      let text = '';
      for (const node of document.querySelector('.peloton-carets').childNodes) {
        if (node.dataset?.name === w) return text === '>> hello';
        text += node.textContent;
      }
      return false;
    },
    who,
  );
  // A selects a word: B sees the selection.
  await caretAt(a, 9, 14);
  await a.keyboard.press('Shift+ArrowRight');
  await b.waitForFunction(() => document.querySelector('.peloton-selection')?.textContent === 'world');
  await screenshot(b, 'note-remote-caret');
  // A leaves the field: the caret goes.
  await a.click('h1');
  await b.waitForFunction(() => document.querySelectorAll('.peloton-caret').length === 0);
  await close(a, b);
});

// A list with the given items, open in two windows.
async function twoOnAList(items) {
  const a = await openPage(browser);
  await a.goto(BASE_URL + '/');
  await waitForHydration(a);
  const title = unique('Collab');
  await a.fill('form.new-list input', title);
  await a.click('form.new-list button');
  const link = a.locator('ul.lists a', { hasText: title });
  await link.waitFor({ timeout: 5000 });
  const url = BASE_URL + (await link.getAttribute('href'));
  const b = await openPage(browser);
  await openLive(url, a, b);
  for (const item of items) {
    await a.fill('form.new-item input', item);
    await a.click('form.new-item button');
  }
  await b.waitForFunction((n) => document.querySelectorAll('ul.items li input.text').length === n, items.length);
  return [a, b];
}

const itemTexts = (page) => page.$$eval('ul.items li input.text', (xs) => xs.map((x) => x.value));

async function itemsAgree(a, b, expected, timeout = 3000) {
  const start = Date.now();
  for (;;) {
    const [ta, tb] = await Promise.all([itemTexts(a), itemTexts(b)]);
    if (JSON.stringify(ta) === JSON.stringify(expected) && JSON.stringify(tb) === JSON.stringify(expected)) return;
    if (Date.now() - start > timeout) {
      throw new Error(`items: ${JSON.stringify(ta)} / ${JSON.stringify(tb)}, expected ${JSON.stringify(expected)}`);
    }
    await pause(20);
  }
}

test("two people editing one item's text at once both keep their words", async () => {
  const [a, b] = await twoOnAList(['milk']);
  const field = (page) => page.locator('ul.items li input.text').first();
  await field(a).click();
  await a.keyboard.press('Home');
  await field(b).click();
  await b.keyboard.press('End');
  await Promise.all([
    a.keyboard.type('oat ', { delay: 20 }),
    b.keyboard.type(' 2L', { delay: 20 }),
  ]);
  await itemsAgree(a, b, ['oat milk 2L']);
  // Who is editing shows on the other side.
  await a.waitForFunction(() => /editing/.test(document.querySelector('ul.items li .editing').textContent));
  await close(a, b);
});

test('ticking or moving an item never disturbs someone typing into it', async () => {
  const [a, b] = await twoOnAList(['eggs', 'milk', 'tea']);
  const milk = a.locator('ul.items li input.text').nth(1);
  await milk.click();
  await a.keyboard.press('End');
  await a.keyboard.type(' 2L', { delay: 20 });
  await b.click('ul.items li:nth-child(2) input[type=checkbox]');
  await a.waitForSelector('ul.items li.done');
  await a.keyboard.type(' oat', { delay: 20 });
  await b.click('ul.items li:nth-child(2) button.up');
  await itemsAgree(a, b, ['milk 2L oat', 'eggs', 'tea']);
  // The field kept the focus through the move: typing goes on in it.
  await a.keyboard.type('!', { delay: 20 });
  await b.click('ul.items li:nth-child(1) button.down');
  await a.keyboard.type('?');
  await itemsAgree(a, b, ['eggs', 'milk 2L oat!?', 'tea']);
  assert.equal(await a.evaluate(() => document.activeElement.value), 'milk 2L oat!?');
  assert.equal(await a.locator('ul.items li.done input.text').inputValue(), 'milk 2L oat!?');
  await screenshot(b, 'list-while-typing');
  await close(a, b);
});
