'use strict';
const { describe, it, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const H = require('./helpers');

const { c, toNano, beginCell, expectTx, proxyData, clientData, keyPair } = H;
const { OP, ERR } = c;

describe('client', () => {
    let net, proxy, cl;
    beforeEach(async () => {
        net = await H.setup();
        proxy = await H.deployProxy(net, { stake: toNano('3') });
        cl = await H.deployClient(net, proxy, 'client1');
    });

    const signed = (payload, keys = net.proxyKeys, to = net.proxyOwner.address) => c.signedWrapper(payload, keys.secretKey, to);
    const send = (from, body, value = toNano('1')) => from.send({ to: cl.address, value, body });
    async function topUp(amount) {
        const r = await send(cl.owner, c.client.topUp(amount, cl.owner.address), amount + toNano('0.2'));
        expectTx(r, { to: cl.address });
        expectTx(r, { from: cl.address, to: proxy.address });
        return r;
    }

    it('deploys with stake = min_client_stake and reports it', async () => {
        const d = await clientData(net.bc, cl.address);
        assert.ok(d.owner.equals(cl.owner.address) && d.proxy.equals(proxy.address));
        assert.deepEqual([d.state, d.balance, d.stake, d.tokensUsed, d.unlockTs, d.secretHash], [0, 0n, toNano('1'), 0n, 0, 0n]);
    });

    it('top-up moves the money to the proxy; value and balance checks (1003, 1001)', async () => {
        const before = await H.balanceOf(net.bc, proxy.address);
        const r = await topUp(toNano('5'));
        expectTx(r, { from: proxy.address, to: cl.owner.address, op: OP.excesses });
        assert.equal((await clientData(net.bc, cl.address)).balance, toNano('5'));
        const after = await H.balanceOf(net.bc, proxy.address);
        assert.ok(after - before >= toNano('5') && after - before < toNano('5.01'));
        let r2 = await send(net.stranger, c.client.topUp(toNano('1'), net.stranger.address), toNano('1.09'));
        expectTx(r2, { to: cl.address }, { exitCode: ERR.lowMsgValue });
        // a client contract holding less than its 0.11 floor cannot forward (1001)
        const poor = c.clientStateInit(net.params, { owner: net.stranger.address, proxy: proxy.address, publicKey: net.proxyKeys.publicKey });
        await net.stranger.send({ to: poor.address, value: toNano('0.02'), init: { code: poor.code, data: poor.data }, bounce: false });
        r2 = await net.stranger.send({ to: poor.address, value: toNano('1.1'), body: c.client.topUp(toNano('1'), net.stranger.address) });
        expectTx(r2, { to: poor.address }, { exitCode: ERR.lowSmcBalance });
    });

    it('top-up while the proxy is closing is paid back to the client owner', async () => {
        await net.proxyOwner.send({ to: proxy.address, value: toNano('0.2'), body: c.proxy.ownerClose(net.proxyOwner.address) });
        const r = await topUp(toNano('2'));
        expectTx(r, { to: proxy.address });
        // sent with mode 0 (as the reference): the forwarding fee comes out of the amount
        const back = H.payoutsTo(r, cl.owner.address);
        assert.ok(back > toNano('1.99') && back <= toNano('2'), `paid back ${back}`);
        assert.equal((await proxyData(net.bc, proxy.address)).balance, 0n);
    });

    it('register forwards the nonce; secret hash; secret+top-up; owner checks (1010)', async () => {
        let r = await send(cl.owner, c.client.register(0x1122334455667788n, cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address });
        // 1 nanoton cannot buy gas at the proxy: the node reads the nonce from the message itself
        const fwd = H.findTx(r, { from: cl.address, to: proxy.address, op: OP.clientProxyRequest });
        const b = fwd.inMessage.body.beginParse();
        b.skip(32 + 64); b.loadAddress(); b.loadRef();
        const pl = b.loadMaybeRef().beginParse();
        assert.equal(pl.loadUint(32), OP.clientProxyRegister);
        assert.equal(pl.loadUintBig(64), 0x1122334455667788n);
        r = await send(net.stranger, c.client.register(1n, net.stranger.address), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.expectedMessageFromOwner });
        r = await send(cl.owner, c.client.register(1n, cl.owner.address), toNano('0.05'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.lowMsgValue });

        r = await send(cl.owner, c.client.changeSecretHash(0xabcn, cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address });
        assert.equal((await clientData(net.bc, cl.address)).secretHash, 0xabcn);
        r = await send(net.stranger, c.client.changeSecretHash(0xdefn, net.stranger.address), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.expectedMessageFromOwner });

        r = await send(cl.owner, c.client.changeSecretHashAndTopUp(toNano('1'), 0x777n, cl.owner.address), toNano('1.2'));
        expectTx(r, { to: cl.address });
        let d = await clientData(net.bc, cl.address);
        assert.deepEqual([d.secretHash, d.balance], [0x777n, toNano('1')]);
        r = await send(net.stranger, c.client.changeSecretHashAndTopUp(toNano('1'), 0x1n, net.stranger.address), toNano('1.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.expectedMessageFromOwner });
    });

    it('increase stake: must grow (1003), owner only (1010)', async () => {
        let r = await send(cl.owner, c.client.increaseStake(toNano('2'), cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address });
        assert.equal((await clientData(net.bc, cl.address)).stake, toNano('2'));
        r = await send(cl.owner, c.client.increaseStake(toNano('2'), cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.lowMsgValue });
        r = await send(net.stranger, c.client.increaseStake(toNano('3'), net.stranger.address), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.expectedMessageFromOwner });
    });

    it('withdraw pays balance - stake; below stake (1001); owner only (1009)', async () => {
        let r = await send(cl.owner, c.client.withdraw(cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.lowSmcBalance });      // balance 0 <= stake
        await topUp(toNano('3'));
        r = await send(net.stranger, c.client.withdraw(net.stranger.address), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.expectedOwner });
        r = await send(cl.owner, c.client.withdraw(cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address });
        expectTx(r, { from: cl.address, to: proxy.address });
        assert.equal(H.payoutsTo(r, cl.owner.address), toNano('2'));
        assert.equal((await clientData(net.bc, cl.address)).balance, toNano('1'));
        // over-withdraw: nothing above stake is left (1001)
        r = await send(cl.owner, c.client.withdraw(cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.lowSmcBalance });
    });

    it('signed charge: cumulative, replay/stale (1000), foreign key (1007), other address (1015), echo (1005), value (1003)', async () => {
        await topUp(toNano('3'));
        const charge = (tokens, addr = cl.address, qid = 1) => c.client.chargePayload(tokens, addr, qid);
        let r = await send(net.stranger, signed(charge(1_000_000n)), toNano('0.2'));
        expectTx(r, { to: cl.address });
        expectTx(r, { from: cl.address, to: net.proxyOwner.address, op: OP.excesses });
        let d = await clientData(net.bc, cl.address);
        assert.deepEqual([d.tokensUsed, d.balance], [1_000_000n, toNano('2')]);   // 1e6 tokens * 1000
        r = await send(net.stranger, signed(charge(1_000_000n)), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.oldMessage });               // replay
        r = await send(net.stranger, signed(charge(500_000n)), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.oldMessage });               // stale
        r = await send(net.stranger, signed(charge(2_000_000n), keyPair(9)), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.badSignature });
        // a charge signed for another client contract of the same proxy
        const other = await H.deployClient(net, proxy, 'client2');
        r = await send(net.stranger, signed(charge(2_000_000n, other.address)), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.expectedMyAddress });
        const p = charge(2_000_000n);
        const sig = require('@ton/crypto').sign(p.hash(), net.proxyKeys.secretKey);
        const bad = beginCell().storeUint(OP.extClientChargeSigned, 32).storeUint(2, 64).storeAddress(net.stranger.address)
            .storeBuffer(sig).storeRef(p).endCell();
        r = await send(net.stranger, bad, toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.signedMsgFormatMismatch });
        r = await send(net.stranger, signed(charge(2_000_000n)), toNano('0.09'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.lowMsgValue });
        // the client itself may repack the signed charge with its own excess address
        r = await send(cl.owner, c.signedWrapper(p, net.proxyKeys.secretKey, cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address });
        expectTx(r, { from: cl.address, to: cl.owner.address, op: OP.excesses });
        // charging past the balance floors it at 0
        r = await send(net.stranger, signed(charge(100_000_000n)), toNano('0.2'));
        expectTx(r, { to: cl.address });
        d = await clientData(net.bc, cl.address);
        assert.deepEqual([d.tokensUsed, d.balance], [100_000_000n, 0n]);
    });

    it('grant refund: charges, closes, refunds the rest; then closed (1006); stale (1000)', async () => {
        await topUp(toNano('3'));
        let r = await send(net.stranger, signed(c.client.chargePayload(1_000_000n, cl.address)), toNano('0.2'));
        expectTx(r, { to: cl.address });
        r = await send(net.stranger, signed(c.client.grantRefundPayload(999_999n, cl.address)), toNano('0.5'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.oldMessage });
        r = await send(net.stranger, signed(c.client.grantRefundPayload(1_500_000n, net.stranger.address)), toNano('0.5'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.expectedMyAddress });
        r = await send(net.stranger, signed(c.client.grantRefundPayload(1_500_000n, cl.address)), toNano('0.5'));
        expectTx(r, { to: cl.address });
        expectTx(r, { from: cl.address, to: proxy.address });
        assert.equal(H.payoutsTo(r, cl.owner.address), toNano('1.5'));
        const d = await clientData(net.bc, cl.address);
        assert.deepEqual([d.state, d.balance, d.tokensUsed, d.unlockTs], [2, 0n, 1_500_000n, 0]);
        r = await send(net.stranger, signed(c.client.grantRefundPayload(1_500_000n, cl.address)), toNano('0.5'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.closed });
        r = await send(net.stranger, signed(c.client.chargePayload(2_000_000n, cl.address)), toNano('0.5'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.closed });
        r = await send(cl.owner, c.client.topUp(toNano('1'), cl.owner.address), toNano('1.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.closed });
        r = await send(cl.owner, c.client.requestRefund(cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.closed });
    });

    it('two-step close: surplus refunded at once, early second step (1011), forced refund from the stake', async () => {
        await topUp(toNano('3'));
        let r = await send(net.stranger, c.client.requestRefund(net.stranger.address), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.expectedOwner });
        r = await send(cl.owner, c.client.requestRefund(cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address });
        assert.equal(H.payoutsTo(r, cl.owner.address), toNano('2'));
        let d = await clientData(net.bc, cl.address);
        assert.deepEqual([d.state, d.balance, d.unlockTs], [1, toNano('1'), net.bc.now + 86400]);
        // withdraw only in state normal (1006)
        r = await send(cl.owner, c.client.withdraw(cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.closed });
        net.bc.now += 86400;      // unlock_ts < now is required: equal is still early
        r = await send(cl.owner, c.client.requestRefund(cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.notUnlockedYet });
        net.bc.now += 1;
        r = await send(cl.owner, c.client.requestRefund(cl.owner.address), toNano('0.2'));
        expectTx(r, { to: cl.address });
        assert.equal(H.payoutsTo(r, cl.owner.address), toNano('1'));
        assert.equal((await proxyData(net.bc, proxy.address)).stake, toNano('2'));     // paid out of the stake
        d = await clientData(net.bc, cl.address);
        assert.deepEqual([d.state, d.balance], [2, 0n]);
    });

    it('forced refund is capped by the proxy stake', async () => {
        const thin = await H.deployProxy(net, { stake: 0n, keys: keyPair(11) });
        const cl2 = await H.deployClient(net, thin, 'client3', { keys: keyPair(11) });
        await cl2.owner.send({ to: cl2.address, value: toNano('0.6'), body: c.client.topUp(toNano('0.5'), cl2.owner.address) });
        await cl2.owner.send({ to: cl2.address, value: toNano('0.2'), body: c.client.requestRefund(cl2.owner.address) });
        net.bc.now += 86401;
        const r = await cl2.owner.send({ to: cl2.address, value: toNano('0.2'), body: c.client.requestRefund(cl2.owner.address) });
        expectTx(r, { to: thin.address });
        assert.equal(H.payoutsTo(r, cl2.owner.address), 0n);
    });

    it('wrong params version: a client of another params generation is refused by the proxy (1014)', async () => {
        const p2 = c.buildParams({ ...c.parseParams(net.params), paramsVersion: 2 });
        const stale = c.clientStateInit(p2, { owner: net.stranger.address, proxy: proxy.address, publicKey: net.proxyKeys.publicKey });
        await net.stranger.send({ to: stale.address, value: toNano('0.5'), init: { code: stale.code, data: stale.data }, bounce: false });
        const r = await net.stranger.send({ to: stale.address, value: toNano('1.2'), body: c.client.topUp(toNano('1'), net.stranger.address) });
        expectTx(r, { to: stale.address });
        expectTx(r, { from: stale.address, to: proxy.address }, { exitCode: ERR.contractAddressMismatch });
        // the bounce comes back: the coins go to the owner and the recorded balance is debited
        expectTx(r, { from: proxy.address, to: stale.address });
        assert.ok(H.payoutsTo(r, net.stranger.address) > toNano('1'));
        assert.equal((await clientData(net.bc, stale.address)).balance, 0n);
        // and a charge signed for the current-generation client does not apply to it
        const r2 = await net.stranger.send({ to: stale.address, value: toNano('0.2'), body: signed(c.client.chargePayload(5n, cl.address)) });
        expectTx(r2, { to: stale.address }, { exitCode: ERR.expectedMyAddress });
    });

    it('top-up to an undeployed proxy: bounce returns the coins, balance is debited (stranded value recovered)', async () => {
        const ghost = c.proxyStateInit(net.params, { owner: net.stranger.address, publicKey: keyPair(12).publicKey, root: net.root.address });
        const g = await H.deployClient(net, ghost, 'client4', { keys: keyPair(12) });
        const r = await g.owner.send({ to: g.address, value: toNano('2.2'), body: c.client.topUp(toNano('2'), g.owner.address) });
        expectTx(r, { to: g.address });
        expectTx(r, { from: ghost.address, to: g.address });
        assert.ok(H.payoutsTo(r, g.owner.address) > toNano('2'));
        assert.equal((await clientData(net.bc, g.address)).balance, 0n);
    });

    it('unknown op (1012); do_not_process ignored', async () => {
        let r = await send(net.stranger, beginCell().storeUint(0x29111ceb, 32).storeUint(0, 64).endCell(), toNano('0.2'));
        expectTx(r, { to: cl.address }, { exitCode: ERR.unknownOp });
        r = await send(net.stranger, beginCell().storeUint(OP.doNotProcess, 32).storeUint(0, 64).endCell(), toNano('0.2'));
        expectTx(r, { to: cl.address });
    });
});
