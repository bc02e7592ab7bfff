#!/usr/bin/env node
// tlgen: generates src/proto/msg.{h,c} (typed structs + tlo_desc tables) from cocoon.tl.
//
// Usage: node tools/tlgen/tlgen.js [schema.tl] [outdir]
//        clang-format -i src/proto/msg.h src/proto/msg.c
// Defaults: tools/tlgen/cocoon.tl -> src/proto. The output is committed; rerun after editing the
// declarations. Supported field types: int long double string bytes int128 int256 Bool #,
// flags.N?T, (vector T) of a non-vector T, bare constructors (lowercase) and boxed types
// (capitalised) declared in the same file.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const root = path.resolve(__dirname, '..', '..');
const schemaPath = process.argv[2] || path.join(__dirname, 'cocoon.tl');
const outDir = process.argv[3] || path.join(root, 'src', 'proto');

// Per-field limits (proto/limits.h). Keys: "ctor.field" or "*.field"; defaults by wire type.
const LIMITS = {
    'http.header.name': 'PROTO_MAX_HTTP_FIELD',
    'http.header.value': 'PROTO_MAX_HTTP_FIELD',
    'http.request.headers': 'PROTO_MAX_HTTP_HEADERS',
    'http.response.headers': 'PROTO_MAX_HTTP_HEADERS',
    'client.authorizeWithProxyShort.data': 'PROTO_MAX_STRING',
    'proxy.signedPayment.data': 'PROTO_MAX_STRING',
    'client.refund.data': 'PROTO_MAX_STRING',
    '*.worker_debug': 'PROTO_MAX_DEBUG_STRING',
    '*.proxy_debug': 'PROTO_MAX_DEBUG_STRING',
};
const DEFAULT_LIMIT = {string: 'PROTO_MAX_STRING', bytes: 'PROTO_MAX_BYTES', vector: 'PROTO_MAX_VECTOR'};

function snake(s) {
    return s.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}
function die(msg) {
    console.error('tlgen: ' + msg);
    process.exit(1);
}

// ---- parse ----
const ctors = [];
let section = 'types';
for (const raw of fs.readFileSync(schemaPath, 'utf8').split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (!line) continue;
    if (line === '---functions---') { section = 'functions'; continue; }
    if (line === '---types---') { section = 'types'; continue; }
    const m = line.match(/^([A-Za-z_][\w.]*)(?:#([0-9a-f]{8}))?\s*(.*?)\s*=\s*([\w.]+)\s*;$/);
    if (!m) die('cannot parse: ' + line);
    const norm = line.replace(/#[0-9a-f]{8}/, '').replace(/[()]/g, '').replace(/;$/, '')
        .replace(/\s+/g, ' ').trim();
    const id = m[2] ? parseInt(m[2], 16) : zlib.crc32(norm);
    const fields = [];
    for (const tok of m[3] ? m[3].match(/[\w]+:(?:\([^)]*\)|\S+)/g) || [] : []) {
        const [, name, ty] = tok.match(/^(\w+):(.*)$/);
        let t = ty, flag = null;
        const fm = t.match(/^(\w+)\.(\d+)\?(.*)$/);
        if (fm) {
            const idx = fields.findIndex((f) => f.name === fm[1] && f.type.kind === '#');
            if (idx < 0) die(`${m[1]}.${name}: unknown flags field ${fm[1]}`);
            flag = {idx, bit: +fm[2]};
            t = fm[3];
        }
        const vm = t.match(/^\(vector ([\w.]+)\)$/);
        const type = vm ? {kind: 'vector', item: {name: vm[1]}} : {name: t};
        if (type.name === '#') type.kind = '#';
        fields.push({name, type, flag});
    }
    ctors.push({name: m[1], id, section, fields, result: m[4], cname: 'cm_' + snake(m[1])});
}

const byName = new Map(ctors.map((c) => [c.name, c]));
const types = new Map(); // result type name -> ctors (types section only)
for (const c of ctors) {
    if (c.section !== 'types') continue;
    if (!types.has(c.result)) types.set(c.result, []);
    types.get(c.result).push(c);
}
const PRIM = {
    int: {kind: 'TLO_INT', c: 'int32_t', wire: 4},
    long: {kind: 'TLO_LONG', c: 'int64_t', wire: 8},
    double: {kind: 'TLO_DOUBLE', c: 'double', wire: 8},
    int128: {kind: 'TLO_INT128', c: 'uint8_t', arr: 16, wire: 16},
    int256: {kind: 'TLO_INT256', c: 'uint8_t', arr: 32, wire: 32},
    string: {kind: 'TLO_BYTES', c: 'tl_bytes', wire: 4},
    bytes: {kind: 'TLO_BYTES', c: 'tl_bytes', wire: 4},
    Bool: {kind: 'TLO_BOOL', c: 'bool', wire: 4},
    '#': {kind: 'TLO_FLAGS', c: 'uint32_t', wire: 4},
};
const usedTypes = new Set();
function resolve(name, where) {
    if (PRIM[name]) return {prim: name, ...PRIM[name]};
    if (byName.has(name)) {
        const c = byName.get(name);
        if (c.section !== 'types') die(`${where}: ${name} is a function`);
        return {kind: 'TLO_BARE', ctor: c, c: c.cname};
    }
    if (types.has(name)) {
        usedTypes.add(name);
        return {kind: 'TLO_BOXED', tname: name, c: 'cmt_' + snake(name)};
    }
    die(`${where}: unknown type ${name}`);
}
for (const c of ctors) {
    for (const f of c.fields) {
        const where = `${c.name}.${f.name}`;
        if (f.type.kind === 'vector') {
            if (/^\(vector/.test(f.type.item.name)) die(`${where}: nested vector`);
            f.r = {kind: 'TLO_VECTOR', item: resolve(f.type.item.name, where)};
        } else {
            f.r = resolve(f.type.name, where);
        }
    }
}
for (const [t, cs] of types) if (cs.length > 1) usedTypes.add(t);

// ---- order: definitions after what they embed ----
const order = [];
const seen = new Set();
function visitCtor(c) {
    if (seen.has(c.name)) return;
    seen.add(c.name);
    for (const f of c.fields) {
        if (f.r.kind === 'TLO_BARE') visitCtor(f.r.ctor);
        if (f.r.kind === 'TLO_BOXED') visitType(f.r.tname);
    }
    order.push({ctor: c});
}
function visitType(t) {
    if (seen.has('T:' + t)) return;
    seen.add('T:' + t);
    for (const c of types.get(t)) visitCtor(c);
    order.push({type: t});
}
for (const c of ctors) visitCtor(c);
for (const t of usedTypes) visitType(t);

function limitFor(c, f, wireType) {
    return LIMITS[`${c.name}.${f.name}`] || LIMITS[`*.${f.name}`] || DEFAULT_LIMIT[wireType];
}
const minWire = new Map();
function ctorMinWire(c) {
    if (minWire.has(c.name)) return minWire.get(c.name);
    let n = 0;
    for (const f of c.fields) {
        if (f.flag) continue;
        if (f.r.kind === 'TLO_VECTOR' || f.r.kind === 'TLO_BOXED') n += 4;
        else if (f.r.kind === 'TLO_BARE') n += ctorMinWire(f.r.ctor);
        else n += f.r.wire;
    }
    minWire.set(c.name, n);
    return n;
}
function unionMember(t, c) {
    const ns = t.includes('.') ? t.slice(0, t.indexOf('.') + 1) : '';
    return snake(c.name.startsWith(ns) ? c.name.slice(ns.length) : c.name);
}
function hexId(id) {
    return '0x' + id.toString(16).padStart(8, '0') + 'u';
}

// ---- emit header ----
const gen = '/* Generated by tools/tlgen/tlgen.js from tools/tlgen/cocoon.tl. Do not edit. */\n';
let h = gen + `/* COCOON wire messages (cocoon-internals.md §1.5-1.8) as C structs over the table-driven
 * codec of proto/tlobj.h: see there for the C representation of each TL type. Every message
 * has ID (its constructor id), a tlo_desc, and typed wrappers:
 *   X_encode(buf, msg)  boxed encoding (id + fields) appended to buf
 *   X_decode(cur, msg)  boxed decoding; string/bytes fields BORROW from the cursor's buffer,
 *                       vectors are allocated; on failure msg is zeroed and the cursor unchanged
 *   X_free(msg)         releases what X_decode allocated (NULL-safe)
 * Boxed polymorphic types (cmt_*) hold { id, union u } and decode any of their constructors.
 */
#ifndef COCOON_PROTO_MSG_H
#define COCOON_PROTO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/cur.h"
#include "base/err.h"
#include "proto/tl.h"
#include "proto/tlobj.h"

`;
for (const c of ctors) h += `#define ${c.cname.toUpperCase()}_ID ${hexId(c.id)}\n`;
h += '\n';
for (const c of ctors) h += `typedef struct ${c.cname} ${c.cname};\n`;
for (const t of usedTypes) h += `typedef struct cmt_${snake(t)} cmt_${snake(t)};\n`;
h += '\n';

function memberDecl(f) {
    const r = f.r;
    if (r.kind === 'TLO_VECTOR') {
        const it = r.item;
        const ptr = it.arr ? `${it.c} (*${f.name})[${it.arr}]` : `${it.c} *${f.name}`;
        return [`${ptr};`, `uint32_t ${f.name}_count;`];
    }
    return [r.arr ? `${r.c} ${f.name}[${r.arr}];` : `${r.c} ${f.name};`];
}
for (const o of order) {
    if (o.ctor) {
        const c = o.ctor;
        h += `/* ${c.name}${c.section === 'functions' ? ' (function)' : ''} = ${c.result} */\n`;
        h += `struct ${c.cname} {\n`;
        if (!c.fields.length) h += '    uint8_t empty_; /* no fields; C needs a member */\n';
        for (const f of c.fields) {
            const decl = memberDecl(f);
            const note = f.flag ? ` /* if ${c.fields[f.flag.idx].name} bit ${f.flag.bit} */` : '';
            for (const d of decl) h += `    ${d}${note}\n`;
        }
        h += '};\n';
        h += `extern const tlo_desc ${c.cname}_desc;\n`;
        h += `static inline MUST_CHECK err_t ${c.cname}_encode(buf *b, const ${c.cname} *m)\n{\n    return tlo_encode(b, &${c.cname}_desc, m);\n}\n`;
        h += `static inline MUST_CHECK err_t ${c.cname}_decode(cur *c, ${c.cname} *m)\n{\n    return tlo_decode(c, &${c.cname}_desc, m);\n}\n`;
        h += `static inline void ${c.cname}_free(${c.cname} *m)\n{\n    tlo_free(&${c.cname}_desc, m);\n}\n\n`;
    } else {
        const t = o.type;
        const tn = 'cmt_' + snake(t);
        h += `/* ${t}: one of ${types.get(t).map((c) => c.name).join(', ')} */\n`;
        h += `struct ${tn} {\n    uint32_t id; /* constructor id of the member in use */\n    union {\n`;
        for (const c of types.get(t)) h += `        ${c.cname} ${unionMember(t, c)};\n`;
        h += '    } u;\n};\n';
        h += `extern const tlo_type ${tn}_type;\n`;
        h += `static inline MUST_CHECK err_t ${tn}_encode(buf *b, const ${tn} *m)\n{\n    return tlo_type_encode(b, &${tn}_type, m);\n}\n`;
        h += `static inline MUST_CHECK err_t ${tn}_decode(cur *c, ${tn} *m)\n{\n    return tlo_type_decode(c, &${tn}_type, m);\n}\n`;
        h += `static inline void ${tn}_free(${tn} *m)\n{\n    tlo_type_free(&${tn}_type, m);\n}\n\n`;
    }
}
h += `/* Every declared constructor (types and functions), in schema order. */
extern const tlo_desc *const cm_all[];
extern const size_t cm_all_count;
/* Every boxed polymorphic type. */
extern const tlo_type *const cm_all_types[];
extern const size_t cm_all_types_count;
/* The declared constructor with this id, or NULL. */
const tlo_desc *cm_find(uint32_t id);

#endif
`;

// ---- emit source ----
let s = gen + '#include "msg.h"\n\n#include <stddef.h>\n\n#include "limits.h"\n\n';
function elemInit(r, c, f, wireType) {
    const max = r.kind === 'TLO_BYTES' ? limitFor(c, f, wireType) : '0';
    const bare = r.kind === 'TLO_BARE' ? `&${r.ctor.cname}_desc` : 'NULL';
    const boxed = r.kind === 'TLO_BOXED' ? `&cmt_${snake(r.tname)}_type` : 'NULL';
    return `{${r.kind}, ${max}, ${bare}, ${boxed}}`;
}
for (const o of order) {
    if (o.type) {
        const t = o.type;
        const tn = 'cmt_' + snake(t);
        s += `static const tlo_desc *const ${tn}_ctors[] = {${types.get(t).map((c) => '&' + c.cname + '_desc').join(', ')}};\n`;
        s += `const tlo_type ${tn}_type = {"${t}", sizeof(${tn}), offsetof(${tn}, u), ${tn}_ctors, ${types.get(t).length}};\n\n`;
        continue;
    }
    const c = o.ctor;
    if (c.fields.length) {
        s += `static const tlo_field ${c.cname}_fields[] = {\n`;
        for (const f of c.fields) {
            const r = f.r;
            const wt = f.type.kind === 'vector' ? 'vector' : f.type.name;
            let t, item = '{0}', countOff = '0';
            if (r.kind === 'TLO_VECTOR') {
                t = `{TLO_VECTOR, ${limitFor(c, f, 'vector')}, NULL, NULL}`;
                item = elemInit(r.item, c, f, f.type.item.name);
                countOff = `offsetof(${c.cname}, ${f.name}_count)`;
            } else {
                t = elemInit(r, c, f, wt);
            }
            const fl = f.flag ? `${f.flag.idx}, ${f.flag.bit}` : '-1, 0';
            s += `    {"${f.name}", ${t}, ${item}, offsetof(${c.cname}, ${f.name}), ${countOff}, ${fl}},\n`;
        }
        s += '};\n';
    }
    s += `const tlo_desc ${c.cname}_desc = {"${c.name}", ${c.cname.toUpperCase()}_ID, sizeof(${c.cname}), ${ctorMinWire(c)}, ${c.fields.length ? c.cname + '_fields' : 'NULL'}, ${c.fields.length}};\n\n`;
}
s += `const tlo_desc *const cm_all[] = {\n${ctors.map((c) => `    &${c.cname}_desc,`).join('\n')}\n};\n`;
s += `const size_t cm_all_count = sizeof(cm_all) / sizeof(cm_all[0]);\n\n`;
s += `const tlo_type *const cm_all_types[] = {\n${[...usedTypes].map((t) => `    &cmt_${snake(t)}_type,`).join('\n')}\n};\n`;
s += `const size_t cm_all_types_count = sizeof(cm_all_types) / sizeof(cm_all_types[0]);\n\n`;
s += `const tlo_desc *cm_find(uint32_t id)\n{\n    for (size_t i = 0; i < cm_all_count; i++) {\n        if (cm_all[i]->id == id) {\n            return cm_all[i];\n        }\n    }\n    return NULL;\n}\n`;

const ids = new Map();
for (const c of ctors) {
    if (ids.has(c.id)) die(`duplicate id ${hexId(c.id)}: ${ids.get(c.id)} and ${c.name}`);
    ids.set(c.id, c.name);
}
fs.writeFileSync(path.join(outDir, 'msg.h'), h);
fs.writeFileSync(path.join(outDir, 'msg.c'), s);
console.log(`tlgen: ${ctors.length} constructors, ${usedTypes.size} boxed types -> ${outDir}/msg.{h,c}`);
