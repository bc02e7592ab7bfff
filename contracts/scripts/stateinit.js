'use strict';
// Prints, as JSON, the compiled codes and the root StateInit for a genesis (localton, C-side tests):
//   node scripts/stateinit.js <owner-address> [params-json]
// params-json: fields of lib/cocoon.js buildParams (numbers as strings for coins), merged over the
// defaults of defaultParams(). Output: {codes:{name:{boc,hash}}, root:{address, code, data}} (base64 BOCs).
const { Address } = require('@ton/core');
const c = require('../lib/cocoon');

async function main() {
    const [ownerArg, paramsArg] = process.argv.slice(2);
    if (!ownerArg) {
        console.error('usage: node scripts/stateinit.js <owner-address> [params-json]');
        process.exit(2);
    }
    const codes = await c.loadCodes();
    const overrides = {};
    for (const [k, v] of Object.entries(JSON.parse(paramsArg ?? '{}'))) {
        overrides[k] = typeof v === 'string' && /^\d+$/.test(v) ? BigInt(v) : v;
    }
    const params = c.defaultParams(codes, overrides);
    const root = c.rootStateInit(codes, { owner: Address.parse(ownerArg), params });
    const out = { codes: {}, root: { address: root.address.toRawString(), code: root.code.toBoc().toString('base64'),
        data: root.data.toBoc().toString('base64') } };
    for (const [name, cell] of Object.entries(codes)) {
        out.codes[name] = { boc: cell.toBoc().toString('base64'), hash: cell.hash().toString('hex') };
    }
    console.log(JSON.stringify(out, null, 1));
}

main().catch((e) => { console.error(e); process.exit(1); });
