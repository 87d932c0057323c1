// json0 document presence for the npm `sharedb` client, moved exactly as a
// peloton server and peloton clients move it (`peloton::ot::json0::
// transform_presence`). ot-json0 has no `transformPresence`, so without
// this `connection.getDocPresence()` fails with
// ERR_TYPE_DOES_NOT_SUPPORT_PRESENCE. No dependencies: copy it into your
// app.
//
//   const json0 = require('ot-json0').type;
//   require('./json0-presence').install(json0);
//
// A presence value is an object: `p` is the json0 path of what the person
// is at, `s` and `e` (optional) a selection in the string there, in UTF-16
// offsets (`s` where it started, `e` the caret). Other fields (a name, a
// colour) travel unchanged. Values of any other shape are not moved.
'use strict';

// A text0 position past a text0 op (ot-json0's `text0.transformCursor`):
// an insert at the position pushes it forward only on the 'right' side.
function transformCursor(pos, op, side) {
  for (const c of op) {
    if (c.i !== undefined) {
      if (c.p < pos || (c.p === pos && side === 'right')) pos += c.i.length;
    } else if (pos > c.p) {
      pos = pos <= c.p + c.d.length ? c.p : pos - c.d.length;
    }
  }
  return pos;
}

function samePath(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function isPrefix(prefix, path) {
  return prefix.length <= path.length && prefix.every((x, i) => x === path[i]);
}

// An element's index past a list component at `index`; null if gone.
function moveElement(ours, index, c) {
  if (c.lm !== undefined) {
    if (index === ours) return c.lm;
    const without = index < ours ? ours - 1 : ours;
    return c.lm <= without ? without + 1 : without;
  }
  if (c.ld !== undefined) {
    if (index === ours) return null;
    if (c.li === undefined && index < ours) return ours - 1;
    return ours;
  }
  if (c.li !== undefined && index <= ours) return ours + 1;
  return ours;
}

function clampTo(caret, value) {
  if (caret.s === undefined) return;
  const len = typeof value === 'string' ? value.length : 0;
  caret.s = Math.min(caret.s, len);
  caret.e = Math.min(caret.e, len);
}

// Moves `caret` ({p, s, e}) past one component; null if what it was at went.
function past(caret, c, own) {
  const side = own ? 'right' : 'left';
  if (c.na !== undefined) return caret;
  if (c.t === 'text0') {
    if (caret.s !== undefined && samePath(c.p, caret.p)) {
      caret.s = transformCursor(caret.s, c.o, side);
      caret.e = transformCursor(caret.e, c.o, side);
    }
    return caret;
  }
  if (c.si !== undefined || c.sd !== undefined) {
    const string = c.p.slice(0, -1);
    if (caret.s !== undefined && samePath(string, caret.p)) {
      const edit = c.si !== undefined
        ? [{ p: c.p[c.p.length - 1], i: c.si }]
        : [{ p: c.p[c.p.length - 1], d: c.sd }];
      caret.s = transformCursor(caret.s, edit, side);
      caret.e = transformCursor(caret.e, edit, side);
    }
    return caret;
  }
  if (c.oi !== undefined || c.od !== undefined) {
    if (c.oi !== undefined && samePath(c.p, caret.p)) {
      clampTo(caret, c.oi);
      return caret;
    }
    return isPrefix(c.p, caret.p) ? null : caret;
  }
  if (c.li !== undefined || c.ld !== undefined || c.lm !== undefined) {
    if (c.li !== undefined && c.ld !== undefined && samePath(c.p, caret.p)) {
      clampTo(caret, c.li);
      return caret;
    }
    const list = c.p.slice(0, -1);
    const index = c.p[c.p.length - 1];
    if (caret.p.length > list.length && isPrefix(list, caret.p)) {
      const moved = moveElement(caret.p[list.length], index, c);
      if (moved === null) return null;
      caret.p[list.length] = moved;
    }
  }
  return caret;
}

function transformPresence(presence, op, isOwnOp) {
  if (!presence || typeof presence !== 'object' || !Array.isArray(presence.p)) return presence;
  let caret = { p: presence.p.slice() };
  const s = presence.s !== undefined ? presence.s : presence.e;
  if (s !== undefined) {
    caret.s = s;
    caret.e = presence.e !== undefined ? presence.e : s;
  }
  for (const c of op) {
    caret = past(caret, c, isOwnOp);
    if (caret === null) break;
  }
  const out = Object.assign({}, presence);
  delete out.p; delete out.s; delete out.e;
  if (caret !== null) {
    out.p = caret.p;
    if (caret.s !== undefined) { out.s = caret.s; out.e = caret.e; }
  }
  return out;
}

// Gives ot-json0's type peloton's presence.
function install(json0Type) {
  json0Type.transformPresence = transformPresence;
  return json0Type;
}

module.exports = { transformPresence, install };
