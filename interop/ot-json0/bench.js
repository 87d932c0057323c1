#!/usr/bin/env node
// Runs the json0 editing trace written by `cargo bench --bench json0`
// (target/json0-trace.json) through npm ot-json0@1.1.0, timing the same two
// things as the Rust bench:
//   apply:     the whole sequential trace applied to a fresh copy of the doc
//   transform: every concurrent pair transformed both ways
// It first checks that ot-json0 reaches the same end document and the same
// transformed ops as peloton recorded, so both sides measure the same work.
//
//   node interop/ot-json0/bench.js [path/to/json0-trace.json] [--samples 30]
'use strict';

const fs = require('fs');
const path = require('path');
const assert = require('assert');
const json0 = require('ot-json0').type;

const args = process.argv.slice(2);
const samplesAt = args.indexOf('--samples');
const SAMPLES = samplesAt >= 0 ? Number(args.splice(samplesAt, 2)[1]) : 30;
const tracePath = args[0] || path.join(__dirname, '..', '..', 'target', 'json0-trace.json');
if (!fs.existsSync(tracePath)) {
  console.error(`${tracePath} not found: run \`cargo bench --bench json0\` first, it writes the trace.`);
  process.exit(1);
}
const trace = JSON.parse(fs.readFileSync(tracePath, 'utf8'));
const clone = (v) => JSON.parse(JSON.stringify(v));

// Same work on both sides: the end document and B's transformed ops agree.
{
  let doc = clone(trace.doc);
  for (const op of trace.ops) doc = json0.apply(doc, op);
  assert.deepStrictEqual(doc, trace.end, 'ot-json0 does not reach the end document of the trace');
  trace.pairs.forEach(([a, b], i) => {
    assert.deepStrictEqual(json0.transform(b, a, 'right'), trace.ops[2 * i + 1], `pair ${i} transforms differently`);
  });
}

function median(xs) {
  const s = xs.slice().sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

// Times `run` (one pass over the trace) SAMPLES times after a warm-up;
// `setup` runs untimed before each pass.
function measure(name, count, setup, run) {
  const warmUntil = process.hrtime.bigint() + 2_000_000_000n;
  while (process.hrtime.bigint() < warmUntil) run(setup());
  const times = [];
  for (let i = 0; i < SAMPLES; i++) {
    const input = setup();
    const start = process.hrtime.bigint();
    run(input);
    times.push(Number(process.hrtime.bigint() - start));
  }
  const ns = median(times);
  console.log(`${name.padEnd(26)} median ${(ns / 1e6).toFixed(3)} ms per trace, ` +
    `${Math.round(count / (ns / 1e9)).toLocaleString('en-US')} ops/s, ${(ns / count).toFixed(0)} ns/op`);
}

console.log(`ot-json0@${require('ot-json0/package.json').version} on Node ${process.version}: ` +
  `${trace.ops.length} ops, ${trace.pairs.length} pairs, ${SAMPLES} samples`);

let sink = 0;
measure('json0/apply_trace', trace.ops.length, () => clone(trace.doc), (doc) => {
  for (const op of trace.ops) doc = json0.apply(doc, op);
  sink += doc.edits;
});
measure('json0/transform_trace', 2 * trace.pairs.length, () => null, () => {
  for (const [a, b] of trace.pairs) {
    sink += json0.transform(b, a, 'right').length;
    sink += json0.transform(a, b, 'left').length;
  }
});
if (sink === -1) console.log(sink);
