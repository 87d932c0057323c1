// One step of the storage interop tests: Node ShareDB with sharedb-mongo on
// the database given, writing or reading what peloton wrote, or (`live`)
// also on sharedb-redis-pubsub, editing a doc live beside a peloton server.
// Prints what it saw as one JSON line.
//   node step.js <mongodb-url> write | read
//   node step.js <mongodb-url> live <redis-url> <prefix> <collection> <id>
//   node step.js <mongodb-url> show <collection> <id>   (a doc as clients get it)
//   node step.js <mongodb-url> milestone <collection> <id> <version>
//                (sharedb-milestone-mongo's milestone at or before a version)
//   node step.js <mongodb-url> milestones <collection> <id>
//                (Node ShareDB writes a doc to v12, a milestone every 5 versions)
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ShareDB = require('sharedb');
const ShareDbMongo = require('sharedb-mongo');

const [url, step, ...rest] = process.argv.slice(2);
const [redisUrl, prefix, liveCollection, liveId] = rest;
const options = { db: new ShareDbMongo(url) };
if (step === 'live') {
  const RedisPubSub = require('sharedb-redis-pubsub');
  const redis = require('redis');
  const client = redis.createClient({ url: redisUrl });
  const observer = redis.createClient({ url: redisUrl });
  options.pubsub = new RedisPubSub({ client, observer, prefix });
}
const backend = new ShareDB(options);
const connection = backend.connect();

const call = (target, method, ...args) =>
  new Promise((resolve, reject) =>
    target[method](...args, (err, result) => (err ? reject(err) : resolve(result))));

async function write() {
  const b1 = connection.get('books', 'b1');
  await call(b1, 'create', { title: 'Dune', year: 1965, tags: ['sf'] });
  await call(b1, 'submitOp', [{ p: ['tags', 1], li: 'classic' }, { p: ['year'], na: 0 }]);
  const b3 = connection.get('books', 'b3');
  await call(b3, 'create', { title: 'Neuromancer', year: 1984, tags: ['sf', 'cyberpunk'] });
  const gone = connection.get('books', 'gone');
  await call(gone, 'create', { title: 'Gone', year: 2001 });
  await call(gone, 'del');
  const note = connection.get('notes', 'n1');
  await call(note, 'create', 'plain text, stored under _data');
  return { b1: { v: b1.version, data: b1.data }, note: note.data };
}

async function read() {
  const b1 = connection.get('books', 'b1');
  const b2 = connection.get('books', 'b2');
  await call(b1, 'fetch');
  await call(b2, 'fetch');
  // Edit what peloton created.
  await call(b2, 'submitOp', [{ p: ['title', 0], si: 'The ' }]);
  const query = await new Promise((resolve, reject) =>
    connection.createFetchQuery('books', { year: { $gte: 1980 }, $sort: { year: 1 } }, {}, (err, results) =>
      err ? reject(err) : resolve(results.map((d) => d.id))));
  const history = await new Promise((resolve, reject) =>
    connection.fetchSnapshot('books', 'b1', 2, (err, s) => (err ? reject(err) : resolve(s.data))));
  return {
    b1: { v: b1.version, data: b1.data },
    b2: { v: b2.version, data: b2.data },
    query,
    b1AtV2: history,
  };
}

// Subscribes, says "ready", waits for peloton's op to arrive through Redis,
// then answers with an op of its own.
async function live() {
  const doc = connection.get(liveCollection, liveId);
  await call(doc, 'subscribe');
  const arrived = new Promise((resolve) => {
    const check = () => doc.data && doc.data.fromPeloton !== undefined && resolve();
    doc.on('op', check);
    check();
  });
  console.log('ready');
  await arrived;
  const seenAt = doc.version;
  await call(doc, 'submitOp', [{ p: ['fromNode'], oi: 'hello from Node' }]);
  return { seen: doc.data.fromPeloton, seenAt, v: doc.version };
}

// A document's data as a ShareDB client receives it: through JSON, so
// BSON values other tools stored appear as their toJSON() forms.
async function show() {
  const [collection, id] = rest;
  const doc = connection.get(collection, id);
  await call(doc, 'fetch');
  return { v: doc.version, data: JSON.parse(JSON.stringify(doc.data)) };
}

// The milestone sharedb-milestone-mongo finds at or before a version.
async function milestone() {
  const [collection, id, version] = rest;
  const MongoMilestoneDB = require('sharedb-milestone-mongo');
  const milestones = new MongoMilestoneDB({ mongo: url });
  const found = await call(milestones, 'getMilestoneSnapshot', collection, id, Number(version));
  await new Promise((resolve) => milestones.close(resolve));
  return found ?? null;
}

// Node ShareDB with sharedb-milestone-mongo (every 5 versions) writes a
// counter up to version 12, and waits for its milestones to be saved.
async function milestones() {
  const [collection, id] = rest;
  const MongoMilestoneDB = require('sharedb-milestone-mongo');
  const milestoneDb = new MongoMilestoneDB({ mongo: url, interval: 5 });
  const withMilestones = new ShareDB({ db: new ShareDbMongo(url), milestoneDb });
  const doc = withMilestones.connect().get(collection, id);
  await call(doc, 'create', { n: 0 });
  for (let i = 0; i < 11; i++) await call(doc, 'submitOp', [{ p: ['n'], na: 1 }]);
  for (let tries = 0; ; tries++) {
    const saved = await call(milestoneDb, 'getMilestoneSnapshot', collection, id, 10);
    if (saved && saved.v === 10) break;
    if (tries > 100) throw new Error('Node ShareDB saved no milestone at v10');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => withMilestones.close(resolve));
  return { v: doc.version, data: doc.data };
}

const steps = { write, read, live, show, milestone, milestones };
try {
  const result = await steps[step]();
  console.log(JSON.stringify(result));
  await new Promise((resolve) => backend.close(resolve));
  process.exit(0);
} catch (err) {
  console.error(err);
  process.exit(1);
}
