// Snapshots of the past (by version and by time) and presence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, call, collection, until, byLocalId } from '../support.js';

test('snapshots by version and by timestamp', async () => {
  const c = collection('history');
  const conn = await connect();
  const doc = conn.get(c, 'd');
  await call(doc, 'create', { n: 0 });
  await call(doc, 'submitOp', [{ p: ['n'], na: 1 }]);
  await new Promise((r) => setTimeout(r, 20));
  const between = Date.now();
  await new Promise((r) => setTimeout(r, 20));
  await call(doc, 'submitOp', [{ p: ['n'], na: 1 }]);

  const at = (v) => new Promise((resolve, reject) =>
    conn.fetchSnapshot(c, 'd', v, (err, s) => (err ? reject(err) : resolve(s))));
  assert.deepEqual((await at(0)).data, undefined);
  assert.deepEqual((await at(1)).data, { n: 0 });
  assert.deepEqual((await at(2)).data, { n: 1 });
  const latest = await at(null);
  assert.deepEqual([latest.v, latest.data], [3, { n: 2 }]);
  await assert.rejects(at(9), (err) => err.code === 'ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT');

  const byTime = await new Promise((resolve, reject) =>
    conn.fetchSnapshotByTimestamp(c, 'd', between, (err, s) => (err ? reject(err) : resolve(s))));
  assert.deepEqual([byTime.v, byTime.data], [2, { n: 1 }]);
  conn.close();
});

test('presence is relayed to the other subscribers of a channel', async () => {
  const channel = collection('presence');
  const a = await connect();
  const b = await connect();
  const seenByB = new Map();
  const presenceB = b.getPresence(channel);
  presenceB.on('receive', (id, value) => seenByB.set(id, value));
  await call(presenceB, 'subscribe');
  const presenceA = a.getPresence(channel);
  await call(presenceA, 'subscribe');
  const mine = presenceA.create('cursor-a');
  await call(mine, 'submit', { name: 'Ann', index: 3 });
  await until(() => byLocalId(seenByB, 'cursor-a')?.index === 3, 'b to see a');

  // A late subscriber asks for everyone's presence and gets it.
  const c = await connect();
  const seenByC = new Map();
  const presenceC = c.getPresence(channel);
  presenceC.on('receive', (id, value) => seenByC.set(id, value));
  await call(presenceC, 'subscribe');
  await until(() => byLocalId(seenByC, 'cursor-a')?.name === 'Ann', 'c to get a on request');

  // Leaving (here: disconnecting) is relayed as null.
  a.close();
  await until(() => byLocalId(seenByB, 'cursor-a') === null, 'b to see a leave');
  b.close(); c.close();
});
