#!/usr/bin/env node
// Writes a seeded corpus of json0 cases with npm ot-json0@1.1.0's results,
// for peloton's differential test (tests/json0_differential.rs) to replay.
//
//   node corpus.js --seed 1 --per-kind 300 --out ../../target/json0-corpus.json
//
// Each case is a random document, an op A whose first component is of the
// case's kind, a concurrent op B on the same document (biased to edit near
// A), and an op C made after A. Results: apply, transform both ways and both
// sides, apply of the transformed ops, compose, invert and normalize.
// Every function gets its own parsed copy of its inputs, so nothing ot-json0
// mutates can leak from one result into another.
'use strict';

const fs = require('fs');
const path = require('path');
const json0 = require('ot-json0').type;

const KINDS = ['na', 'li', 'ld', 'lr', 'lm', 'oi', 'od', 'or', 'si', 'sd', 'ti', 'td'];

function parseArgs(argv) {
  const args = {seed: 1, perKind: 300, out: 'json0-corpus.json'};
  for (let i = 2; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (key === '--seed') args.seed = Number(value);
    else if (key === '--per-kind') args.perKind = Number(value);
    else if (key === '--out') args.out = value;
    else throw new Error('unknown argument ' + key);
  }
  return args;
}

// xorshift32, seeded through a splitmix-style scramble so small seeds differ.
function makeRng(seed) {
  let x = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0) || 1;
  const next = () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
  return {
    real: next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (list) => list[Math.floor(next() * list.length)],
  };
}

// Words mixing ASCII, accents, CJK and astral characters (two UTF-16 units).
const WORDS = ['a', 'hi', 'todo', 'milk', 'eggs', 'héllo', 'naïve', '日本', 'über',
  '😀', 'a👍b', '𝄞x', 'ok ', 'zz', '🇫🇷', 'q'];
const KEYS = ['a', 'b', 'title', 'done', 'items', 'note', 'n', 'x', 'ü', '日', '😀k', 'list'];

const clone = (v) => JSON.parse(JSON.stringify(v));

function makeGen(rng) {
  const word = () => rng.pick(WORDS);
  const text = () => {
    let s = '';
    for (let i = rng.int(4); i > 0; i--) s += word();
    return s;
  };
  const number = () => (rng.chance(0.2) ? rng.int(40) / 4 - 3 : rng.int(50));
  const value = (depth) => {
    switch (rng.int(depth > 2 ? 4 : 7)) {
      case 0: return null;
      case 1: return number();
      case 2: return text();
      case 3: return rng.chance(0.5);
      case 4: case 5: {
        const obj = {};
        for (let i = rng.int(4); i > 0; i--) obj[rng.pick(KEYS)] = value(depth + 1);
        return obj;
      }
      default: {
        const list = [];
        for (let i = rng.int(5); i > 0; i--) list.push(value(depth + 1));
        return list;
      }
    }
  };
  const doc = () => {
    if (rng.chance(0.05)) return value(2);
    const obj = {};
    for (let i = 1 + rng.int(4); i > 0; i--) obj[rng.pick(KEYS)] = value(0);
    return obj;
  };
  return {word, text, number, value, doc};
}

// Every node of the document: {path, value, parent} (parent: 'list', 'object' or null).
function nodes(doc) {
  const out = [];
  const walk = (v, p, parent) => {
    out.push({path: p, value: v, parent});
    if (Array.isArray(v)) v.forEach((e, i) => walk(e, p.concat([i]), 'list'));
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) walk(v[k], p.concat([k]), 'object');
  };
  walk(doc, [], null);
  return out;
}

// Offsets at code point boundaries, in UTF-16 units (never inside a pair).
function boundaries(s) {
  const out = [0];
  let at = 0;
  for (const ch of s) { at += ch.length; out.push(at); }
  return out;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// One component of `kind` on `doc`, or null if the document has no target
// for it. `near` (a path) biases the choice towards nodes sharing its prefix.
function component(gen, rng, doc, kind, near) {
  let all = nodes(doc);
  if (near && rng.chance(0.6)) {
    const k = rng.int(near.length + 1);
    const close = all.filter((n) => k <= n.path.length && near.slice(0, k).every((s, i) => n.path[i] === s));
    if (close.length) all = close;
  }
  const where = (pred) => all.filter(pred);
  const legacy = kind === 'si' || kind === 'sd';
  switch (kind) {
    case 'na': {
      const t = where((n) => typeof n.value === 'number');
      if (!t.length) return null;
      const inc = rng.chance(0.2) ? rng.int(20) / 4 - 2 : rng.int(10) - 3;
      return {p: rng.pick(t).path, na: inc};
    }
    case 'li': {
      const t = where((n) => Array.isArray(n.value));
      if (!t.length) return null;
      const n = rng.pick(t);
      return {p: n.path.concat([rng.int(n.value.length + 1)]), li: gen.value(1)};
    }
    case 'ld': case 'lr': case 'lm': {
      const t = where((n) => n.parent === 'list');
      if (!t.length) return null;
      const n = rng.pick(t);
      if (kind === 'ld') return {p: n.path, ld: clone(n.value)};
      if (kind === 'lr') return {p: n.path, ld: clone(n.value), li: gen.value(1)};
      const len = nodes(doc).find((m) => json0.pathMatches(m.path, n.path.slice(0, -1))).value.length;
      return {p: n.path, lm: rng.int(len)};
    }
    case 'oi': {
      const t = where((n) => isObject(n.value));
      if (!t.length) return null;
      const n = rng.pick(t);
      const free = KEYS.filter((k) => !(k in n.value));
      if (!free.length) return null;
      return {p: n.path.concat([rng.pick(free)]), oi: gen.value(1)};
    }
    case 'od': case 'or': {
      // A root replace now and then, as json0's own generator makes.
      if (kind === 'or' && rng.chance(0.05)) return {p: [], od: clone(doc), oi: gen.value(1)};
      const t = where((n) => n.parent === 'object');
      if (!t.length) return null;
      const n = rng.pick(t);
      if (kind === 'od') return {p: n.path, od: clone(n.value)};
      return {p: n.path, od: clone(n.value), oi: gen.value(1)};
    }
    case 'si': case 'sd': case 'ti': case 'td': {
      const t = where((n) => typeof n.value === 'string');
      if (!t.length) return null;
      const n = rng.pick(t);
      const s = n.value;
      const bounds = boundaries(s);
      const insert = kind === 'si' || kind === 'ti';
      const edits = [];
      if (insert) {
        edits.push({p: rng.pick(bounds), i: gen.word()});
      } else {
        if (bounds.length < 2) return null;
        const from = rng.int(bounds.length - 1);
        const to = Math.min(bounds.length - 1, from + 1 + rng.int(3));
        edits.push({p: bounds[from], d: s.slice(bounds[from], bounds[to])});
      }
      if (legacy) {
        const e = edits[0];
        return e.i !== undefined ? {p: n.path.concat([e.p]), si: e.i} : {p: n.path.concat([e.p]), sd: e.d};
      }
      // Sometimes a second text edit in the same subtype op.
      if (rng.chance(0.3)) {
        const after = require('ot-json0/lib/text0').apply(s, edits);
        const b2 = boundaries(after);
        if (rng.chance(0.5) || b2.length < 2) edits.push({p: rng.pick(b2), i: gen.word()});
        else {
          const from = rng.int(b2.length - 1);
          edits.push({p: b2[from], d: after.slice(b2[from], b2[from + 1])});
        }
      }
      return {p: n.path, t: 'text0', o: edits};
    }
  }
  throw new Error('unknown kind ' + kind);
}

// An op of 1..max components on `doc`, each made against the document the
// previous ones leave. `first` forces the first component's kind.
function op(gen, rng, doc, {first, near, strings, max}) {
  const out = [];
  let cur = clone(doc);
  const count = 1 + rng.int(max);
  for (let tries = 0; out.length < count && tries < 40; tries++) {
    let kind = out.length === 0 && first ? first : rng.pick(KINDS);
    // Keep string edits in the case's form: legacy, subtype, or mixed.
    if (strings !== 'mixed' && !(out.length === 0 && first)) {
      const wantsLegacy = strings === 'legacy';
      if (kind === 'si' || kind === 'ti') kind = wantsLegacy ? 'si' : 'ti';
      if (kind === 'sd' || kind === 'td') kind = wantsLegacy ? 'sd' : 'td';
    }
    const c = component(gen, rng, cur, kind, near || (out.length ? out[0].p : null));
    if (!c) {
      if (out.length === 0 && first) return null;
      continue;
    }
    cur = json0.apply(cur, [clone(c)]);
    out.push(c);
  }
  return out;
}

// A UTF-16 code unit of a surrogate pair without its other half, in a
// string, and as JSON.stringify escapes it.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const ESCAPED_LONE_SURROGATE = /\\ud[89a-f][0-9a-f]{2}/i;

// Runs `f` and records {ok: result} or {err: message}. JSON has no
// `undefined`: a deleted root reads back as null. A result holding half a
// surrogate pair (ot-json0 cut text inside an emoji) cannot be a Rust string:
// it is recorded as {unrepresentable: true}.
function result(f) {
  try {
    const v = f();
    const json = JSON.stringify(v === undefined ? null : v);
    if (ESCAPED_LONE_SURROGATE.test(json)) return {unrepresentable: true};
    return {ok: JSON.parse(json)};
  } catch (e) {
    return {err: String(e && e.message || e).replace(LONE_SURROGATE, '\ufffd')};
  }
}

function makeCase(gen, rng, kind) {
  for (;;) {
    const doc = gen.doc();
    const strings = rng.chance(0.2) ? 'mixed'
      : kind === 'si' || kind === 'sd' ? 'legacy'
      : kind === 'ti' || kind === 'td' ? 'subtype'
      : rng.pick(['legacy', 'subtype']);
    const a = op(gen, rng, doc, {first: kind, strings, max: 3});
    if (!a) continue;
    const b = op(gen, rng, doc, {near: a[0].p, strings, max: 3});
    if (!b.length) continue;
    const afterA = json0.apply(clone(doc), clone(a));
    const c = op(gen, rng, afterA, {near: a[0].p, strings, max: 2});

    const s = JSON.stringify({doc, a, b, c});
    const fresh = () => JSON.parse(s);
    const results = {
      apply_a: result(() => { const x = fresh(); return json0.apply(x.doc, x.a); }),
      apply_b: result(() => { const x = fresh(); return json0.apply(x.doc, x.b); }),
      apply_ac: result(() => { const x = fresh(); return json0.apply(json0.apply(x.doc, x.a), x.c); }),
      transform_ab_left: result(() => { const x = fresh(); return json0.transform(x.a, x.b, 'left'); }),
      transform_ab_right: result(() => { const x = fresh(); return json0.transform(x.a, x.b, 'right'); }),
      transform_ba_left: result(() => { const x = fresh(); return json0.transform(x.b, x.a, 'left'); }),
      transform_ba_right: result(() => { const x = fresh(); return json0.transform(x.b, x.a, 'right'); }),
      compose_ac: result(() => { const x = fresh(); return json0.compose(x.a, x.c); }),
      invert_a: result(() => { const x = fresh(); return json0.invert(x.a); }),
      normalize_ac: result(() => { const x = fresh(); return json0.normalize(x.a.concat(x.c)); }),
    };
    // The two paths of the diamond: B then A', and A then B'.
    results.apply_b_then_a = result(() => {
      const x = fresh();
      return json0.apply(json0.apply(x.doc, x.b), clone(results.transform_ab_left.ok));
    });
    results.apply_a_then_b = result(() => {
      const x = fresh();
      return json0.apply(json0.apply(x.doc, x.a), clone(results.transform_ba_right.ok));
    });
    results.apply_compose_ac = result(() => {
      const x = fresh();
      return json0.apply(x.doc, clone(results.compose_ac.ok));
    });
    results.apply_a_invert = result(() => {
      const x = fresh();
      return json0.apply(json0.apply(x.doc, x.a), clone(results.invert_a.ok));
    });
    return Object.assign({kind, strings}, fresh(), {results});
  }
}

function main() {
  const args = parseArgs(process.argv);
  const rng = makeRng(args.seed);
  const gen = makeGen(rng);
  const cases = [];
  for (const kind of KINDS) {
    for (let i = 0; i < args.perKind; i++) cases.push(makeCase(gen, rng, kind));
  }
  const version = require('ot-json0/package.json').version;
  fs.mkdirSync(path.dirname(path.resolve(args.out)), {recursive: true});
  fs.writeFileSync(args.out, JSON.stringify({generator: 'ot-json0@' + version, seed: args.seed, cases}));
  console.log(`wrote ${cases.length} cases (ot-json0@${version}, seed ${args.seed}) to ${args.out}`);
}

main();
