#!/usr/bin/env node
// localton: a local TON chain for COCOON development and tests.
//
//   node localton/server.mjs [--port 8081] [--state DIR] [--genesis MODULE] [--addresses FILE]
//
// Serves the TON HTTP API v2 (toncenter-compatible) on 127.0.0.1 only:
//   GET|POST /api/v2/<method>, POST /api/v2/jsonRPC
// plus local-only endpoints (also 127.0.0.1):
//   POST /localton/faucet       {"address": "...", "amount": "<nanotons>"}  -> transactions
//   POST /localton/advanceTime  {"seconds": N}                              -> {"now": ...}
//   GET  /localton/status                                                   -> seqno, now, genesis
// State lives in DIR/chain.json, rewritten atomically after every block.
// --genesis MODULE runs once on a fresh chain: `export default async function (chain)` gets the
// Chain (fund, deploy, now) and returns a JSON object (the addresses the daemons need), which is
// kept in the state and written to --addresses FILE.
// Prints "localton listening on http://127.0.0.1:PORT" once ready. SIGTERM/SIGINT stop it.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Address } from '@ton/core';
import { Chain } from './chain.mjs';
import { ApiError, makeMethods } from './api.mjs';

const MAX_BODY = 8 << 20;

function parseArgs(argv) {
    const o = { port: 8081, state: null, genesis: null, addresses: null, exitWithParent: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const v = () => {
            if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
            return argv[++i];
        };
        if (a === '--port') o.port = Number(v());
        else if (a === '--state') o.state = v();
        else if (a === '--genesis') o.genesis = v();
        else if (a === '--addresses') o.addresses = v();
        else if (a === '--exit-with-parent') o.exitWithParent = true;
        else if (a === '--help') {
            console.log('usage: server.mjs [--port N] [--state DIR] [--genesis MODULE] [--addresses FILE] [--exit-with-parent]');
            process.exit(0);
        } else throw new Error(`unknown argument ${a}`);
    }
    if (!(o.port >= 0 && o.port < 65536)) throw new Error('bad --port');
    return o;
}

function reply(res, status, obj) {
    const body = JSON.stringify(obj);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
}

function readBody(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let n = 0;
        req.on('data', (c) => {
            n += c.length;
            if (n > MAX_BODY) {
                reject(new ApiError(413, 'request body too large'));
                req.destroy();
            } else chunks.push(c);
        });
        req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        req.on('error', reject);
    });
}

export async function startServer(opts) {
    const chain = await Chain.open(opts.state);
    if (!chain.restored) {
        if (opts.genesis) {
            const mod = await import(pathToFileURL(path.resolve(opts.genesis)).href);
            chain.genesis = (await mod.default(chain)) ?? {};
        }
        await chain.block(async () => null); // block 1: the genesis state is on disk
    }
    if (opts.addresses && chain.genesis) {
        fs.writeFileSync(opts.addresses, JSON.stringify(chain.genesis, null, 2) + '\n');
    }
    const methods = makeMethods(chain);
    const local = {
        faucet: async (p) => {
            let address;
            try {
                address = Address.parse(p.address);
            } catch {
                throw new ApiError(416, 'bad address');
            }
            const amount = BigInt(p.amount ?? 0);
            if (amount <= 0n || amount > 1_000_000_000_000_000n) throw new ApiError(422, 'amount out of range');
            const txs = await chain.fund(address, amount);
            return { seqno: chain.seqno, transactions: txs.map((t) => ({ lt: t.lt.toString(), hash: t.hash().toString('hex') })) };
        },
        advanceTime: async (p) => {
            const s = Number(p.seconds);
            if (!Number.isInteger(s) || s < 0 || s > 10 * 365 * 86400) throw new ApiError(422, 'seconds out of range');
            return { now: await chain.advanceTime(s) };
        },
        status: async () => ({ seqno: chain.seqno, now: chain.now(), genesis: chain.genesis }),
    };

    const server = http.createServer(async (req, res) => {
        let rpcId = null;
        let isRpc = false;
        try {
            const url = new URL(req.url, 'http://127.0.0.1');
            const raw = req.method === 'POST' ? await readBody(req) : '';
            let params = Object.fromEntries(url.searchParams);
            if (raw) {
                try {
                    params = { ...params, ...JSON.parse(raw) };
                } catch {
                    throw new ApiError(422, 'body is not JSON');
                }
            }
            let p = url.pathname.replace(/\/+$/, '');
            if (p.startsWith('/localton/')) {
                const fn = local[p.slice('/localton/'.length)];
                if (!fn) throw new ApiError(404, 'no such endpoint');
                return reply(res, 200, { ok: true, result: await fn(params) });
            }
            if (p.startsWith('/api/v2')) p = p.slice('/api/v2'.length);
            let name = p.replace(/^\//, '');
            if (name === 'jsonRPC') {
                isRpc = true;
                rpcId = params.id ?? null;
                name = params.method;
                params = params.params ?? {};
            }
            const fn = Object.prototype.hasOwnProperty.call(methods, name) ? methods[name] : null;
            if (!fn) throw new ApiError(isRpc ? 422 : 404, `method ${name} not found`);
            const result = await fn(params);
            const out = { ok: true, result, '@extra': `${chain.seqno}:0:0` };
            if (isRpc) Object.assign(out, { id: rpcId, jsonrpc: '2.0' });
            reply(res, 200, out);
        } catch (e) {
            const code = e instanceof ApiError ? e.code : 500;
            if (!(e instanceof ApiError)) console.error('localton:', e);
            const out = { ok: false, error: e.message ?? String(e), code };
            if (isRpc) Object.assign(out, { id: rpcId, jsonrpc: '2.0' });
            reply(res, code, out);
        }
    });
    await new Promise((resolve) => server.listen(opts.port, '127.0.0.1', resolve));
    return { server, chain, port: server.address().port };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
    let opts;
    try {
        opts = parseArgs(process.argv.slice(2));
    } catch (e) {
        console.error(`localton: ${e.message}`);
        process.exit(2);
    }
    const { server, port } = await startServer(opts);
    console.log(`localton listening on http://127.0.0.1:${port}`);
    const stop = () => server.close(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    if (opts.exitWithParent) {
        // Tests start us as a child: stop when the parent goes away (stdin closes).
        process.stdin.on('end', stop);
        process.stdin.on('close', stop);
        process.stdin.resume();
    }
}
