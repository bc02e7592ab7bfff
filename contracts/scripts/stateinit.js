'use strict';
// Prints, as JSON, the compiled codes and the root StateInit for a genesis (localton, C-side tests):
//   node scripts/stateinit.js <owner-address> [params-json] [registry-json]
// params-json: fields of lib/cocoon.js buildParams (numbers as strings for coins), merged over the
// defaults of defaultParams(). registry-json: the root's initial registry,
// {"proxyHashes":[hex64], "workerHashes":[hex64], "modelHashes":[hex64],
//  "registeredProxies":["ip:port" | "ipW:portW ipC:portC"]} (all optional, default empty). Output: {codes:{name:{boc,hash}}, root:{address, code, data}} (base64 BOCs).
const { Address } = require('@ton/core');
const c = require('../lib/cocoon');

async function main() {
    const [ownerArg, paramsArg, registryArg] = process.argv.slice(2);
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
    const reg = JSON.parse(registryArg ?? '{}');
    const known = ['proxyHashes', 'workerHashes', 'modelHashes', 'registeredProxies'];
    for (const k of Object.keys(reg)) {
        if (!known.includes(k)) throw new Error(`registry-json: unknown key ${k}`);
    }
    const hashes = (k) => (reg[k] ?? []).map((h) => {
        if (!/^[0-9a-fA-F]{64}$/.test(h)) throw new Error(`registry-json: ${k}: ${h} is not 64 hex digits`);
        return BigInt('0x' + h);
    });
    const root = c.rootStateInit(codes, {
        owner: Address.parse(ownerArg), params, proxyHashes: hashes('proxyHashes'),
        workerHashes: hashes('workerHashes'), modelHashes: hashes('modelHashes'),
        registeredProxies: reg.registeredProxies ?? [],
    });
    const out = { codes: {}, root: { address: root.address.toRawString(), code: root.code.toBoc().toString('base64'),
        data: root.data.toBoc().toString('base64') } };
    for (const [name, cell] of Object.entries(codes)) {
        out.codes[name] = { boc: cell.toBoc().toString('base64'), hash: cell.hash().toString('hex') };
    }
    console.log(JSON.stringify(out, null, 1));
}

main().catch((e) => { console.error(e); process.exit(1); });
