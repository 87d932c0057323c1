// Document presence: the npm client's `getDocPresence` against peloton.
// ot-json0 has no presence of its own: js/json0-presence.js gives it
// peloton's (carets that follow the text), as an app would install it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { connect, call, collection, until, rawSocket, byLocalId } from '../support.js';

const require = createRequire(import.meta.url);
require('../../../js/json0-presence.js').install(require('ot-json0').type);
const JSON0 = 'http://sharejs.org/types/JSONv0';

async function sharedNote(c) {
  const a = await connect();
  const b = await connect();
  const docA = a.get(c, 'n');
  await call(docA, 'create', { text: 'hello world' });
  const docB = b.get(c, 'n');
  await call(docA, 'subscribe');
  await call(docB, 'subscribe');
  return { a, b, docA, docB };
}

test("another client's caret follows the edits made before it", async () => {
  const c = collection('docpresence');
  const { a, b, docA } = await sharedNote(c);
  const seen = b.getDocPresence(c, 'n');
  await call(seen, 'subscribe');
  const mine = a.getDocPresence(c, 'n');
  await call(mine, 'subscribe');
  const caret = mine.create('ann');
  await call(caret, 'submit', { p: ['text'], s: 5, e: 5, name: 'Ann' });
  await until(() => byLocalId(seen.remotePresences, 'ann')?.s === 5, "Ann's caret");
  assert.deepEqual(byLocalId(seen.remotePresences, 'ann'), { p: ['text'], s: 5, e: 5, name: 'Ann' });

  // Ann types at her caret: her own text pushes it.
  await call(docA, 'submitOp', [{ p: ['text'], t: 'text0', o: [{ p: 5, i: ',' }] }]);
  await until(() => byLocalId(seen.remotePresences, 'ann')?.s === 6, 'the caret pushed by her typing');
  // Someone else inserts before it: it moves with the text it was at.
  const docB = b.get(c, 'n');
  await call(docB, 'submitOp', [{ p: ['text', 0], si: '>> ' }]);
  await until(() => caret.value?.s === 9, 'her own copy to move too');
  await until(() => byLocalId(seen.remotePresences, 'ann')?.s === 9, 'the caret moved by the insert');
  assert.equal(docB.data.text.slice(0, 9), '>> hello,');

  await call(caret, 'submit', null);
  await until(() => byLocalId(seen.remotePresences, 'ann') === undefined, 'Ann to leave');
  a.close(); b.close();
});

test('a presence made at an older version is moved by the server before it is relayed', async () => {
  const c = collection('docpresence_stale');
  const { a, b, docA } = await sharedNote(c);
  const seen = b.getDocPresence(c, 'n');
  await call(seen, 'subscribe');
  // The document moves to v2 before the presence, made at v1, arrives.
  await call(docA, 'submitOp', [{ p: ['text', 0], si: '>> ' }]);
  const raw = await rawSocket();
  raw.send(JSON.stringify({ a: 'hs', id: null, protocol: 1, protocolMinor: 2 }));
  await raw.next((m) => m.a === 'hs', 'the handshake');
  raw.send(JSON.stringify({
    a: 'p', ch: `${c}.n`, id: 'late', pv: 1, c, d: 'n', v: 1, t: JSON0,
    p: { p: ['text'], s: 5, e: 11 },
  }));
  const ack = await raw.next((m) => m.a === 'p' && m.id === 'late', 'the reply');
  assert.equal(ack.v, 2);
  assert.deepEqual(ack.p, { p: ['text'], s: 8, e: 14 });
  await until(() => byLocalId(seen.remotePresences, 'late')?.s === 8, 'the moved presence');
  assert.deepEqual(byLocalId(seen.remotePresences, 'late'), { p: ['text'], s: 8, e: 14 });

  // A type the server cannot move presence for is refused.
  raw.send(JSON.stringify({
    a: 'p', ch: `${c}.n`, id: 'odd', pv: 1, c, d: 'n', v: 1, t: 'http://example.com/other', p: { x: 1 },
  }));
  const refused = await raw.next((m) => m.a === 'p' && m.id === 'odd', 'the refusal');
  assert.equal(refused.error.code, 'ERR_TYPE_DOES_NOT_SUPPORT_PRESENCE');
  raw.close(); a.close(); b.close();
});
