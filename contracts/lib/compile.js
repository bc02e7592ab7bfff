'use strict';
// Tolk compilation helpers. Sources live in src/; compiled artefacts go to build/ (git-ignored).
const fs = require('fs');
const path = require('path');
const { runTolkCompiler, getTolkCompilerVersion } = require('@ton/tolk-js');
const { Cell } = require('@ton/core');

const SRC_DIR = path.join(__dirname, '..', 'src');
const BUILD_DIR = path.join(__dirname, '..', 'build');
const TOLK_VERSION = '1.3.0';
const CONTRACTS = ['root', 'proxy', 'worker', 'client', 'wallet'];

// Compile `entry` (a file name in src/). `overrides` maps file name -> replacement source text,
// which lets a test compile a patched copy without touching the tree.
async function compileTolk(entry, overrides = {}) {
    const version = await getTolkCompilerVersion();
    if (version !== TOLK_VERSION) {
        throw new Error(`expected Tolk ${TOLK_VERSION}, got ${version}`);
    }
    const res = await runTolkCompiler({
        entrypointFileName: entry,
        fsReadCallback: (p) => overrides[p] ?? fs.readFileSync(path.join(SRC_DIR, p), 'utf-8'),
    });
    if (res.status !== 'ok') {
        throw new Error(`${entry}: ${res.message}`);
    }
    return { codeBoc64: res.codeBoc64, codeHashHex: res.codeHashHex };
}

async function compileAll() {
    fs.mkdirSync(BUILD_DIR, { recursive: true });
    const out = {};
    for (const name of CONTRACTS) {
        const r = await compileTolk(`${name}.tolk`);
        fs.writeFileSync(path.join(BUILD_DIR, `${name}.json`), JSON.stringify(r, null, 1));
        out[name] = r;
    }
    return out;
}

// Code cells from build/, compiling on demand if a file is missing.
async function loadCodes() {
    const codes = {};
    for (const name of CONTRACTS) {
        const f = path.join(BUILD_DIR, `${name}.json`);
        let r;
        if (fs.existsSync(f)) {
            r = JSON.parse(fs.readFileSync(f, 'utf-8'));
        } else {
            r = await compileTolk(`${name}.tolk`);
        }
        codes[name] = Cell.fromBase64(r.codeBoc64);
    }
    return codes;
}

module.exports = { compileTolk, compileAll, loadCodes, SRC_DIR, CONTRACTS };
