// Engine benchmark: prefill and decode tokens/s and peak RSS of the built-in engine
// (bench/engine/engine_bench.c) and of llama.cpp (node-llama-cpp 3.21.1, prebuilt CPU build)
// on the same GGUF file, at 1 and 2 threads, in one run, with the ratio.
//
//   node bench.mjs [MODEL.gguf] [--prompt N] [--gen N] [--reps R]
//
// Each measurement runs in its own process so that peak RSS belongs to it. The prompt is the
// same fixed text for both engines (first N tokens, cycled); decoding is greedy for N tokens
// and continues through end-of-generation tokens, so both engines decode the same count.
import {execFileSync} from "node:child_process";
import {fileURLToPath} from "node:url";

import {BENCH, DEMO, readKv} from "./lib.mjs";

const TEXT = "The quick brown fox jumps over the lazy dog. A computer is a machine that follows " +
    "instructions, and the meaning of life is a question that programmers ask at night. ";

function arg(name, dflt) {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : dflt;
}

async function child(model, threads, nPrompt, nGen, reps) {
    const base = process.memoryUsage().rss;
    const {getLlama, LlamaLogLevel} = await import("node-llama-cpp");
    const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
    const m = await llama.loadModel({modelPath: model});
    const text = Array.from(m.tokenize(TEXT, false));
    const prompt = Array.from({length: nPrompt}, (_, i) => text[i % text.length]);
    let bestPp = 0;
    let bestTg = 0;
    for (let r = 0; r < reps; r++) {
        const ctx = await m.createContext({contextSize: nPrompt + nGen + 8, batchSize: 512, threads});
        const seq = ctx.getSequence();
        const t0 = performance.now();
        let t1 = 0;
        let n = 0;
        for await (const _t of seq.evaluate(prompt, {temperature: 0, yieldEogToken: true})) {
            if (n === 0) t1 = performance.now();
            n++;
            if (n > nGen) break;
        }
        const t2 = performance.now();
        if (n !== nGen + 1) {
            throw new Error(`llama.cpp stopped after ${n} tokens`);
        }
        bestPp = Math.max(bestPp, nPrompt / ((t1 - t0) / 1000));
        bestTg = Math.max(bestTg, nGen / ((t2 - t1) / 1000));
        await ctx.dispose();
    }
    const peak = process.resourceUsage().maxRSS / 1024;
    console.log(JSON.stringify({engine: "llama.cpp", threads, prompt: nPrompt, gen: nGen,
        prefill_tps: +bestPp.toFixed(1), decode_tps: +bestTg.toFixed(1), peak_rss_mb: +peak.toFixed(1),
        node_baseline_rss_mb: +(base / 1048576).toFixed(1)}));
}

async function main() {
    const model = process.argv[2] && !process.argv[2].startsWith("--") ? process.argv[2] : DEMO;
    const nPrompt = +arg("--prompt", 128);
    const nGen = +arg("--gen", 128);
    const reps = +arg("--reps", 3);
    if (process.argv.includes("--child")) {
        return child(model, +arg("--threads", 1), nPrompt, nGen, reps);
    }
    const name = readKv(model).kvs.get("general.name")?.value ?? model;
    console.log(`model ${name} (${model}), prompt ${nPrompt} tokens, decode ${nGen} tokens, best of ${reps}`);
    const rows = [];
    for (const threads of [1, 2]) {
        const ours = JSON.parse(execFileSync(BENCH, [model, "--threads", `${threads}`, "--prompt",
            `${nPrompt}`, "--gen", `${nGen}`, "--reps", `${reps}`]).toString());
        const theirs = JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), model,
            "--child", "--threads", `${threads}`, "--prompt", `${nPrompt}`, "--gen", `${nGen}`,
            "--reps", `${reps}`]).toString().trim().split("\n").pop());
        rows.push({threads, ours, theirs});
    }
    const pad = (s, n) => `${s}`.padStart(n);
    console.log("threads | engine    | prefill tok/s | decode tok/s | peak RSS MB");
    for (const {threads, ours, theirs} of rows) {
        console.log(`${pad(threads, 7)} | cocoon    | ${pad(ours.prefill_tps, 13)} | ${pad(ours.decode_tps, 12)} | ${pad(ours.peak_rss_mb, 11)}  (${ours.kernels})`);
        console.log(`${pad(threads, 7)} | llama.cpp | ${pad(theirs.prefill_tps, 13)} | ${pad(theirs.decode_tps, 12)} | ${pad(theirs.peak_rss_mb, 11)}  (node baseline ${theirs.node_baseline_rss_mb})`);
    }
    const best = (k, who) => Math.max(...rows.map((r) => r[who][k]));
    for (const k of ["prefill_tps", "decode_tps"]) {
        for (const {threads, ours, theirs} of rows) {
            console.log(`ratio ${k} at ${threads} thread(s): cocoon / llama.cpp = ${(ours[k] / theirs[k]).toFixed(2)}x`);
        }
        console.log(`ratio ${k}, best thread count of each: ${(best(k, "ours") / best(k, "theirs")).toFixed(2)}x`);
    }
}

await main();
