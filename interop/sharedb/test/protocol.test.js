// The wire itself: replies, errors for bad input, resent ops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, call, collection, rawSocket, socket, until } from '../support.js';

const JSON0 = 'http://sharejs.org/types/JSONv0';

test('the handshake and a create are answered as ShareDB answers them', async () => {
  const ws = await rawSocket();
  ws.send(JSON.stringify({ a: 'hs', id: null, protocol: 1, protocolMinor: 2 }));
  const hs = await ws.next((m) => m.a === 'hs');
  assert.equal(hs.protocol, 1);
  assert.equal(hs.type, JSON0);
  assert.equal(typeof hs.id, 'string');
  const c = collection('wire');
  ws.send(JSON.stringify({ a: 'op', c, d: 'd1', v: null, src: hs.id, seq: 1, create: { type: JSON0, data: { k: 1 } } }));
  assert.deepEqual(await ws.next((m) => m.a === 'op'), { a: 'op', c, d: 'd1', src: hs.id, seq: 1, v: 0 });
  ws.send(JSON.stringify({ a: 'f', c, d: 'd1' }));
  assert.deepEqual(await ws.next((m) => m.a === 'f'), { a: 'f', c, d: 'd1', data: { v: 1, data: { k: 1 } } });
  ws.send(JSON.stringify({ a: 'pp' }));
  assert.deepEqual(await ws.next((m) => m.a === 'pp'), { a: 'pp' });
  ws.close();
});

test('bad frames get ShareDB errors and the connection keeps working', async () => {
  const ws = await rawSocket();
  const c = collection('bad');
  ws.send('this is not json');
  assert.equal((await ws.next((m) => m.error)).error.code, 'ERR_MESSAGE_BADLY_FORMED');
  ws.send(JSON.stringify({ foo: 1 }));
  assert.deepEqual(await ws.next((m) => m.error), {
    foo: 1, error: { code: 'ERR_MESSAGE_BADLY_FORMED', message: 'Invalid or unknown message' },
  });
  ws.send(JSON.stringify({ a: 'zz', c, d: 'd1' }));
  assert.equal((await ws.next((m) => m.a === 'zz')).error.code, 'ERR_MESSAGE_BADLY_FORMED');
  ws.send(JSON.stringify({ a: 's', c: 42, d: 'd1' }));
  assert.equal((await ws.next((m) => m.a === 's')).error.code, 'ERR_MESSAGE_BADLY_FORMED');
  ws.send(JSON.stringify({ a: 'op', c, d: 'd1', v: 0, src: 'x', seq: 1, op: { p: ['n'], na: 1 } }));
  assert.equal((await ws.next((m) => m.a === 'op')).error.code, 'ERR_OT_OP_BADLY_FORMED');
  ws.send(JSON.stringify({ a: 'op', c, d: 'missing', v: 0, src: 'x', seq: 2, op: [{ p: ['n'], na: 1 }] }));
  assert.equal((await ws.next((m) => m.a === 'op')).error.code, 'ERR_DOC_DOES_NOT_EXIST');
  ws.send(JSON.stringify({ a: 'op', c, d: 'missing', v: 7, src: 'x', seq: 3, create: { type: JSON0, data: {} } }));
  assert.equal((await ws.next((m) => m.a === 'op')).error.code, 'ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT');
  ws.send(JSON.stringify({ a: 'f', c, d: 'x'.repeat(2 << 20) }));
  assert.match((await ws.next((m) => m.error)).error.message, /over the limit/);
  // Still serving.
  ws.send(JSON.stringify({ a: 'pp' }));
  await ws.next((m) => m.a === 'pp');
  ws.close();
});

test('a resent op is acknowledged but not applied twice', async () => {
  const c = collection('resend');
  const ws = await rawSocket();
  ws.send(JSON.stringify({ a: 'hs', id: 'resender', protocol: 1, protocolMinor: 2 }));
  await ws.next((m) => m.a === 'hs');
  ws.send(JSON.stringify({ a: 'op', c, d: 'd', v: null, src: 'resender', seq: 1, create: { type: JSON0, data: { n: 0 } } }));
  await ws.next((m) => m.a === 'op');
  const op = { a: 'op', c, d: 'd', v: 1, src: 'resender', seq: 2, op: [{ p: ['n'], na: 1 }] };
  ws.send(JSON.stringify(op));
  assert.equal((await ws.next((m) => m.a === 'op' && m.seq === 2)).v, 1);
  // As after a reconnect: the same op again, and the create again.
  ws.send(JSON.stringify(op));
  assert.deepEqual(await ws.next((m) => m.a === 'op' && m.seq === 2), { a: 'op', c, d: 'd', src: 'resender', seq: 2, v: 1 });
  ws.send(JSON.stringify({ a: 'op', c, d: 'd', v: null, src: 'resender', seq: 1, create: { type: JSON0, data: { n: 0 } } }));
  assert.equal((await ws.next((m) => m.a === 'op' && m.seq === 1)).v, 0);
  ws.send(JSON.stringify({ a: 'f', c, d: 'd' }));
  assert.deepEqual((await ws.next((m) => m.a === 'f')).data, { v: 2, data: { n: 1 } });
  ws.close();
});

test('the client resends its inflight op after a reconnect, applied once', async () => {
  const c = collection('reconnect');
  const conn = await connect();
  const doc = conn.get(c, 'd');
  await call(doc, 'create', { n: 0 });
  await call(doc, 'subscribe');
  // Lose the ack of the next op: drop the connection as soon as it is sent.
  const original = conn.handleMessage.bind(conn);
  let dropped = false;
  conn.handleMessage = (message) => {
    if (!dropped && message.a === 'op' && message.seq !== undefined && message.src === conn.id && !message.op) {
      dropped = true;
      conn.socket.close();
      return;
    }
    original(message);
  };
  const acked = call(doc, 'submitOp', [{ p: ['n'], na: 1 }]);
  await until(() => dropped, 'the ack to be dropped');
  conn.bindToSocket(socket());
  await acked;
  await until(() => doc.version === 2, 'version 2');
  const check = (await connect()).get(c, 'd');
  await call(check, 'fetch');
  assert.deepEqual(check.data, { n: 1 });
  assert.equal(check.version, 2);
  conn.close(); check.connection.close();
});

test('an op over the size limit fails its callback; the doc rolls back and keeps working', { timeout: 20000 }, async (t) => {
  const c = collection('oversized');
  const conn = await connect();
  const reader = await connect();
  t.after(() => { conn.close(); reader.close(); });
  const doc = conn.get(c, 'd');
  await call(doc, 'create', { text: '' });
  // The demo app takes messages of up to 1 MiB.
  const err = await new Promise((resolve) => doc.submitOp([{ p: ['text', 0], si: 'x'.repeat(2 << 20) }], resolve));
  assert.ok(err, 'the oversized submit failed');
  assert.equal(err.code, 'ERR_MESSAGE_BADLY_FORMED');
  assert.match(err.message, /over the limit/);
  assert.deepEqual(doc.data, { text: '' });
  assert.equal(doc.version, 1);
  await call(doc, 'submitOp', [{ p: ['text', 0], si: 'ok' }]);
  const other = reader.get(c, 'd');
  await call(other, 'fetch');
  assert.deepEqual([other.version, other.data], [2, { text: 'ok' }]);
});

test('a message over what the server reads closes the connection, saying why', { timeout: 20000 }, async (t) => {
  const ws = await rawSocket();
  t.after(() => ws.terminate());
  const closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
  // The demo app reads messages of up to 8 MiB.
  ws.send('x'.repeat(9 << 20));
  const [code, reason] = await closed;
  assert.equal(code, 1009);
  assert.match(reason, /over the limit/);
});
