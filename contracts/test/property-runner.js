'use strict';
// Randomized property run over one proxy, several clients and workers (shared/reference/contracts.md §A.7).
// An honest off-chain model (what the proxy signs, what each party is owed) is checked against the
// contracts after every operation, and at the end:
//   - value conservation: the sum of all balances changed by exactly the fees the chain charged;
//   - every client owner received exactly deposits - charges, every worker owner exactly its fee share,
//     and the proxy owner no more than stake + earnings (+ the dust it put in itself).
// Any violation throws an Error whose message starts with "property violated".
const assert = require('node:assert/strict');
const { toNano } = require('@ton/core');
const H = require('./helpers');

const { c } = H;

function mulberry32(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

class PropertyViolation extends Error {}
function check(cond, what) {
    if (!cond) throw new PropertyViolation(`property violated: ${what}`);
}

async function runProperty({ seed, ops, clients: nClients = 3, workers: nWorkers = 3, codes, log = () => {} }) {
    const rnd = mulberry32(seed);
    const randInt = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));      // inclusive
    const randBig = (lo, hi) => lo + BigInt(Math.floor(rnd() * Number(hi - lo + 1n)));
    const pick = (arr) => arr[Math.floor(rnd() * arr.length)];

    const net = await H.setup({ codes, paramsOverrides: { pricePerToken: 1000n, workerFeePerToken: 700n, clientDelayBeforeClose: 600, proxyDelayBeforeClose: 900 } });
    const { bc } = net;
    const price = 1000n, fee = 700n;
    const results = [];
    const tracked = new Map();      // address string -> Address
    const track = (a) => tracked.set(a.toString(), a);
    const sendRec = async (from, args) => { const r = await from.send(args); results.push(r); return r; };
    const exitOf = (r, to) => {
        const tx = H.findTxs(r, { to })[0];
        return tx ? H.exitCodeOf(tx) : undefined;
    };

    const stake0 = toNano('50');
    const proxy = await H.deployProxy(net, { stake: stake0 });
    const relayers = [net.proxyOwner, net.stranger];
    [net.proxyOwner, net.stranger, net.rootOwner].forEach((t) => track(t.address));
    track(proxy.address);

    const model = {
        proxy: { state: 0, stake: stake0, earnings: 0n, received: 0n, putIn: toNano('0.3') + stake0 },
        unassignedTokens: 0n,
        clients: [], workers: [], gen: 0, injected: 0n,
    };
    async function newClient(slot) {
        const name = `client-${slot}-${model.gen++}`;
        // a new owner created mid-run brings its treasury's coins into the system: count them in
        const owner = await bc.treasury(name);
        model.injected += await H.balanceOf(bc, owner.address);
        const cl = await H.deployClient(net, proxy, name);
        results.push(cl.result);
        track(cl.owner.address); track(cl.address);
        const m = { cl, state: 0, balance: 0n, stake: toNano('1'), tokens: 0n, deposits: 0n, charges: 0n, received: 0n, signed: [] };
        model.clients[slot] = m;
        return m;
    }
    for (let i = 0; i < nClients; i++) await newClient(i);
    for (let i = 0; i < nWorkers; i++) {
        const wk = await H.deployWorker(net, proxy, `worker-${i}`);
        track(wk.owner.address); track(wk.address);
        model.workers.push({ wk, state: 0, tokens: 0n, owed: 0n, received: 0n, signed: [] });
    }

    async function totalBalance() {
        let s = 0n;
        for (const a of tracked.values()) s += await H.balanceOf(bc, a);
        return s;
    }
    const sign = (payload, to) => c.signedWrapper(payload, net.proxyKeys.secretKey, to);

    async function verifyClient(m, what) {
        const d = await H.clientData(bc, m.cl.address);
        check(d.state === m.state && d.balance === m.balance && d.tokensUsed === m.tokens && d.stake === m.stake,
            `${what}: client state ${JSON.stringify([d.state, String(d.balance), String(d.tokensUsed), String(d.stake)])} != model ${JSON.stringify([m.state, String(m.balance), String(m.tokens), String(m.stake)])}`);
    }
    async function verifyProxy(what) {
        const d = await H.proxyData(bc, proxy.address);
        check(d.state === model.proxy.state && d.balance === model.proxy.earnings && d.stake === model.proxy.stake,
            `${what}: proxy (state, earnings, stake) = ${[d.state, d.balance, d.stake]} != model ${[model.proxy.state, model.proxy.earnings, model.proxy.stake]}`);
        if (model.proxy.state !== 2) {
            // solvency: the proxy holds every open client's money, its stake and its earnings
            const owedByProxy = model.clients.reduce((s, m) => s + (m.state === 2 ? 0n : m.balance), 0n) + model.proxy.stake + model.proxy.earnings
                + model.unassignedTokens * price;   // charged but not yet paid to workers
            const bal = await H.balanceOf(bc, proxy.address);
            check(bal >= owedByProxy, `${what}: proxy holds ${bal} < owed ${owedByProxy}`);
        }
    }
    function account(r) {
        for (const m of model.clients) m.received += H.payoutsTo(r, m.cl.owner.address);
        for (const w of model.workers) w.received += H.payoutsTo(r, w.wk.owner.address);
        model.proxy.received += H.payoutsTo(r, net.proxyOwner.address);
    }
    function expectExit(r, to, code, what) {
        const got = exitOf(r, to);
        const ok = Array.isArray(code) ? code.includes(got) : got === code;
        check(ok, `${what}: exit code ${got}, expected ${code}`);
    }

    const s0 = await totalBalance();
    const resultsFrom = results.length;
    model.injected = 0n;
    const counts = {};

    const opsTable = [
        ['topUp', 20, async () => {
            const m = pick(model.clients);
            if (m.state === 2) return false;
            const amount = randBig(toNano('0.1'), toNano('3'));
            const r = await sendRec(m.cl.owner, { to: m.cl.address, value: amount + toNano('0.2'), body: c.client.topUp(amount, m.cl.owner.address) });
            expectExit(r, m.cl.address, 0, 'top-up');
            m.balance += amount; m.deposits += amount;
            account(r); await verifyClient(m, 'top-up');
            return true;
        }],
        ['charge', 25, async () => {
            const m = pick(model.clients);
            if (m.state === 2 || m.balance < price) return false;
            const delta = randBig(1n, m.balance / price);
            const payload = c.client.chargePayload(m.tokens + delta, m.cl.address, randInt(0, 1e9));
            const r = await sendRec(pick(relayers), { to: m.cl.address, value: toNano('0.2'), body: sign(payload, net.proxyOwner.address) });
            expectExit(r, m.cl.address, 0, 'charge');
            m.signed.push(payload);
            m.tokens += delta; m.balance -= delta * price; m.charges += delta * price;
            model.unassignedTokens += delta;
            account(r); await verifyClient(m, 'charge');
            return true;
        }],
        ['replayCharge', 6, async () => {
            const m = pick(model.clients);
            if (m.signed.length === 0) return false;
            const r = await sendRec(net.stranger, { to: m.cl.address, value: toNano('0.2'), body: sign(pick(m.signed), net.stranger.address) });
            // a closed client keeps only 0.01 TON, so its balance check (1001) may refuse before the state check
            expectExit(r, m.cl.address, m.state === 2 ? [c.ERR.closed, c.ERR.lowSmcBalance] : c.ERR.oldMessage, 'replayed charge');
            account(r); await verifyClient(m, 'replayed charge');
            return true;
        }],
        ['foreignCharge', 3, async () => {
            const [a, b] = [pick(model.clients), pick(model.clients)];
            if (a === b || a.state === 2) return false;
            const r = await sendRec(net.stranger, { to: a.cl.address, value: toNano('0.2'), body: sign(c.client.chargePayload(a.tokens + 1n, b.cl.address), net.stranger.address) });
            expectExit(r, a.cl.address, c.ERR.expectedMyAddress, 'charge bound to another client');
            account(r); await verifyClient(a, 'foreign charge');
            return true;
        }],
        ['workerPayout', 15, async () => {
            const w = pick(model.workers);
            if (w.state === 2 || model.unassignedTokens === 0n) return false;
            const delta = randBig(1n, model.unassignedTokens);
            const payload = c.worker.payoutPayload(w.tokens + delta, w.wk.address, randInt(0, 1e9));
            const r = await sendRec(pick([net.proxyOwner, w.wk.owner]), { to: w.wk.address, value: toNano('0.3'), body: sign(payload, net.proxyOwner.address) });
            expectExit(r, w.wk.address, 0, 'worker payout');
            w.signed.push(payload);
            w.tokens += delta; w.owed += delta * fee;
            model.proxy.earnings += delta * (price - fee);
            model.unassignedTokens -= delta;
            account(r); await verifyProxy('worker payout');
            return true;
        }],
        ['replayPayout', 4, async () => {
            const w = pick(model.workers);
            if (w.signed.length === 0) return false;
            const r = await sendRec(net.stranger, { to: w.wk.address, value: toNano('0.3'), body: sign(pick(w.signed), net.stranger.address) });
            expectExit(r, w.wk.address, w.state === 2 ? c.ERR.closed : c.ERR.oldMessage, 'replayed payout');
            account(r); await verifyProxy('replayed payout');
            return true;
        }],
        ['withdraw', 8, async () => {
            const m = pick(model.clients);
            if (m.state === 2) return false;
            const r = await sendRec(m.cl.owner, { to: m.cl.address, value: toNano('0.2'), body: c.client.withdraw(m.cl.owner.address) });
            if (m.state !== 0) expectExit(r, m.cl.address, c.ERR.closed, 'withdraw while closing');
            else if (m.balance <= m.stake) expectExit(r, m.cl.address, c.ERR.lowSmcBalance, 'withdraw below stake');
            else {
                expectExit(r, m.cl.address, 0, 'withdraw');
                m.balance = m.stake;
            }
            account(r); await verifyClient(m, 'withdraw');
            return true;
        }],
        ['strangerWithdraw', 3, async () => {
            const m = pick(model.clients);
            if (m.state !== 0) return false;
            const r = await sendRec(net.stranger, { to: m.cl.address, value: toNano('0.2'), body: c.client.withdraw(net.stranger.address) });
            expectExit(r, m.cl.address, c.ERR.expectedOwner, 'withdraw by a stranger');
            account(r); await verifyClient(m, 'stranger withdraw');
            return true;
        }],
        ['increaseStake', 3, async () => {
            const m = pick(model.clients);
            if (m.state === 2) return false;
            const ns = m.stake + randBig(1n, toNano('1'));
            const r = await sendRec(m.cl.owner, { to: m.cl.address, value: toNano('0.2'), body: c.client.increaseStake(ns, m.cl.owner.address) });
            expectExit(r, m.cl.address, 0, 'increase stake');
            m.stake = ns;
            account(r); await verifyClient(m, 'increase stake');
            return true;
        }],
        ['requestRefund', 3, async () => {
            const slot = randInt(0, model.clients.length - 1);
            const m = model.clients[slot];
            if (m.state === 2) { await newClient(slot); return true; }
            const r = await sendRec(m.cl.owner, { to: m.cl.address, value: toNano('0.2'), body: c.client.requestRefund(m.cl.owner.address) });
            if (m.state === 0) {
                expectExit(r, m.cl.address, 0, 'request refund');
                m.state = 1;
                if (m.balance > m.stake) m.balance = m.stake;
            } else {
                // second step: early unless the delay has passed
                const d = await H.clientData(bc, m.cl.address);
                if (d.unlockTs < bc.now) {
                    expectExit(r, m.cl.address, 0, 'forced refund');
                    check(m.balance <= model.proxy.stake, 'forced refund fits the stake');
                    model.proxy.stake -= m.balance;
                    m.balance = 0n; m.state = 2;
                } else {
                    expectExit(r, m.cl.address, c.ERR.notUnlockedYet, 'early forced refund');
                }
            }
            account(r); await verifyClient(m, 'request refund'); await verifyProxy('request refund');
            return true;
        }],
        ['grantRefund', 2, async () => {
            const m = pick(model.clients);
            if (m.state === 2) return false;
            const extra = m.balance >= price ? randBig(0n, m.balance / price) : 0n;
            const payload = c.client.grantRefundPayload(m.tokens + extra, m.cl.address, randInt(0, 1e9));
            const r = await sendRec(net.proxyOwner, { to: m.cl.address, value: toNano('0.5'), body: sign(payload, net.proxyOwner.address) });
            expectExit(r, m.cl.address, 0, 'grant refund');
            m.tokens += extra; m.balance -= extra * price; m.charges += extra * price; model.unassignedTokens += extra;
            m.balance = 0n; m.state = 2;
            account(r); await verifyClient(m, 'grant refund'); await verifyProxy('grant refund');
            return true;
        }],
        ['proxyPayout', 4, async () => {
            const r = await sendRec(pick(relayers), { to: proxy.address, value: toNano('0.2'), body: c.proxy.payoutRequest(net.stranger.address) });
            expectExit(r, proxy.address, 0, 'proxy payout');
            model.proxy.earnings = 0n;
            account(r); await verifyProxy('proxy payout');
            return true;
        }],
        ['proxyStake', 2, async () => {
            const g = randBig(toNano('0.1'), toNano('2'));
            const r = await sendRec(net.proxyOwner, { to: proxy.address, value: g + toNano('0.2'), body: c.proxy.increaseStake(g, net.proxyOwner.address) });
            expectExit(r, proxy.address, 0, 'proxy stake');
            model.proxy.stake += g; model.proxy.putIn += g;
            account(r); await verifyProxy('proxy stake');
            return true;
        }],
        ['time', 4, async () => { bc.now += randInt(1, 400); return true; }],
    ];
    const totalWeight = opsTable.reduce((s, o) => s + o[1], 0);
    let done = 0;
    while (done < ops) {
        let x = rnd() * totalWeight;
        const op = opsTable.find((o) => (x -= o[1]) < 0) ?? opsTable[0];
        if (await op[2]()) {
            done++;
            counts[op[0]] = (counts[op[0]] ?? 0) + 1;
        }
    }

    // wind down as the reference node does (§A.7.8): refunds, last payouts, close, delay, complete
    for (const m of model.clients) {
        if (m.state === 2) continue;
        const r = await sendRec(net.proxyOwner, { to: m.cl.address, value: toNano('0.5'), body: sign(c.client.grantRefundPayload(m.tokens, m.cl.address), net.proxyOwner.address) });
        expectExit(r, m.cl.address, 0, 'final grant refund');
        m.balance = 0n; m.state = 2;
        account(r);
    }
    for (const [i, w] of model.workers.entries()) {
        const delta = i === 0 ? model.unassignedTokens : 0n;
        const r = await sendRec(net.proxyOwner, { to: w.wk.address, value: toNano('0.3'), body: sign(c.worker.payoutPayload(w.tokens + delta, w.wk.address, 0, true), net.proxyOwner.address) });
        expectExit(r, w.wk.address, 0, 'last payout');
        w.tokens += delta; w.owed += delta * fee; model.proxy.earnings += delta * (price - fee); model.unassignedTokens -= delta;
        w.state = 2;
        account(r);
    }
    await verifyProxy('after last payouts');
    const earningsAtClose = model.proxy.earnings;
    let r = await sendRec(net.proxyOwner, { to: proxy.address, value: toNano('0.2'), body: sign(c.proxy.closeRequestPayload(proxy.address), net.proxyOwner.address) });
    expectExit(r, proxy.address, 0, 'close request');
    account(r);
    r = await sendRec(net.proxyOwner, { to: proxy.address, value: toNano('0.2'), body: sign(c.proxy.closeCompletePayload(proxy.address), net.proxyOwner.address) });
    expectExit(r, proxy.address, c.ERR.notUnlockedYet, 'early close complete');
    bc.now += 901;
    // close complete pays everything, the relayer's inbound value included (no excess): put in by the owner
    model.proxy.putIn += toNano('0.2');
    r = await sendRec(net.proxyOwner, { to: proxy.address, value: toNano('0.2'), body: sign(c.proxy.closeCompletePayload(proxy.address), net.proxyOwner.address) });
    expectExit(r, proxy.address, 0, 'close complete');
    account(r);
    model.proxy.state = 2; model.proxy.stake = 0n; model.proxy.earnings = 0n;
    await verifyProxy('closed');

    // owed vs received
    for (const m of model.clients) {
        const owed = m.deposits - m.charges;
        check(m.received === owed, `client ${m.cl.owner.address} received ${m.received}, owed ${owed}`);
    }
    for (const w of model.workers) {
        check(w.received === w.owed, `worker ${w.wk.owner.address} received ${w.received}, owed ${w.owed}`);
    }
    const totalEarned = model.workers.reduce((s, w) => s + w.tokens, 0n) * (price - fee);
    const proxyOwed = model.proxy.putIn + totalEarned;
    check(model.proxy.received <= proxyOwed, `proxy owner received ${model.proxy.received} > owed ${proxyOwed}`);
    // the proxy's forced refunds come out of its stake, but the refunded client money stays in the pool
    check(model.proxy.received >= proxyOwed - toNano('0.3'), `proxy owner received ${model.proxy.received}, owed about ${proxyOwed}`);

    // value conservation: balances changed by exactly the fees charged by the chain
    const s1 = await totalBalance();
    let fees = 0n;
    for (const res of results.slice(resultsFrom)) {
        for (const tx of res.transactions) {
            fees += tx.totalFees.coins;
            const info = tx.inMessage?.info;
            if (info?.type === 'internal') fees += info.forwardFee;
        }
    }
    check(s0 + model.injected - s1 === fees, `value not conserved: balances fell by ${s0 + model.injected - s1}, fees ${fees}`);
    log(`property: seed=${seed} ops=${ops} clients=${nClients} (generations ${model.gen}) workers=${nWorkers} counts=${JSON.stringify(counts)} earningsAtClose=${earningsAtClose}`);
    return { counts, fees };
}

module.exports = { runProperty, PropertyViolation };
