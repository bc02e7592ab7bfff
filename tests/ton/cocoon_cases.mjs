// COCOON contract layouts for crosscheck.test.mjs: root data and CocoonParams cells built by the
// contracts' own deploy helpers (contracts/lib/cocoon.js), parsed and rebuilt by src/ton/cocoon.
// Skipped (no cases) when contracts/ has no node_modules.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export function cocoonCases({ ri, rbytes, hex }) {
    let lib, core;
    try {
        const req = createRequire(path.join(here, '..', '..', 'contracts', 'lib', 'cocoon.js'));
        lib = req('./cocoon.js');
        core = req('@ton/core');
    } catch (e) {
        console.log(`cocoon cases skipped: contracts/lib/cocoon.js not loadable (${e.message.split('\n')[0]})`);
        return [];
    }
    const { beginCell, Address } = core;
    const out = [];
    for (let i = 0; i < 8; i++) {
        const code = () => (ri(3) === 0 ? null : beginCell().storeUint(ri(1e9), 32).storeUint(i, 8).endCell());
        const fields = {
            paramsVersion: ri(1000), uniqueId: ri(2 ** 32), isTest: ri(2) === 1,
            pricePerToken: BigInt(ri(1e6)), workerFeePerToken: BigInt(ri(1e5)),
            promptMult: ri(20000), cachedMult: ri(20000), completionMult: ri(20000), reasoningMult: ri(20000),
            proxyDelayBeforeClose: ri(86400), clientDelayBeforeClose: ri(86400),
            minProxyStake: BigInt(ri(1e9)) * 10n, minClientStake: BigInt(ri(1e9)),
            proxyCode: code(), workerCode: code(), clientCode: code(),
        };
        const params = lib.buildParams(fields);
        const h = (n) => Array.from({ length: n }, () => '0x' + rbytes(32).toString('hex'));
        const proxyHashes = h(ri(4)), workerHashes = h(ri(6)), modelHashes = h(ri(3));
        const registeredProxies = Array.from({ length: ri(6) }, (_, k) =>
            ri(2) ? `10.0.${k}.${ri(255)}:${1000 + ri(60000)}` : `10.1.${k}.1:${8000 + k} 10.2.${k}.1:${9000 + k}`);
        const owner = new Address(0, rbytes(32));
        const data = lib.rootData({
            owner, version: ri(100), proxyHashes, workerHashes, modelHashes, registeredProxies, params,
        });
        const parsed = lib.parseRootData(data);
        const codeHash = (c) => (c ? hex(c.hash()) : null);
        const queries = [...proxyHashes.slice(0, 1), ...workerHashes, ...modelHashes.slice(0, 1), '0x' + rbytes(32).toString('hex')];
        out.push([
            {
                kind: 'cocoon_root', boc: hex(data.toBoc()), queries: queries.map((q) => q.slice(2)),
            },
            {
                params: {
                    params_version: fields.paramsVersion, unique_id: fields.uniqueId, is_test: fields.isTest,
                    price_per_token: String(fields.pricePerToken), worker_fee_per_token: String(fields.workerFeePerToken),
                    prompt_mult: fields.promptMult, cached_mult: fields.cachedMult, completion_mult: fields.completionMult,
                    reasoning_mult: fields.reasoningMult, proxy_delay_before_close: fields.proxyDelayBeforeClose,
                    client_delay_before_close: fields.clientDelayBeforeClose,
                    min_proxy_stake: String(fields.minProxyStake), min_client_stake: String(fields.minClientStake),
                },
                owner: owner.toRawString(), version: parsed.version ?? null,
                last_proxy_seqno: registeredProxies.length,
                proxies: registeredProxies.map((t, k) => [k + 1, t]),
                params_boc: hex(params.toBoc()),
                codes: [codeHash(fields.proxyCode), codeHash(fields.workerCode), codeHash(fields.clientCode)],
                has: queries.map((q) => [...proxyHashes, ...workerHashes, ...modelHashes].includes(q)),
            },
        ]);
    }
    return out;
}
