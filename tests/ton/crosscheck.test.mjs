// Byte-for-byte cross-check of the C TON library against @ton/core.
//
// Generates deterministic random cases (cells with refs and shared subtrees, deep and wide
// trees, exotic cells, BOCs with and without index/CRC, dictionaries, addresses, internal
// messages, signed external messages, wallets), hands their *descriptions* to the C helper
// `ton_crosscheck` (built from tests/unit/ton/crosscheck_tool.c), which builds everything with
// src/ton alone, and compares its bytes and hashes with what @ton/core produced.
//
// Run: npm ci && COCOON_TON_CROSSCHECK=<path to ton_crosscheck> npm test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
    Address, beginCell, Cell, Dictionary, external, internal, storeMessage,
    storeMessageRelaxed, contractAddress,
} from '@ton/core';
import { keyPairFromSeed, sign } from '@ton/crypto';
import { walletCases } from './wallets.mjs';
import { cocoonCases } from './cocoon_cases.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

function findTool() {
    if (process.env.COCOON_TON_CROSSCHECK) return process.env.COCOON_TON_CROSSCHECK;
    // the most recently built ton_crosscheck in any build directory of this checkout
    const root = path.resolve(here, '..', '..');
    let best = null;
    for (const d of fs.readdirSync(root)) {
        if (!d.startsWith('build')) continue;
        const p = path.join(root, d, 'tests', 'unit', 'ton', 'ton_crosscheck');
        if (fs.existsSync(p)) {
            const t = fs.statSync(p).mtimeMs;
            if (!best || t > best.t) best = { p, t };
        }
    }
    if (!best) throw new Error('ton_crosscheck not found: build it or set COCOON_TON_CROSSCHECK');
    return best.p;
}

// Deterministic PRNG (mulberry32) so a failure reproduces.
const SEED = Number(process.env.TON_CROSSCHECK_SEED ?? 20250601);
let state = SEED >>> 0;
function rnd() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const ri = (n) => Math.floor(rnd() * n);
const rbytes = (n) => Buffer.from(Array.from({ length: n }, () => ri(256)));

function bitsHex(bits) {
    // BitString -> hex of its bits, MSB first, low bits of the last byte zero
    const n = bits.length;
    const out = Buffer.alloc(Math.ceil(n / 8));
    for (let i = 0; i < n; i++) if (bits.at(i)) out[i >> 3] |= 0x80 >> (i & 7);
    return out.toString('hex');
}
function describe(cell) {
    return { b: bitsHex(cell.bits), n: cell.bits.length, x: cell.isExotic, r: cell.refs.map(describe) };
}
function randomBits(b, n) {
    for (let i = 0; i < n; i++) b.storeBit(ri(2));
    return b;
}
function randomCell(depth, pool) {
    const b = beginCell();
    randomBits(b, ri(4) === 0 ? 1023 : ri(300));
    const nrefs = depth > 0 ? ri(5) : 0;
    for (let i = 0; i < nrefs; i++) {
        if (pool.length && ri(3) === 0) b.storeRef(pool[ri(pool.length)]); // shared subtree
        else b.storeRef(randomCell(depth - 1, pool));
    }
    const c = b.endCell();
    pool.push(c);
    return c;
}
const hex = (buf) => Buffer.from(buf).toString('hex');

function makeCases() {
    const cases = [];
    const expect = [];
    const add = (c, e) => { cases.push(c); expect.push(e); };
    const treeCase = (cell, idx, crc) => add(
        { kind: 'tree', tree: describe(cell), idx, crc },
        {
            boc: hex(cell.toBoc({ idx, crc32: crc })), hash: hex(cell.hash()), depth: cell.depth(),
            levels: [0, 1, 2, 3].map((l) => ({ hash: hex(cell.hash(l)), depth: cell.depth(l) })),
        });
    // random trees, some with shared subtrees
    for (let i = 0; i < 60; i++) {
        const pool = [];
        treeCase(randomCell(ri(5), pool), ri(2) === 1, ri(2) === 1);
    }
    // deep chain and a wide tree (> 255 cells: 2-byte cell indices)
    let chain = beginCell().storeUint(1, 1).endCell();
    for (let i = 0; i < 700; i++) chain = beginCell().storeUint(i, 16).storeRef(chain).endCell();
    treeCase(chain, true, true);
    let level = Array.from({ length: 512 }, (_, i) => beginCell().storeUint(i, 10).endCell());
    while (level.length > 1) {
        const next = [];
        for (let i = 0; i < level.length; i += 2) next.push(beginCell().storeUint(i, 9).storeRef(level[i]).storeRef(level[i + 1]).endCell());
        level = next;
    }
    treeCase(level[0], false, true);
    // exotic cells: pruned branches, Merkle proof and update, library
    {
        const pool = [];
        const t = randomCell(3, pool);
        const t2 = randomCell(3, pool);
        const pruned = (c) => beginCell().storeUint(1, 8).storeUint(1, 8).storeBuffer(c.hash(0))
            .storeUint(c.depth(0), 16).endCell({ exotic: true });
        const partial = beginCell().storeUint(0x5a, 8).storeRef(pruned(t)).storeRef(t2).endCell();
        const proof = beginCell().storeUint(3, 8).storeBuffer(partial.hash(0)).storeUint(partial.depth(0), 16)
            .storeRef(partial).endCell({ exotic: true });
        const partial2 = beginCell().storeUint(0x5b, 8).storeRef(pruned(t2)).endCell();
        const update = beginCell().storeUint(4, 8).storeBuffer(partial.hash(0)).storeBuffer(partial2.hash(0))
            .storeUint(partial.depth(0), 16).storeUint(partial2.depth(0), 16)
            .storeRef(partial).storeRef(partial2).endCell({ exotic: true });
        const lib = beginCell().storeUint(2, 8).storeBuffer(t.hash()).endCell({ exotic: true });
        for (const c of [pruned(t), partial, proof, update, lib]) treeCase(c, false, true);
        // a level-2 pruned branch (mask 3): prune a cell that already holds a pruned branch
        const p2 = beginCell().storeUint(1, 8).storeUint(3, 8).storeBuffer(partial.hash(0)).storeBuffer(partial.hash(1))
            .storeUint(partial.depth(0), 16).storeUint(partial.depth(1), 16).endCell({ exotic: true });
        treeCase(beginCell().storeRef(p2).storeRef(pruned(t)).endCell(), true, false);
    }
    // the parser: BOCs written by @ton/core with every flag combination
    for (let i = 0; i < 30; i++) {
        const c = randomCell(ri(4), []);
        const idx = ri(2) === 1, crc = ri(2) === 1;
        add({ kind: 'parse', boc: hex(c.toBoc({ idx, crc32: crc })) }, { tree: describe(c), hash: hex(c.hash()) });
    }
    // dictionaries
    for (const kb of [8, 13, 32, 64, 256, 267]) {
        for (let rep = 0; rep < 4; rep++) {
            const n = rep === 0 ? 1 : 1 + ri(60);
            const valueCodec = { serialize: (src, b) => b.storeBits(src.bits), parse: (s) => s };
            const d = Dictionary.empty(Dictionary.Keys.BigUint(kb), valueCodec);
            const entries = [];
            const seen = new Set();
            for (let i = 0; i < n; i++) {
                const kbytes = rbytes(Math.ceil(kb / 8));
                let k = BigInt('0x' + kbytes.toString('hex')) >> BigInt(Math.ceil(kb / 8) * 8 - kb);
                if (rep === 3) k = BigInt(i); // dense small keys: long common prefixes
                if (seen.has(k)) continue;
                seen.add(k);
                const v = randomBits(beginCell(), ri(40)).endCell();
                d.set(k, v);
                const kb8 = Math.ceil(kb / 8) * 8;
                const kh = (k << BigInt(kb8 - kb)).toString(16).padStart(kb8 / 4, '0');
                entries.push({ k: kh, v: describe(v) });
            }
            const wrap = beginCell().storeDict(d).endCell();
            add({ kind: 'dict', key_bits: kb, entries, js_boc: hex(wrap.toBoc()) },
                { boc: hex(wrap.toBoc()), found: entries.map((e) => e.v.b) });
        }
    }
    // addresses
    for (let i = 0; i < 20; i++) {
        const a = new Address(ri(4) === 0 ? -1 : 0, rbytes(32));
        const input = [a.toRawString(), a.toString(), a.toString({ bounceable: false, testOnly: true }),
            a.toString({ urlSafe: false })][i % 4];
        add({ kind: 'addr', addr: input }, {
            raw: a.toRawString(),
            bounceable: a.toString({ bounceable: true, testOnly: false, urlSafe: true }),
            non_bounceable: a.toString({ bounceable: false, testOnly: false, urlSafe: true }),
            test_bounceable: a.toString({ bounceable: true, testOnly: true, urlSafe: true }),
            test_non_bounceable: a.toString({ bounceable: false, testOnly: true, urlSafe: true }),
            std_bounceable: a.toString({ bounceable: true, testOnly: false, urlSafe: false }),
        });
    }
    // internal messages (MessageRelaxed as wallets send them)
    for (let i = 0; i < 20; i++) {
        const dest = new Address(0, rbytes(32));
        const value = BigInt(ri(1e9)) * BigInt(1 + ri(1000));
        const bounce = ri(2) === 1;
        const body = ri(3) === 0 ? null : randomCell(ri(2), []);
        const init = ri(3) === 0 ? { code: randomCell(1, []), data: randomCell(1, []) } : null;
        const m = internal({ to: dest, value, bounce, body: body ?? undefined, init: init ?? undefined });
        const cell = beginCell().store(storeMessageRelaxed(m)).endCell();
        add({
            kind: 'internal', dest: dest.toRawString(), value: value.toString(), bounce,
            body: body ? describe(body) : null,
            init: init ? { code: describe(init.code), data: describe(init.data) } : null,
        }, { boc: hex(cell.toBoc()) });
    }
    // signed external-in messages
    for (let i = 0; i < 12; i++) {
        const seed = rbytes(32);
        const kp = keyPairFromSeed(seed);
        const payload = randomCell(ri(2), []);
        const trimmed = payload.bits.length > 1023 - 512
            ? beginCell().storeBits(payload.bits.substring(0, 400)).endCell() : payload;
        const sig = sign(trimmed.hash(), kp.secretKey);
        const body = beginCell().storeBuffer(sig).storeSlice(trimmed.beginParse()).endCell();
        const init = ri(2) === 0 ? { code: randomCell(2, []), data: randomCell(1, []) } : null;
        const dest = init ? contractAddress(0, init) : new Address(0, rbytes(32));
        const msg = beginCell().store(storeMessage(external({ to: dest, init: init ?? undefined, body }))).endCell();
        const norm = beginCell().store(storeMessage(external({ to: dest, body }), { forceRef: true })).endCell();
        add({
            kind: 'external', seed: seed.toString('hex'), dest: dest.toRawString(), payload: describe(trimmed),
            init: init ? { code: describe(init.code), data: describe(init.data) } : null,
        }, { boc: hex(msg.toBoc()), hash: hex(msg.hash()), hash_norm: hex(norm.hash()) });
    }
    for (const [c, e] of walletCases({ ri, rbytes, describe, hex })) add(c, e);
    for (const [c, e] of cocoonCases({ ri, rbytes, hex })) add(c, e);
    return { cases, expect };
}

test(`C library agrees with @ton/core byte for byte (seed ${SEED})`, () => {
    const { cases, expect } = makeCases();
    const run = spawnSync(findTool(), [], { input: JSON.stringify({ cases }), maxBuffer: 1 << 28 });
    assert.equal(run.status, 0, `ton_crosscheck failed: ${run.stderr}`);
    const { results } = JSON.parse(run.stdout.toString());
    assert.equal(results.length, cases.length);
    let failed = 0;
    const kinds = {};
    for (let i = 0; i < cases.length; i++) {
        const k = cases[i].kind;
        kinds[k] = (kinds[k] ?? 0) + 1;
        try {
            assert.deepEqual(results[i], expect[i]);
        } catch (err) {
            failed++;
            if (failed <= 5) console.error(`case ${i} (${k}) differs:\n${err.message.slice(0, 3000)}`);
        }
    }
    console.log(`cases by kind: ${JSON.stringify(kinds)}`);
    assert.equal(failed, 0, `${failed} of ${cases.length} cases differ`);
});

// Silence unused-import lint for helpers used only by some runs.
void Cell;
