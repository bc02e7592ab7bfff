// @phala/dcap-qvl on the same real quotes as bench/dcap/dcap_bench (bench/dcap/run.sh runs
// both). dcap-qvl keeps nothing between calls, so its one figure is per verify() call with the
// collateral object already parsed from JSON.
//
//   npm run bench [-- SECONDS]     (default 2 per vector)
// Machine-readable lines: "result <name> qvl <ms per quote>".
'use strict';

const lib = require('./lib');

const seconds = Number(process.argv[2] || 2);
if (!(seconds > 0 && seconds <= 600)) {
    console.error('usage: node bench.js [SECONDS]');
    process.exit(2);
}
const NAMES = {
    'dcapqvl_tdx_quote_v4.dat': 'dcapqvl_tdx_quote_v4',
    'cocoon_quote_v4.dat': 'cocoon_quote_v4',
    'gotdx_quote_v5.dat': 'gotdx_quote_v5',
};
console.log(`dcap-qvl ${require('@phala/dcap-qvl/package.json').version} on node ${process.version}: `
    + `${seconds} s per vector`);
for (const raw of lib.VECTORS.filter((v) => NAMES[v.quote])) {
    const v = lib.loadVector(raw);
    const check = lib.runQvl(v.quoteBytes, v.collateral, v.at); // also warms the JIT
    if (!check.ok || check.status !== v.status) {
        throw new Error(`${v.quote}: dcap-qvl says ${JSON.stringify(check)}`);
    }
    const now = lib.unix(v.at);
    const { verify } = require('@phala/dcap-qvl');
    for (let i = 0; i < 20; i++) verify(v.quoteBytes, v.collateral, now);
    const t0 = process.hrtime.bigint();
    const deadline = t0 + BigInt(Math.round(seconds * 1e9));
    let n = 0;
    let t = t0;
    while (t < deadline) {
        for (let j = 0; j < 4; j++, n++) verify(v.quoteBytes, v.collateral, now);
        t = process.hrtime.bigint();
    }
    const ms = Number(t - t0) / 1e6 / n;
    const name = NAMES[v.quote];
    console.log(`${name.padEnd(22)} qvl  ${ms.toFixed(4).padStart(9)} ms/quote  `
        + `(${(1e3 / ms).toFixed(0).padStart(8)} quotes/s, ${n} runs)`);
    console.log(`result ${name} qvl ${ms.toFixed(6)}`);
}
