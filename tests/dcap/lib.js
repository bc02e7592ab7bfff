// Shared by the differential test and the benchmark: the real vectors, where the `cocoon`
// binary is, running both verifiers, and the quote layout used to aim mutations.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const dcap = require('@phala/dcap-qvl');

const ROOT = path.resolve(__dirname, '..', '..');
const TD = path.join(ROOT, 'tests', 'data', 'tdx');

// Every Intel status: the C verifier is asked to accept any of them, so that "accept" means
// "Intel would return a status" on both sides (dcap-qvl returns the status, it does not
// apply a policy). Statuses are compared separately.
const ALL_STATUSES = [
    'UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded',
    'OutOfDate', 'OutOfDateConfigurationNeeded', 'TDRelaunchAdvised',
    'TDRelaunchAdvisedConfigurationNeeded',
].join(',');

// Real vectors (tests/data/tdx/SOURCE.md) with their collateral and a time inside its window;
// `before`/`after` lie well outside it; `expiry` is the earliest nextUpdate / notAfter of the
// set (cocoon's collateral_expiry: often a CRL's nextUpdate, see ALLOWED in the test).
const VECTORS = [
    { quote: 'dcapqvl_tdx_quote_v4.dat', coll: 'dcapqvl_tdx_quote_collateral.json',
      at: '2025-07-01T00:00:00Z', before: '2025-06-01T00:00:00Z', after: '2026-07-19T00:00:00Z',
      expiry: '2025-07-19T10:00:35Z', status: 'UpToDate' },
    { quote: 'cocoon_quote_v4.dat', coll: 'dcapqvl_collateral_2026-02.json',
      at: '2026-03-05T12:00:00Z', before: '2026-02-01T00:00:00Z', after: '2027-03-21T00:00:00Z',
      expiry: '2026-03-20T10:41:15Z', status: 'UpToDate' },
    { quote: 'gotdx_quote_v5.dat', coll: 'dcapqvl_collateral_2026-02.json',
      at: '2026-03-05T12:00:00Z', before: '2026-02-01T00:00:00Z', after: '2027-03-21T00:00:00Z',
      expiry: '2026-03-20T10:41:15Z', status: 'UpToDate' },
    { quote: 'dcapqvl_sgx_quote_v3.dat', coll: 'dcapqvl_sgx_quote_collateral.json',
      at: '2025-07-01T00:00:00Z', before: '2025-06-01T00:00:00Z', after: '2026-07-01T00:00:00Z',
      expiry: '2025-07-19T10:01:18Z', status: 'ConfigurationAndSWHardeningNeeded' },
    { quote: 'dcapqvl_tdx_quote_outdated.dat', coll: 'dcapqvl_collateral_2026-02.json',
      at: '2026-03-05T12:00:00Z', before: '2026-02-01T00:00:00Z', after: '2027-03-21T00:00:00Z',
      status: null /* no matching TCB level: both reject */ },
];

// $COCOON_BIN, else $COCOON_BUILD/cocoon (scripts/test sets it), else the newest of
// build-asan/cocoon and build/cocoon. Nothing is built here.
function findCocoon() {
    if (!process.env.COCOON_BIN && process.env.COCOON_BUILD) {
        const p = path.join(process.env.COCOON_BUILD, 'cocoon');
        if (!fs.existsSync(p)) throw new Error(`COCOON_BUILD=${process.env.COCOON_BUILD} has no cocoon`);
        return p;
    }
    if (process.env.COCOON_BIN) {
        if (!fs.existsSync(process.env.COCOON_BIN)) {
            throw new Error(`COCOON_BIN=${process.env.COCOON_BIN} does not exist`);
        }
        return process.env.COCOON_BIN;
    }
    const found = ['build-asan', 'build']
        .map((d) => path.join(ROOT, d, 'cocoon'))
        .filter((p) => fs.existsSync(p))
        .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
    if (!found.length) {
        throw new Error('no cocoon binary: build build/ or build-asan/ first, or set COCOON_BIN');
    }
    return found[0];
}

function loadVector(v) {
    const collPath = path.join(TD, v.coll);
    return {
        ...v,
        quoteBytes: fs.readFileSync(path.join(TD, v.quote)),
        collPath,
        collateral: JSON.parse(fs.readFileSync(collPath, 'utf8')),
    };
}

const unix = (s) => Math.floor(Date.parse(s) / 1000);

// dcap-qvl: { ok, status, error }
function runQvl(quoteBytes, collateral, at) {
    try {
        const r = dcap.verify(quoteBytes, collateral, unix(at));
        return { ok: true, status: r.status };
    } catch (e) {
        return { ok: false, error: e.message + (e.cause ? `: ${e.cause.message}` : '') };
    }
}

// cocoon attest verify --quote: exit 0 accepted, 1 rejected, 2 unreadable (also a rejection).
function runCocoon(bin, quoteFile, collPath, at) {
    return new Promise((resolve, reject) => {
        execFile(bin, ['attest', 'verify', '--quote', quoteFile, '--collateral', collPath,
            '--time', at, '--accept', ALL_STATUSES],
        { env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' }, maxBuffer: 1 << 20 },
        (err, stdout, stderr) => {
            const code = err ? err.code : 0;
            if (typeof code !== 'number' || code > 2) {
                reject(new Error(`cocoon crashed on ${quoteFile} (${code}): ${stderr}`));
                return;
            }
            const status = /^status: (\S+)$/m.exec(stdout);
            const error = /^error: (\S+)$/m.exec(stdout) || /error: (.*)$/m.exec(stderr);
            resolve({ ok: code === 0, status: status && status[1], error: error && error[1],
                code });
        });
    });
}

// Many quotes against one collateral in one process (cocoon attest verify --quotes-from):
// resolves to a Map file -> { ok, status, error }.
function runCocoonBatch(bin, files, collPath, at, tmpDir) {
    const list = path.join(tmpDir, `list-${process.pid}-${Math.random().toString(16).slice(2)}`);
    fs.writeFileSync(list, files.join('\n') + '\n');
    return new Promise((resolve, reject) => {
        execFile(bin, ['attest', 'verify', '--quotes-from', list, '--collateral', collPath,
            '--time', at, '--accept', ALL_STATUSES], { maxBuffer: 64 << 20 },
        (err, stdout, stderr) => {
            if (err) {
                reject(new Error(`cocoon --quotes-from failed (${err.code}): ${stderr}`));
                return;
            }
            const out = new Map();
            for (const line of stdout.split('\n')) {
                if (!line) continue;
                const [file, verdict, what] = line.split('\t');
                out.set(file, verdict === 'ok' ? { ok: true, status: what }
                    : { ok: false, error: `${verdict} ${what}` });
            }
            const missing = files.filter((f) => !out.has(f));
            if (missing.length) {
                reject(new Error(`cocoon gave no verdict for ${missing.length} quotes`));
                return;
            }
            resolve(out);
        });
    });
}

// Runs fn over items with `width` promises in flight.
async function pool(items, width, fn) {
    const out = new Array(items.length);
    let next = 0;
    async function worker() {
        while (next < items.length) {
            const i = next++;
            out[i] = await fn(items[i], i);
        }
    }
    await Promise.all(Array.from({ length: Math.max(1, width) }, worker));
    return out;
}

// Byte ranges of the signed structures of a quote (attestation.md §1): header, body, the
// signature data's parts, and the trailing padding.
function layout(q) {
    const version = q.readUInt16LE(0);
    const r = { version, regions: {} };
    const reg = (name, start, end) => { r.regions[name] = [start, end]; };
    reg('header', 0, 48);
    let signedLen;
    if (version === 5) {
        const size = q.readUInt32LE(50);
        reg('body_descriptor', 48, 54);
        reg('body', 54, 54 + size);
        signedLen = 54 + size;
    } else if (q.readUInt32LE(4) === 0x81) {
        reg('body', 48, 632);
        signedLen = 632;
    } else {
        reg('body', 48, 432);
        signedLen = 432;
    }
    const sigLen = q.readUInt32LE(signedLen);
    reg('sig_data_len', signedLen, signedLen + 4);
    const s = signedLen + 4;
    reg('quote_sig', s, s + 64);
    reg('att_key', s + 64, s + 128);
    let p = s + 128;
    if (version !== 3) {
        reg('cert_type6_header', p, p + 6); // u16 type 6, u32 size
        p += 6;
    }
    reg('qe_report', p, p + 384);
    reg('qe_report_sig', p + 384, p + 448);
    p += 448;
    const authLen = q.readUInt16LE(p);
    reg('qe_auth_len', p, p + 2);
    reg('qe_auth_data', p + 2, p + 2 + authLen);
    p += 2 + authLen;
    reg('pck_header', p, p + 6); // u16 type 5, u32 size
    const pemLen = q.readUInt32LE(p + 2);
    reg('pck_chain', p + 6, p + 6 + pemLen);
    reg('trailing', s + sigLen, q.length);
    r.signedLen = signedLen;
    r.end = s + sigLen;
    return r;
}

// Deterministic PRNG (mulberry32) so a seed reproduces a run.
function rng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

module.exports = {
    ROOT, TD, VECTORS, ALL_STATUSES, findCocoon, loadVector, runQvl, runCocoon, runCocoonBatch,
    pool, layout,
    rng, unix,
};
