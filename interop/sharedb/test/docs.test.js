// Documents: create, fetch, subscribe, op, del, bulk, and convergence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, call, collection, until } from '../support.js';

test('create, fetch, subscribe, op and del round-trip', async () => {
  const c = collection('crud');
  const a = await connect();
  const b = await connect();
  const doc = a.get(c, 'd1');
  await call(doc, 'create', { title: 'milk', done: false, n: 1 });
  assert.equal(doc.version, 1);

  const other = b.get(c, 'd1');
  await call(other, 'fetch');
  assert.deepEqual(other.data, { title: 'milk', done: false, n: 1 });
  assert.equal(other.version, 1);

  await call(other, 'subscribe');
  await call(doc, 'submitOp', [{ p: ['n'], na: 2 }, { p: ['done'], od: false, oi: true }]);
  await until(() => other.version === 2, 'the op to reach the subscriber');
  assert.deepEqual(other.data, { title: 'milk', done: true, n: 3 });

  await call(doc, 'submitOp', [{ p: ['title', 4], si: ' and eggs' }]);
  await until(() => other.version === 3, 'the string insert');
  assert.equal(other.data.title, 'milk and eggs');

  await call(doc, 'del');
  await until(() => other.type === null, 'the delete');
  assert.equal(other.data, undefined);
  assert.equal(other.version, 4);

  const fresh = (await connect()).get(c, 'd1');
  await call(fresh, 'fetch');
  assert.equal(fresh.type, null);
  assert.equal(fresh.version, 4);
  a.close(); b.close(); fresh.connection.close();
});

test('a missing document fetches as version 0 without a type', async () => {
  const conn = await connect();
  const doc = conn.get(collection('missing'), 'nope');
  await call(doc, 'fetch');
  assert.equal(doc.type, null);
  assert.equal(doc.version, 0);
  conn.close();
});

test('two clients editing one document at once converge', async () => {
  const c = collection('converge');
  const a = await connect();
  const b = await connect();
  const docA = a.get(c, 'shared');
  await call(docA, 'create', { items: [], text: 'hello', n: 0 });
  const docB = b.get(c, 'shared');
  await call(docA, 'subscribe');
  await call(docB, 'subscribe');

  const rounds = 40;
  const submits = [];
  for (let i = 0; i < rounds; i++) {
    submits.push(call(docA, 'submitOp', [{ p: ['items', 0], li: `a${i}` }, { p: ['n'], na: 1 }]));
    submits.push(call(docB, 'submitOp', [{ p: ['items', 0], li: `b${i}` }, { p: ['n'], na: 10 }]));
    submits.push(call(docA, 'submitOp', [{ p: ['text', 0], si: 'A' }]));
    submits.push(call(docB, 'submitOp', [{ p: ['text', docB.data.text.length], si: 'B' }]));
    if (i % 8 === 0) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(submits);
  // Pending ops compose, so the version count depends on timing; both
  // sides must end on the same one.
  await until(() => !docA.hasPending() && !docB.hasPending() && docA.version === docB.version,
    'both at the same version');
  assert.deepEqual(docA.data, docB.data);
  assert.equal(docA.data.n, 11 * rounds);
  assert.equal(docA.data.items.length, 2 * rounds);
  assert.equal(docA.data.text.length, 5 + 2 * rounds);
  const version = docA.version;

  const check = (await connect()).get(c, 'shared');
  await call(check, 'fetch');
  assert.deepEqual(check.data, docA.data);
  assert.equal(check.version, version);
  a.close(); b.close(); check.connection.close();
});

test('an invalid op is rejected and leaves the document intact', async () => {
  const c = collection('invalid');
  const conn = await connect();
  const doc = conn.get(c, 'd');
  await call(doc, 'create', { n: 1, s: 'text' });
  // The client checks ops against its copy, so make its copy disagree with
  // the server's: it believes `s` is a number.
  doc.data.s = 5;
  await assert.rejects(call(doc, 'submitOp', [{ p: ['s'], na: 1 }]), (err) => {
    assert.equal(err.code, 'ERR_OT_OP_NOT_APPLIED');
    return true;
  });
  const fresh = (await connect()).get(c, 'd');
  await call(fresh, 'fetch');
  assert.deepEqual(fresh.data, { n: 1, s: 'text' });
  assert.equal(fresh.version, 1);
  conn.close(); fresh.connection.close();
});

test('bulk subscribe loads every document and follows their ops', async () => {
  const c = collection('bulk');
  const writer = await connect();
  for (const id of ['x', 'y', 'z']) await call(writer.get(c, id), 'create', { id, n: 0 });
  const reader = await connect();
  const docs = ['x', 'y', 'z', 'absent'].map((id) => reader.get(c, id));
  reader.startBulk();
  const subscribed = docs.map((d) => call(d, 'subscribe'));
  reader.endBulk();
  await Promise.all(subscribed);
  assert.deepEqual(docs.map((d) => d.data?.id), ['x', 'y', 'z', undefined]);
  assert.equal(docs[3].type, null);

  await call(writer.get(c, 'y'), 'submitOp', [{ p: ['n'], na: 5 }]);
  await until(() => docs[1].data.n === 5, 'the op on a bulk-subscribed doc');
  writer.close(); reader.close();
});

// The frames a connection sends, recorded as it sends them.
function recordSent(connection) {
  const sent = [];
  const send = connection.send.bind(connection);
  // As the server reads it (the client builds some of it without a prototype).
  connection.send = (message) => { sent.push(JSON.parse(JSON.stringify(message))); return send(message); };
  return sent;
}

test('bulk fetch and bulk unsubscribe, by ids and from versions', { timeout: 20000 }, async (t) => {
  const c = collection('bulkf');
  const writer = await connect();
  const reader = await connect();
  t.after(() => { writer.close(); reader.close(); });
  for (const id of ['x', 'y']) await call(writer.get(c, id), 'create', { id, n: 0 });
  const sent = recordSent(reader);
  const docs = ['x', 'y', 'absent'].map((id) => reader.get(c, id));

  // New docs: `bf` with ids, answered with snapshots.
  reader.startBulk();
  let fetched = docs.map((d) => call(d, 'fetch'));
  reader.endBulk();
  await Promise.all(fetched);
  assert.deepEqual(sent.pop(), { a: 'bf', c, b: ['x', 'y', 'absent'] });
  assert.deepEqual(docs.map((d) => [d.version, d.data?.id]), [[1, 'x'], [1, 'y'], [0, undefined]]);

  // Docs it has: `bf` with versions, answered with the ops missed.
  await call(writer.get(c, 'x'), 'submitOp', [{ p: ['n'], na: 2 }]);
  await call(writer.get(c, 'y'), 'submitOp', [{ p: ['n'], na: 3 }]);
  reader.startBulk();
  fetched = docs.slice(0, 2).map((d) => call(d, 'fetch'));
  reader.endBulk();
  await Promise.all(fetched);
  assert.deepEqual(sent.pop(), { a: 'bf', c, b: { x: 1, y: 1 } });
  assert.deepEqual(docs.slice(0, 2).map((d) => [d.version, d.data.n]), [[2, 2], [2, 3]]);

  // Subscribe both, then `bu` them: later ops no longer arrive.
  reader.startBulk();
  const subscribed = docs.slice(0, 2).map((d) => call(d, 'subscribe'));
  reader.endBulk();
  await Promise.all(subscribed);
  assert.deepEqual(sent.pop(), { a: 'bs', c, b: { x: 2, y: 2 } });
  reader.startBulk();
  const unsubscribed = docs.slice(0, 2).map((d) => call(d, 'unsubscribe'));
  reader.endBulk();
  await Promise.all(unsubscribed);
  assert.deepEqual(sent.pop(), { a: 'bu', c, b: ['x', 'y'] });
  await call(writer.get(c, 'x'), 'submitOp', [{ p: ['n'], na: 10 }]);
  await call(reader.get(c, 'y'), 'fetch'); // a round trip after the op
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(docs[0].version, 2, 'no op after the bulk unsubscribe');
});
