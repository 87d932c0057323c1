// Helpers of the interop tests: npm sharedb client connections to the
// server under test (PELOTON_URL, default ws://127.0.0.1:3000/channel).
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';

const require = createRequire(import.meta.url);
export const ShareDB = require('sharedb/lib/client');
export const WebSocket = require('ws');

export const URL = process.env.PELOTON_URL ?? 'ws://127.0.0.1:3000/channel';

// A unique collection per test, so tests never see each other's docs.
export const collection = (name) => `interop_${name}_${randomUUID().slice(0, 8)}`;

export function socket() {
  return new WebSocket(URL);
}

export async function connect() {
  const connection = new ShareDB.Connection(socket());
  await new Promise((resolve, reject) => {
    if (connection.state === 'connected') return resolve();
    connection.once('connected', resolve);
    connection.once('error', reject);
  });
  return connection;
}

export const call = (target, method, ...args) =>
  new Promise((resolve, reject) =>
    target[method](...args, (err, ...rest) => (err ? reject(err) : resolve(rest[0]))));

export const until = async (check, what, ms = 5000) => {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

// Raw frames, for what the client library never sends.
export async function rawSocket() {
  const ws = socket();
  const messages = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  await until(() => messages.some((m) => m.a === 'init'), 'init');
  ws.next = async (predicate, what = 'a message') => {
    let found;
    await until(() => (found = messages.find(predicate)) !== undefined, what);
    messages.splice(messages.indexOf(found), 1);
    return found;
  };
  ws.messages = messages;
  return ws;
}

// Someone's presence by the id their client gave it: the server relays it
// under an id scoped to their connection (`<len>:<client id>:<id>`), so
// nobody can replace another's. `presences` is a Map or a plain object.
export function byLocalId(presences, id) {
  const entries = presences instanceof Map ? [...presences] : Object.entries(presences);
  const found = entries.find(([key]) => key.endsWith(`:${id}`));
  return found ? found[1] : undefined;
}
