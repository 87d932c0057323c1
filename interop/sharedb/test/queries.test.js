// Live queries: results follow creates, edits and deletes of other clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, call, collection, until } from '../support.js';

test('a subscribed query follows matching creates and docs that stop matching', async () => {
  const c = collection('query');
  const writer = await connect();
  const reader = await connect();
  await call(writer.get(c, 'apple'), 'create', { kind: 'fruit', n: 1 });
  await call(writer.get(c, 'leek'), 'create', { kind: 'veg', n: 2 });

  const query = reader.createSubscribeQuery(c, { kind: 'fruit' });
  await new Promise((resolve, reject) => { query.once('ready', resolve); query.once('error', reject); });
  const ids = () => query.results.map((d) => d.id);
  assert.deepEqual(ids(), ['apple']);

  await call(writer.get(c, 'pear'), 'create', { kind: 'fruit', n: 3 });
  await until(() => ids().includes('pear'), 'the new match to be inserted');
  assert.deepEqual(query.results.find((d) => d.id === 'pear').data, { kind: 'fruit', n: 3 });

  // An edit of a result reaches the reader through the query alone.
  await call(writer.get(c, 'apple'), 'submitOp', [{ p: ['n'], na: 10 }]);
  await until(() => query.results.find((d) => d.id === 'apple')?.data.n === 11, 'the op on a result');

  // The apple stops matching; the leek starts.
  await call(writer.get(c, 'apple'), 'submitOp', [{ p: ['kind'], od: 'fruit', oi: 'veg' }]);
  await until(() => !ids().includes('apple'), 'the doc that stopped matching to go');
  await call(writer.get(c, 'leek'), 'submitOp', [{ p: ['kind'], od: 'veg', oi: 'fruit' }]);
  await until(() => ids().includes('leek'), 'the doc that started matching to come');
  await call(writer.get(c, 'pear'), 'del');
  await until(() => !ids().includes('pear'), 'the deleted doc to go');
  assert.deepEqual(ids(), ['leek']);
  writer.close(); reader.close();
});

test('sorted and limited queries, and $count', async () => {
  const c = collection('sorted');
  const writer = await connect();
  for (const [id, n] of [['a', 3], ['b', 1], ['c', 2]]) await call(writer.get(c, id), 'create', { n });
  const reader = await connect();
  const sorted = reader.createSubscribeQuery(c, { $sort: { n: 1 }, $limit: 2 });
  await new Promise((resolve, reject) => { sorted.once('ready', resolve); sorted.once('error', reject); });
  assert.deepEqual(sorted.results.map((d) => d.id), ['b', 'c']);
  await call(writer.get(c, 'a'), 'submitOp', [{ p: ['n'], na: -3 }]);
  await until(() => sorted.results.map((d) => d.id).join() === 'a,b', 'the re-sorted results');

  const counted = reader.createSubscribeQuery(c, { n: { $gte: 1 }, $count: true });
  await new Promise((resolve, reject) => { counted.once('ready', resolve); counted.once('error', reject); });
  assert.equal(counted.extra, 2);
  await call(writer.get(c, 'd'), 'create', { n: 9 });
  await until(() => counted.extra === 3, 'the count to follow a create');

  const fetched = await new Promise((resolve, reject) =>
    reader.createFetchQuery(c, { n: { $in: [0, 9] } }, {}, (err, results) => (err ? reject(err) : resolve(results))));
  assert.deepEqual(fetched.map((d) => d.id).sort(), ['a', 'd']);
  writer.close(); reader.close();
});
