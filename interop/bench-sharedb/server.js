// The load benchmark's reference: Node ShareDB serving /channel over ws,
// one JSON message per text frame, like peloton. In memory by default;
// MONGO_URL and REDIS_URL switch to sharedb-mongo and sharedb-redis-pubsub.
//   PORT=3200 node server.js
import http from 'node:http';
import { Duplex } from 'node:stream';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ShareDB = require('sharedb');
const { WebSocketServer } = require('ws');

const options = { presence: true };
if (process.env.MONGO_URL) {
  const ShareDbMongo = require('sharedb-mongo');
  options.db = new ShareDbMongo(process.env.MONGO_URL);
}
if (process.env.REDIS_URL) {
  const RedisPubSub = require('sharedb-redis-pubsub');
  const redis = require('redis');
  const client = redis.createClient({ url: process.env.REDIS_URL });
  const observer = redis.createClient({ url: process.env.REDIS_URL });
  options.pubsub = new RedisPubSub({ client, observer });
}
const backend = new ShareDB(options);

// A WebSocket as the object stream ShareDB's agent reads and writes.
function socketStream(ws) {
  const stream = new Duplex({
    objectMode: true,
    read() {},
    write(message, _encoding, callback) {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
      callback();
    },
  });
  ws.on('message', (data) => {
    let message;
    try {
      message = JSON.parse(data.toString());
    } catch {
      return;
    }
    stream.push(message);
  });
  ws.on('close', () => {
    stream.push(null);
    stream.emit('close');
    stream.emit('end');
  });
  stream.on('error', () => ws.close());
  stream.on('end', () => ws.close());
  return stream;
}

const server = http.createServer((_req, res) => res.end('ShareDB reference server'));
const wss = new WebSocketServer({ server, path: '/channel' });
wss.on('connection', (ws, req) => backend.listen(socketStream(ws), req));
const port = Number(process.env.PORT || 3200);
server.listen(port, '127.0.0.1', () => console.log(`ShareDB listening on ws://127.0.0.1:${port}/channel`));
