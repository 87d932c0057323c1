// One step of the storage interop test: Node ShareDB with sharedb-mongo on
// the database given, writing or reading what peloton wrote. Prints what it
// saw as one JSON line.
//   node step.js <mongodb-url> write | read
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ShareDB = require('sharedb');
const ShareDbMongo = require('sharedb-mongo');

const [url, step] = process.argv.slice(2);
const backend = new ShareDB({ db: new ShareDbMongo(url) });
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

try {
  const result = step === 'write' ? await write() : await read();
  console.log(JSON.stringify(result));
  await new Promise((resolve) => backend.close(resolve));
  process.exit(0);
} catch (err) {
  console.error(err);
  process.exit(1);
}
