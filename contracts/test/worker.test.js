'use strict';
const { describe, it, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const H = require('./helpers');

const { c, toNano, beginCell, expectTx, proxyData, workerData, keyPair } = H;
const { OP, ERR } = c;

describe('worker', () => {
    let net, proxy, wk, cl;
    beforeEach(async () => {
        net = await H.setup();
        proxy = await H.deployProxy(net, { stake: toNano('3') });
        wk = await H.deployWorker(net, proxy, 'worker1');
        // client money for the proxy to pay workers from
        cl = await H.deployClient(net, proxy, 'client1');
        await cl.owner.send({ to: cl.address, value: toNano('10.2'), body: c.client.topUp(toNano('10'), cl.owner.address) });
    });

    const signed = (payload, keys = net.proxyKeys, to = net.proxyOwner.address) => c.signedWrapper(payload, keys.secretKey, to);
    const send = (from, body, value = toNano('0.5')) => from.send({ to: wk.address, value, body });
    const payout = (tokens, addr = wk.address, last = false) => c.worker.payoutPayload(tokens, addr, 3, last);

    it('deploys with tokens 0 and reports it', async () => {
        const d = await workerData(net.bc, wk.address);
        assert.ok(d.owner.equals(wk.owner.address) && d.proxy.equals(proxy.address));
        assert.deepEqual([d.state, d.tokens], [0, 0n]);
    });

    it('signed payout: worker part to the owner, proxy part to the proxy earnings; replay/stale (1000)', async () => {
        let r = await send(net.stranger, signed(payout(1_000_000n)));
        expectTx(r, { to: wk.address });
        expectTx(r, { from: wk.address, to: proxy.address, op: OP.workerProxyRequest });
        assert.equal(H.payoutsTo(r, wk.owner.address), 800_000n * 1000n);
        expectTx(r, { from: proxy.address, to: net.proxyOwner.address, op: OP.excesses });
        assert.equal((await proxyData(net.bc, proxy.address)).balance, 200_000n * 1000n);
        assert.equal((await workerData(net.bc, wk.address)).tokens, 1_000_000n);
        r = await send(net.stranger, signed(payout(1_000_000n)));
        expectTx(r, { to: wk.address }, { exitCode: ERR.oldMessage });
        r = await send(net.stranger, signed(payout(10n)));
        expectTx(r, { to: wk.address }, { exitCode: ERR.oldMessage });
        // only the delta is paid
        r = await send(net.stranger, signed(payout(1_500_000n)));
        assert.equal(H.payoutsTo(r, wk.owner.address), 500_000n * 800n);
        // proxy earnings withdrawn by anyone to the owner
        r = await net.stranger.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.payoutRequest(net.stranger.address) });
        assert.equal(H.payoutsTo(r, net.proxyOwner.address), 300_000_000n);
        assert.equal((await proxyData(net.bc, proxy.address)).balance, 0n);
    });

    it('signed payout failure paths: key (1007), address (1015), echo (1005), value must exceed 0.1 (1003)', async () => {
        let r = await send(net.stranger, signed(payout(5n), keyPair(9)));
        expectTx(r, { to: wk.address }, { exitCode: ERR.badSignature });
        const other = await H.deployWorker(net, proxy, 'worker2');
        r = await send(net.stranger, signed(payout(5n, other.address)));
        expectTx(r, { to: wk.address }, { exitCode: ERR.expectedMyAddress });
        const p = payout(5n);
        const sig = require('@ton/crypto').sign(p.hash(), net.proxyKeys.secretKey);
        const bad = beginCell().storeUint(OP.extWorkerLastPayoutRequestSigned, 32).storeUint(3, 64)
            .storeAddress(net.stranger.address).storeBuffer(sig).storeRef(p).endCell();
        r = await send(net.stranger, bad);
        expectTx(r, { to: wk.address }, { exitCode: ERR.signedMsgFormatMismatch });
        r = await send(net.stranger, signed(p), toNano('0.1'));
        expectTx(r, { to: wk.address }, { exitCode: ERR.lowMsgValue });
        assert.equal((await workerData(net.bc, wk.address)).tokens, 0n);
    });

    it('last payout allows an equal count, closes the worker; everything after is 1006', async () => {
        await send(net.stranger, signed(payout(100n)));
        let r = await send(net.stranger, signed(payout(99n, wk.address, true)));
        expectTx(r, { to: wk.address }, { exitCode: ERR.oldMessage });
        r = await send(wk.owner, signed(payout(100n, wk.address, true), net.proxyKeys, wk.owner.address));
        expectTx(r, { to: wk.address });
        expectTx(r, { from: wk.address, to: proxy.address });
        expectTx(r, { from: proxy.address, to: wk.owner.address, op: OP.excesses });
        assert.equal(await H.balanceOf(net.bc, wk.address), toNano('0.01'));
        assert.equal((await workerData(net.bc, wk.address)).state, 2);
        r = await send(net.stranger, signed(payout(200n)));
        expectTx(r, { to: wk.address }, { exitCode: ERR.closed });
        r = await send(wk.owner, c.worker.register(wk.owner.address));
        expectTx(r, { to: wk.address }, { exitCode: ERR.closed });
    });

    it('register: owner only (1010), value > 0.1 (1003), notifies the proxy', async () => {
        let r = await send(net.stranger, c.worker.register(net.stranger.address));
        expectTx(r, { to: wk.address }, { exitCode: ERR.expectedMessageFromOwner });
        r = await send(wk.owner, c.worker.register(wk.owner.address), toNano('0.1'));
        expectTx(r, { to: wk.address }, { exitCode: ERR.lowMsgValue });
        r = await send(wk.owner, c.worker.register(wk.owner.address));
        expectTx(r, { to: wk.address });
        H.findTx(r, { from: wk.address, to: proxy.address, op: OP.workerProxyRequest });
        expectTx(r, { from: wk.address, to: wk.owner.address, op: OP.excesses });
    });

    it('payout after the proxy closed: the proxy refuses (1006) and the bounce goes to the worker owner', async () => {
        await net.stranger.send({ to: proxy.address, value: toNano('1'), body: signed(c.proxy.closeRequestPayload(proxy.address)) });
        net.bc.now += 3600;
        await net.stranger.send({ to: proxy.address, value: toNano('1'), body: signed(c.proxy.closeCompletePayload(proxy.address)) });
        const r = await send(net.stranger, signed(payout(100n)), toNano('1'));
        expectTx(r, { from: wk.address, to: proxy.address }, { exitCode: ERR.closed });
        expectTx(r, { from: proxy.address, to: wk.address });
        assert.ok(H.payoutsTo(r, wk.owner.address) > toNano('0.8'));
    });

    it('a worker of another params generation is refused by the proxy (1014)', async () => {
        const p2 = c.buildParams({ ...c.parseParams(net.params), paramsVersion: 2 });
        const stale = c.workerStateInit(p2, { owner: net.stranger.address, proxy: proxy.address, publicKey: net.proxyKeys.publicKey });
        await net.stranger.send({ to: stale.address, value: toNano('0.5'), init: { code: stale.code, data: stale.data }, bounce: false });
        const r = await net.stranger.send({ to: stale.address, value: toNano('0.5'), body: signed(payout(100n, stale.address)) });
        expectTx(r, { to: stale.address });
        expectTx(r, { from: stale.address, to: proxy.address }, { exitCode: ERR.contractAddressMismatch });
        assert.equal(H.payoutsTo(r, net.stranger.address) > 0n, true);   // bounce forwarded, no worker part
        assert.equal((await proxyData(net.bc, proxy.address)).balance, 0n);
    });

    it('unknown op (1012)', async () => {
        const r = await send(net.stranger, beginCell().storeUint(0x1234, 32).storeUint(0, 64).endCell());
        expectTx(r, { to: wk.address }, { exitCode: ERR.unknownOp });
    });
});
