// Helpers of the engine oracle suite: the engine_probe child process, a small GGUF reader and
// writer (for vocabulary-only and random-weight test models) and llama.cpp via node-llama-cpp.
import {execFileSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {fileURLToPath} from "node:url";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, "../..");
export const BUILD = process.env.COCOON_BUILD || path.join(ROOT, "build-engine-oracle");
export const PROBE = path.join(BUILD, "engine_probe");
export const BENCH = path.join(BUILD, "engine_bench");
export const DEMO = path.join(ROOT, "models/fortune-llama-7m-f16.gguf");
export const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "cocoon-oracle-"));

export function probe(cmd, file, req) {
    const out = execFileSync(PROBE, [cmd, file], {input: JSON.stringify(req), maxBuffer: 1 << 28});
    return JSON.parse(out.toString("utf8"));
}

export function quantize(src, dst, type) {
    execFileSync(PROBE, ["quantize", src, dst, type]);
}

// ---- GGUF (ggml docs/gguf.md) ----

export const T = {U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9,
    U64: 10, I64: 11, F64: 12};
export const G = {F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30};
const SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8};

// Reads the metadata pairs (with their raw bytes) of a GGUF file.
export function readKv(file) {
    const b = fs.readFileSync(file);
    let o = 8;
    const n_t = Number(b.readBigUInt64LE(o));
    const n_kv = Number(b.readBigUInt64LE(o + 8));
    o += 16;
    const str = () => {
        const n = Number(b.readBigUInt64LE(o));
        const s = b.toString("utf8", o + 8, o + 8 + n);
        o += 8 + n;
        return s;
    };
    const scalar = (t) => {
        const v = [() => b.readUInt8(o), () => b.readInt8(o), () => b.readUInt16LE(o),
            () => b.readInt16LE(o), () => b.readUInt32LE(o), () => b.readInt32LE(o),
            () => b.readFloatLE(o), () => b.readUInt8(o) !== 0, null, null,
            () => b.readBigUInt64LE(o), () => b.readBigInt64LE(o), () => b.readDoubleLE(o)][t]();
        o += SCALAR[t];
        return v;
    };
    const kvs = new Map();
    for (let i = 0; i < n_kv; i++) {
        const start = o;
        const key = str();
        const t = b.readUInt32LE(o);
        o += 4;
        let value;
        if (t === T.STRING) value = str();
        else if (t === T.ARRAY) {
            const et = b.readUInt32LE(o);
            const n = Number(b.readBigUInt64LE(o + 4));
            o += 12;
            value = [];
            for (let k = 0; k < n; k++) value.push(et === T.STRING ? str() : scalar(et));
        } else value = scalar(t);
        kvs.set(key, {type: t, value, raw: b.subarray(start, o)});
    }
    return {kvs, n_t};
}

class W {
    constructor() { this.parts = []; }
    u32(v) { const x = Buffer.alloc(4); x.writeUInt32LE(v); this.parts.push(x); }
    i32(v) { const x = Buffer.alloc(4); x.writeInt32LE(v); this.parts.push(x); }
    u64(v) { const x = Buffer.alloc(8); x.writeBigUInt64LE(BigInt(v)); this.parts.push(x); }
    f32(v) { const x = Buffer.alloc(4); x.writeFloatLE(v); this.parts.push(x); }
    str(s) { const x = Buffer.from(s, "utf8"); this.u64(x.length); this.parts.push(x); }
    raw(x) { this.parts.push(x); }
    get length() { return this.parts.reduce((a, p) => a + p.length, 0); }
    buf() { return Buffer.concat(this.parts); }
}

// kv builders: each returns the encoded pair
export const kv = {
    str: (k, v) => { const w = new W(); w.str(k); w.u32(T.STRING); w.str(v); return w.buf(); },
    u32: (k, v) => { const w = new W(); w.str(k); w.u32(T.U32); w.u32(v); return w.buf(); },
    f32: (k, v) => { const w = new W(); w.str(k); w.u32(T.F32); w.f32(v); return w.buf(); },
    bool: (k, v) => { const w = new W(); w.str(k); w.u32(T.BOOL); w.raw(Buffer.from([v ? 1 : 0])); return w.buf(); },
    strs: (k, vs) => { const w = new W(); w.str(k); w.u32(T.ARRAY); w.u32(T.STRING); w.u64(vs.length); for (const v of vs) w.str(v); return w.buf(); },
    i32s: (k, vs) => { const w = new W(); w.str(k); w.u32(T.ARRAY); w.u32(T.I32); w.u64(vs.length); for (const v of vs) w.i32(v); return w.buf(); },
    f32s: (k, vs) => { const w = new W(); w.str(k); w.u32(T.ARRAY); w.u32(T.F32); w.u64(vs.length); for (const v of vs) w.f32(v); return w.buf(); },
};

// tensors: [{name, ne: [..], type, data: Buffer}]
export function writeGguf(file, kvs, tensors, align = 32) {
    const w = new W();
    w.u32(0x46554747);
    w.u32(3);
    w.u64(tensors.length);
    w.u64(kvs.length);
    for (const k of kvs) w.raw(k);
    let off = 0;
    const offs = [];
    for (const t of tensors) {
        w.str(t.name);
        w.u32(t.ne.length);
        for (const d of t.ne) w.u64(d);
        w.u32(t.type);
        w.u64(off);
        offs.push(off);
        off += t.data.length;
        off = Math.ceil(off / align) * align;
    }
    const head = w.buf();
    const pad = (align - (head.length % align)) % align;
    const out = [head, Buffer.alloc(pad)];
    let pos = 0;
    tensors.forEach((t, i) => {
        out.push(Buffer.alloc(offs[i] - pos));
        out.push(t.data);
        pos = offs[i] + t.data.length;
    });
    out.push(Buffer.alloc(Math.ceil(pos / align) * align - pos));
    fs.writeFileSync(file, Buffer.concat(out));
}

// ---- random weights ----

let seed = 12345;
export function reseed(s) { seed = s >>> 0; }
function rnd() { // mulberry32
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
export function gauss(n, std) {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
        const u = Math.max(rnd(), 1e-12);
        a[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd()) * std;
    }
    return a;
}
function f32ToF16(f) {
    const b = new DataView(new ArrayBuffer(4));
    b.setFloat32(0, f);
    const x = b.getUint32(0);
    const sign = (x >>> 16) & 0x8000;
    let e = ((x >>> 23) & 0xff) - 127 + 15;
    let m = x & 0x7fffff;
    if (e <= 0) return sign; // tiny values flush to zero (the test weights have none)
    if (e >= 31) return sign | 0x7c00;
    let h = sign | (e << 10) | (m >>> 13);
    const rest = m & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
    return h;
}
export function encode(a, type) {
    if (type === G.F32) return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const out = Buffer.alloc(a.length * 2);
    for (let i = 0; i < a.length; i++) {
        if (type === G.F16) out.writeUInt16LE(f32ToF16(a[i]), 2 * i);
        else { // BF16, round to nearest even
            const b = new DataView(new ArrayBuffer(4));
            b.setFloat32(0, a[i]);
            const x = b.getUint32(0);
            out.writeUInt16LE(((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff, 2 * i);
        }
    }
    return out;
}

// A random-weight model of the given architecture using the demo model's vocabulary.
export function randomModel(file, {arch, type, d = 64, n_head = 4, n_head_kv = 2, ff = 128, layers = 2, seed: s = 1, tied = false}) {
    reseed(s);
    const demo = readKv(DEMO).kvs;
    const hd = d / n_head;
    const V = 4096;
    const kvs = [kv.str("general.architecture", arch), kv.str("general.name", `random-${arch}`),
        kv.u32(`${arch}.context_length`, 256), kv.u32(`${arch}.embedding_length`, d),
        kv.u32(`${arch}.block_count`, layers), kv.u32(`${arch}.feed_forward_length`, ff),
        kv.u32(`${arch}.attention.head_count`, n_head), kv.u32(`${arch}.attention.head_count_kv`, n_head_kv),
        kv.f32(`${arch}.rope.freq_base`, 10000), kv.f32(`${arch}.attention.layer_norm_rms_epsilon`, 1e-6)];
    for (const [k, v] of demo) if (k.startsWith("tokenizer.")) kvs.push(v.raw);
    const ts = [];
    const mat = (name, cols, rows, std) => ts.push({name, ne: [cols, rows], type, data: encode(gauss(cols * rows, std), type)});
    const vec = (name, n, std, mean = 0) => {
        const a = gauss(n, std);
        for (let i = 0; i < n; i++) a[i] += mean;
        ts.push({name, ne: [n], type: G.F32, data: encode(a, G.F32)});
    };
    mat("token_embd.weight", d, V, 1.0);
    vec("output_norm.weight", d, 0.1, 1.0);
    if (!tied) {
        mat("output.weight", d, V, 2.0 / Math.sqrt(d));
    }
    for (let l = 0; l < layers; l++) {
        const p = `blk.${l}.`;
        vec(p + "attn_norm.weight", d, 0.1, 1.0);
        mat(p + "attn_q.weight", d, n_head * hd, 1 / Math.sqrt(d));
        mat(p + "attn_k.weight", d, n_head_kv * hd, 1 / Math.sqrt(d));
        mat(p + "attn_v.weight", d, n_head_kv * hd, 1 / Math.sqrt(d));
        if (arch === "qwen2") {
            vec(p + "attn_q.bias", n_head * hd, 0.5);
            vec(p + "attn_k.bias", n_head_kv * hd, 0.5);
            vec(p + "attn_v.bias", n_head_kv * hd, 0.5);
        }
        if (arch === "qwen3") {
            vec(p + "attn_q_norm.weight", hd, 0.1, 1.0);
            vec(p + "attn_k_norm.weight", hd, 0.1, 1.0);
        }
        mat(p + "attn_output.weight", n_head * hd, d, 1 / Math.sqrt(n_head * hd));
        vec(p + "ffn_norm.weight", d, 0.1, 1.0);
        mat(p + "ffn_gate.weight", d, ff, 1 / Math.sqrt(d));
        mat(p + "ffn_up.weight", d, ff, 1 / Math.sqrt(d));
        mat(p + "ffn_down.weight", ff, d, 1 / Math.sqrt(ff));
    }
    writeGguf(file, kvs, ts);
}

// ---- llama.cpp ----

let llamaP = null;
export async function llama() {
    if (!llamaP) {
        const {getLlama, LlamaLogLevel} = await import("node-llama-cpp");
        llamaP = getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
    }
    return llamaP;
}

// First-position top-k (as logit differences from the top token, from llama.cpp's softmax at
// temperature 1) and the greedy continuation until an end-of-generation token.
export async function llamaEval(file, tokens, {nGreedy = 16, topK = 10, threads = 1} = {}) {
    const l = await llama();
    const model = await l.loadModel({modelPath: file});
    const ctx = await model.createContext({contextSize: 256, threads, batchSize: 256});
    let seq = ctx.getSequence();
    let top = null;
    for await (const out of seq.evaluateWithMetadata(tokens, {probabilities: true},
        {temperature: 1, topK: 0, topP: 1, minP: 0})) {
        const entries = [...out.probabilities.entries()].slice(0, topK);
        top = entries.map(([id, p]) => [id, Math.log(p) - Math.log(entries[0][1])]);
        break;
    }
    await ctx.dispose();
    const ctx2 = await model.createContext({contextSize: 256, threads, batchSize: 256});
    seq = ctx2.getSequence();
    const greedy = [];
    for await (const t of seq.evaluate(tokens, {temperature: 0})) {
        greedy.push(t);
        if (greedy.length >= nGreedy) break;
    }
    const tokenize = (text, special) => Array.from(model.tokenize(text, special));
    await ctx2.dispose();
    return {top, greedy, model, tokenize};
}
