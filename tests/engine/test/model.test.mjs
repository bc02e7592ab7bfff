// The forward pass against llama.cpp (node-llama-cpp 3.21.1's prebuilt CPU build) on the demo
// model, on our own Q8_0 / Q4_0 quantizations of it, and on random-weight llama (BF16),
// qwen2 (F16, Q/K/V biases) and qwen3 (F32, Q/K norms) models generated here.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import {test} from "node:test";

import {DEMO, G, llamaEval, probe, quantize, randomModel, ROOT, TMP} from "../lib.mjs";

const ref = JSON.parse(fs.readFileSync(path.join(ROOT, "models/reference.json"), "utf8"));
const prompts = ref.prompts.map((p) => ({name: p.name, ids: p.input_ids}));

// Top-10 as logit differences from the top token: llama.cpp's come from its probabilities.
function compareTop(name, ours, theirs, tol) {
    const o = new Map(ours.top.map(([id, v]) => [id, v - ours.top[0][1]]));
    let worst = 0;
    for (const [id, d] of theirs.top) {
        if (!o.has(id)) {
            // a token can only be missing from our top-10 at the boundary
            assert.ok(Math.abs(d - theirs.top.at(-1)[1]) < tol, `${name}: ${id} not in our top-10`);
            continue;
        }
        worst = Math.max(worst, Math.abs(o.get(id) - d));
    }
    assert.ok(worst <= tol, `${name}: top-10 logit differences deviate by ${worst} > ${tol}`);
    return worst;
}

// Greedy tokens must agree; a divergence is accepted only at a near-tie of our logits.
function compareGreedy(name, file, tokens, ours, theirs, tieTol) {
    const n = Math.min(ours.greedy.length, theirs.greedy.length);
    for (let i = 0; i < n; i++) {
        if (ours.greedy[i] === theirs.greedy[i]) continue;
        const at = probe("eval", file, {tokens: tokens.concat(ours.greedy.slice(0, i)), top: 2});
        const margin = at.top[0][1] - at.top[1][1];
        assert.ok(margin < tieTol, `${name}: greedy token ${i} differs (${ours.greedy[i]} vs ` +
            `${theirs.greedy[i]}) with margin ${margin}`);
        return `${i} greedy tokens agree, then a near-tie (margin ${margin.toFixed(4)})`;
    }
    assert.equal(ours.greedy.length, theirs.greedy.length, `${name}: greedy lengths differ`);
    return `all ${n} greedy tokens agree`;
}

async function check(label, file, tol, tieTol, nGreedy = 32) {
    const report = [];
    for (const p of prompts) {
        const ours = probe("eval", file, {tokens: p.ids, n_greedy: nGreedy, top: 10});
        const theirs = await llamaEval(file, p.ids, {nGreedy, topK: 10});
        const worst = compareTop(`${label}/${p.name}`, ours, theirs, tol);
        const agreed = compareGreedy(`${label}/${p.name}`, file, p.ids, ours, theirs, tieTol);
        report.push(`${p.name}: top-10 dev ${worst.toFixed(4)}, ${agreed}`);
    }
    console.log(`# ${label}\n#   ` + report.join("\n#   "));
}

test("demo model F16: same top-10 and greedy tokens as llama.cpp", async () => {
    // llama.cpp rounds activations to F16 for F16 weights: differences of a few 1e-3
    await check("f16", DEMO, 0.02, 0.02);
});

test("our Q8_0 file: llama.cpp loads it and agrees", async () => {
    const f = path.join(TMP, "demo-q8_0.gguf");
    quantize(DEMO, f, "q8_0");
    // llama.cpp also quantizes activations to Q8_0 for these dot products
    await check("q8_0", f, 0.1, 0.1);
});

test("our Q4_0 file: llama.cpp loads it and agrees", async () => {
    const f = path.join(TMP, "demo-q4_0.gguf");
    quantize(DEMO, f, "q4_0");
    // 4-bit weights: logits of about 8 to 10 move by up to ~2 %
    await check("q4_0", f, 0.2, 0.2);
});

for (const [arch, type, tname, tol, tied] of [["llama", G.BF16, "bf16", 0.08, false],
    ["qwen2", G.F16, "f16", 0.02, false], ["qwen3", G.F32, "f32", 0.02, false],
    ["llama", G.F32, "f32", 0.02, false], ["llama", G.F16, "f16", 0.02, true]]) {
    const what = `${arch} ${tname}${tied ? " tied embeddings" : ""}`;
    test(`random-weight ${what}: same top-10 and greedy tokens as llama.cpp`, async () => {
        const f = path.join(TMP, `random-${arch}-${tname}${tied ? "-tied" : ""}.gguf`);
        randomModel(f, {arch, type, seed: arch.length * 7 + type, tied});
        await check(what, f, tol, tol, 24);
    });
}
