'use strict';
const { describe, it, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const H = require('./helpers');

const { c, toNano, beginCell, expectTx, proxyData, keyPair } = H;
const { OP, ERR } = c;

describe('proxy', () => {
    let net, proxy;
    beforeEach(async () => {
        net = await H.setup();
        proxy = await H.deployProxy(net, { stake: toNano('3') });
    });

    function signed(payload, keys = net.proxyKeys, to = net.proxyOwner.address) {
        return c.signedWrapper(payload, keys.secretKey, to);
    }

    it('deploys with the reference initial data and reports it', async () => {
        const d = await proxyData(net.bc, proxy.address);
        assert.ok(d.owner.equals(net.proxyOwner.address));
        assert.equal(d.publicKey, BigInt('0x' + net.proxyKeys.publicKey.toString('hex')));
        assert.ok(d.root.equals(net.root.address));
        assert.deepEqual([d.state, d.balance, d.stake, d.unlockTs], [0, 0n, toNano('3'), 0]);
        assert.deepEqual([d.pricePerToken, d.workerFeePerToken, d.minProxyStake, d.minClientStake, d.paramsVersion],
            [1000n, 800n, toNano('1'), toNano('1'), 1]);
        // the proxy keeps worker and client code but not its own (mask 6)
        const acc = await net.bc.getContract(proxy.address);
        const s = acc.account.account.storage.state.state.data.beginParse();
        s.loadAddress(); s.loadUintBig(256); s.loadAddress(); s.loadUint(2); s.loadCoins(); s.loadCoins(); s.loadUint(32);
        const p = c.parseParams(s.loadRef());
        assert.equal(p.proxyCode, null);
        assert.ok(p.workerCode && p.clientCode);
    });

    it('increase stake: anyone, value must cover grams + 0.1 (1003)', async () => {
        let r = await net.stranger.send({ to: proxy.address, value: toNano('2.1'), body: c.proxy.increaseStake(toNano('2'), net.stranger.address) });
        expectTx(r, { to: proxy.address });
        expectTx(r, { from: proxy.address, to: net.stranger.address, op: OP.excesses });
        assert.equal((await proxyData(net.bc, proxy.address)).stake, toNano('5'));
        r = await net.stranger.send({ to: proxy.address, value: toNano('2.09'), body: c.proxy.increaseStake(toNano('2'), net.stranger.address) });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.lowMsgValue });
    });

    it('owner close: only the owner (1010), value >= 0.1 (1003), only from normal (1006)', async () => {
        let r = await net.stranger.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.ownerClose(net.stranger.address) });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.expectedMessageFromOwner });
        r = await net.proxyOwner.send({ to: proxy.address, value: toNano('0.05'), body: c.proxy.ownerClose(net.proxyOwner.address) });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.lowMsgValue });
        r = await net.proxyOwner.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.ownerClose(net.proxyOwner.address) });
        expectTx(r, { to: proxy.address });
        const d = await proxyData(net.bc, proxy.address);
        assert.equal(d.state, 1);
        assert.equal(d.unlockTs, net.bc.now + 3600);
        r = await net.proxyOwner.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.ownerClose(net.proxyOwner.address) });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.closed });
    });

    it('text commands "c" and "w" from the owner; others 1013; strangers 1010', async () => {
        let r = await net.proxyOwner.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.text('x') });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.unknownTextOp });
        r = await net.stranger.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.text('w') });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.expectedMessageFromOwner });
        r = await net.proxyOwner.send({ to: proxy.address, value: toNano('0.05'), body: c.proxy.text('w') });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.lowMsgValue });
        r = await net.proxyOwner.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.text('w') });
        expectTx(r, { to: proxy.address });
        expectTx(r, { from: proxy.address, to: net.proxyOwner.address, op: OP.payout });
        r = await net.proxyOwner.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.text('c') });
        expectTx(r, { to: proxy.address });
        assert.equal((await proxyData(net.bc, proxy.address)).state, 1);
        r = await net.proxyOwner.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.text('c') });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.closed });
    });

    it('signed close: bad signature, foreign key, op echo, other address, then the delay', async () => {
        const good = c.proxy.closeRequestPayload(proxy.address, 5);
        const send = (body, value = toNano('1')) => net.stranger.send({ to: proxy.address, value, body });
        // signature by another key (1007)
        let r = await send(signed(good, keyPair(9)));
        expectTx(r, { to: proxy.address }, { exitCode: ERR.badSignature });
        // tampered signature (1007)
        r = await send(c.signedWrapper(good, null, net.stranger.address, { signature: Buffer.alloc(64, 1) }));
        expectTx(r, { to: proxy.address }, { exitCode: ERR.badSignature });
        // wrapper op/query_id differ from the payload's (1005)
        const sig = require('@ton/crypto').sign(good.hash(), net.proxyKeys.secretKey);
        const mismatched = beginCell().storeUint(OP.extProxyCloseRequestSigned, 32).storeUint(6, 64)
            .storeAddress(net.stranger.address).storeBuffer(sig).storeRef(good).endCell();
        r = await send(mismatched);
        expectTx(r, { to: proxy.address }, { exitCode: ERR.signedMsgFormatMismatch });
        // bound to another address (1015)
        r = await send(signed(c.proxy.closeRequestPayload(net.stranger.address, 5)));
        expectTx(r, { to: proxy.address }, { exitCode: ERR.expectedMyAddress });
        // low value (1003)
        r = await send(signed(good), toNano('0.05'));
        expectTx(r, { to: proxy.address }, { exitCode: ERR.lowMsgValue });
        // close complete while normal (1006)
        r = await send(signed(c.proxy.closeCompletePayload(proxy.address)));
        expectTx(r, { to: proxy.address }, { exitCode: ERR.closed });
        // ok: anyone may relay; the excess goes where the relayer says
        r = await send(signed(good, net.proxyKeys, net.stranger.address));
        expectTx(r, { to: proxy.address });
        expectTx(r, { from: proxy.address, to: net.stranger.address, op: OP.excesses });
        assert.equal((await proxyData(net.bc, proxy.address)).state, 1);
        // replayed close request (1006)
        r = await send(signed(good));
        expectTx(r, { to: proxy.address }, { exitCode: ERR.closed });
        // early close complete (1011), one second short
        net.bc.now += 3599;
        r = await send(signed(c.proxy.closeCompletePayload(proxy.address)));
        expectTx(r, { to: proxy.address }, { exitCode: ERR.notUnlockedYet });
        // complete bound to another address (1015)
        net.bc.now += 1;
        r = await send(signed(c.proxy.closeCompletePayload(net.stranger.address)));
        expectTx(r, { to: proxy.address }, { exitCode: ERR.expectedMyAddress });
        const before = await H.balanceOf(net.bc, proxy.address);
        r = await send(signed(c.proxy.closeCompletePayload(proxy.address)));
        expectTx(r, { to: proxy.address });
        const paid = H.payoutsTo(r, net.proxyOwner.address);
        assert.ok(paid > before, 'everything (stake included) goes to the owner');
        assert.equal(await H.balanceOf(net.bc, proxy.address), toNano('0.01'));
        const d = await proxyData(net.bc, proxy.address);
        assert.deepEqual([d.state, d.balance, d.stake, d.unlockTs], [2, 0n, 0n, 0]);
        // closed: a replayed complete, stake, payout and "w" all refuse (1006)
        r = await send(signed(c.proxy.closeCompletePayload(proxy.address)));
        expectTx(r, { to: proxy.address }, { exitCode: ERR.closed });
        r = await send(c.proxy.increaseStake(toNano('1'), net.stranger.address), toNano('1.2'));
        expectTx(r, { to: proxy.address }, { exitCode: ERR.closed });
        r = await send(c.proxy.payoutRequest(net.stranger.address));
        expectTx(r, { to: proxy.address }, { exitCode: ERR.closed });
        r = await net.proxyOwner.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.text('w') });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.closed });
    });

    it('payout request: anyone, value >= 0.1 (1003)', async () => {
        let r = await net.stranger.send({ to: proxy.address, value: toNano('0.05'), body: c.proxy.payoutRequest(net.stranger.address) });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.lowMsgValue });
        r = await net.stranger.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.payoutRequest(net.stranger.address) });
        expectTx(r, { to: proxy.address });
        // balance is 0 here: a zero-value payout still goes out
        H.findTx(r, { from: proxy.address, to: net.proxyOwner.address, op: OP.payout });
        expectTx(r, { from: proxy.address, to: net.stranger.address, op: OP.excesses });
    });

    it('worker/client requests from a contract that is not the computed address (1014)', async () => {
        const payout = beginCell().storeUint(OP.workerProxyPayoutRequest, 32).storeCoins(toNano('1')).storeCoins(0)
            .storeAddress(net.stranger.address).endCell();
        const wreq = beginCell().storeUint(OP.workerProxyRequest, 32).storeUint(0, 64).storeAddress(net.stranger.address)
            .storeUint(0, 2).storeUint(10, 64).storeMaybeRef(payout).endCell();
        let r = await net.stranger.send({ to: proxy.address, value: toNano('0.2'), body: wreq });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.contractAddressMismatch });
        // without payload it is a notification: accepted, nothing happens
        const note = beginCell().storeUint(OP.workerProxyRequest, 32).storeUint(0, 64).storeAddress(net.stranger.address)
            .storeUint(0, 2).storeUint(10, 64).storeMaybeRef(null).endCell();
        r = await net.stranger.send({ to: proxy.address, value: toNano('0.2'), body: note });
        expectTx(r, { to: proxy.address });
        const refund = beginCell().storeUint(OP.clientProxyRefundGranted, 32).storeCoins(toNano('1')).storeAddress(net.stranger.address).endCell();
        const creq = beginCell().storeUint(OP.clientProxyRequest, 32).storeUint(0, 64).storeAddress(net.stranger.address)
            .storeRef(beginCell().endCell()).storeMaybeRef(refund).endCell();
        r = await net.stranger.send({ to: proxy.address, value: toNano('0.2'), body: creq });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.contractAddressMismatch });
        assert.equal((await proxyData(net.bc, proxy.address)).stake, toNano('3'));
    });

    it('unknown op (1012), do_not_process and proxy_save_state ignored', async () => {
        let r = await net.stranger.send({ to: proxy.address, value: toNano('0.2'), body: beginCell().storeUint(0xdeadbeef, 32).storeUint(0, 64).endCell() });
        expectTx(r, { to: proxy.address }, { exitCode: ERR.unknownOp });
        r = await net.proxyOwner.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.saveState(7, 123n) });
        expectTx(r, { to: proxy.address });
    });
});
