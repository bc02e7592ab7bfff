'use strict';
// Measures compute-phase gas per operation in the sandbox and prints a markdown table
// (docs/contracts.md "Gas" is copied from this output; build/gas.md holds the last run).
// Each figure is the gas used by the transaction of the contract that handles the op.
const { it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const H = require('./helpers');

const { c, toNano, keyPair } = H;

it('measures gas per operation', async () => {
    const net = await H.setup();
    const rows = [];
    const rec = (contract, op, r, to) => {
        const tx = H.findTx(r, { to });
        assert.equal(H.exitCodeOf(tx), 0, op);
        rows.push([contract, op, H.gasOf(tx), tx.totalFees.coins]);
    };
    const ro = (body) => net.rootOwner.send({ to: net.root.address, value: toNano('0.1'), body });
    rec('root', 'root_add_worker_type', await ro(c.root.hashOp(c.OP.rootAddWorkerType, 77n)), net.root.address);
    rec('root', 'root_del_worker_type', await ro(c.root.hashOp(c.OP.rootDelWorkerType, 77n)), net.root.address);
    rec('root', 'root_register_proxy', await ro(c.root.registerProxy('10.1.1.1:443 10.1.1.1:8443')), net.root.address);
    rec('root', 'root_update_proxy', await ro(c.root.updateProxy(2, '10.1.1.2:443')), net.root.address);
    rec('root', 'root_change_price', await ro(c.root.changePrice(1000n, 800n)), net.root.address);
    rec('root', 'root_change_params', await ro(c.root.changeParams({ pricePerToken: 1000n, workerFeePerToken: 800n,
        proxyDelayBeforeClose: 3600, clientDelayBeforeClose: 86400, minProxyStake: toNano('1'), minClientStake: toNano('1') })), net.root.address);

    const proxy = await H.deployProxy(net, { stake: 0n });
    const po = (body, value = toNano('0.5')) => net.proxyOwner.send({ to: proxy.address, value, body });
    rec('proxy', 'ext_proxy_increase_stake', await po(c.proxy.increaseStake(toNano('3'), net.proxyOwner.address), toNano('3.5')), proxy.address);
    const cl = await H.deployClient(net, proxy, 'gasClient');
    const co = (body, value = toNano('0.5')) => cl.owner.send({ to: cl.address, value, body });
    let r = await co(c.client.topUp(toNano('5'), cl.owner.address), toNano('5.5'));
    rec('client', 'ext_client_top_up', r, cl.address);
    rec('proxy', 'client_proxy_request (top_up)', r, proxy.address);
    rec('client', 'owner_client_register', await co(c.client.register(1n, cl.owner.address)), cl.address);
    rec('client', 'owner_client_change_secret_hash', await co(c.client.changeSecretHash(5n, cl.owner.address)), cl.address);
    rec('client', 'owner_client_increase_stake', await co(c.client.increaseStake(toNano('2'), cl.owner.address)), cl.address);
    const sign = (p, to = net.proxyOwner.address) => c.signedWrapper(p, net.proxyKeys.secretKey, to);
    rec('client', 'ext_client_charge_signed', await net.proxyOwner.send({ to: cl.address, value: toNano('0.5'), body: sign(c.client.chargePayload(2000n, cl.address)) }), cl.address);
    r = await co(c.client.withdraw(cl.owner.address));
    rec('client', 'owner_client_withdraw', r, cl.address);
    rec('proxy', 'client_proxy_request (refund_granted)', r, proxy.address);
    const wk = await H.deployWorker(net, proxy, 'gasWorker');
    rec('worker', 'owner_worker_register', await wk.owner.send({ to: wk.address, value: toNano('0.5'), body: c.worker.register(wk.owner.address) }), wk.address);
    r = await net.proxyOwner.send({ to: wk.address, value: toNano('0.5'), body: sign(c.worker.payoutPayload(1000n, wk.address)) });
    rec('worker', 'ext_worker_payout_request_signed', r, wk.address);
    rec('proxy', 'worker_proxy_request (payout)', r, proxy.address);
    r = await net.proxyOwner.send({ to: wk.address, value: toNano('0.5'), body: sign(c.worker.payoutPayload(1500n, wk.address, 0, true)) });
    rec('worker', 'ext_worker_last_payout_request_signed', r, wk.address);
    rec('proxy', 'ext_proxy_payout_request', await po(c.proxy.payoutRequest(net.proxyOwner.address)), proxy.address);
    r = await co(c.client.requestRefund(cl.owner.address));
    rec('client', 'owner_client_request_refund (step 1)', r, cl.address);
    net.bc.now += 86401;
    r = await co(c.client.requestRefund(cl.owner.address));
    rec('client', 'owner_client_request_refund (step 2, forced)', r, cl.address);
    rec('proxy', 'client_proxy_request (refund_force)', r, proxy.address);
    const cl2 = await H.deployClient(net, proxy, 'gasClient2');
    await cl2.owner.send({ to: cl2.address, value: toNano('1.5'), body: c.client.topUp(toNano('1'), cl2.owner.address) });
    rec('client', 'ext_client_grant_refund_signed', await net.proxyOwner.send({ to: cl2.address, value: toNano('0.5'), body: sign(c.client.grantRefundPayload(10n, cl2.address)) }), cl2.address);
    rec('proxy', 'owner_proxy_close', await po(c.proxy.ownerClose(net.proxyOwner.address)), proxy.address);
    net.bc.now += 3600;
    rec('proxy', 'ext_proxy_close_complete_request_signed', await po(sign(c.proxy.closeCompletePayload(proxy.address))), proxy.address);
    const p2 = await H.deployProxy(net, { stake: 0n, keys: keyPair(31) });
    rec('proxy', 'ext_proxy_close_request_signed', await net.proxyOwner.send({ to: p2.address, value: toNano('0.5'),
        body: c.signedWrapper(c.proxy.closeRequestPayload(p2.address), keyPair(31).secretKey, net.proxyOwner.address) }), p2.address);

    const wkeys = keyPair(32);
    const ws = c.walletStateInit(net.codes, { publicKey: wkeys.publicKey, owner: net.stranger.address });
    await net.stranger.send({ to: ws.address, value: toNano('5'), bounce: false });
    const { storeMessageRelaxed, internal, beginCell } = require('@ton/core');
    const msg = beginCell().store(storeMessageRelaxed(internal({ to: net.stranger.address, value: toNano('1') }))).endCell();
    r = await net.bc.sendMessage({ info: { type: 'external-in', dest: ws.address, importFee: 0n }, init: { code: ws.code, data: ws.data },
        body: c.walletExternalBody({ secretKey: wkeys.secretKey, seqno: 0, validUntil: net.bc.now + 60, messages: [{ mode: 1, message: msg }] }) });
    rec('wallet', 'external (deploy + 1 message)', r, ws.address);
    r = await net.bc.sendMessage({ info: { type: 'external-in', dest: ws.address, importFee: 0n },
        body: c.walletExternalBody({ secretKey: wkeys.secretKey, seqno: 1, validUntil: net.bc.now + 60, messages: [{ mode: 1, message: msg }] }) });
    rec('wallet', 'external (1 message)', r, ws.address);

    const lines = ['| contract | operation | gas | total fees (nanoton) |', '|---|---|---:|---:|',
        ...rows.map(([ct, op, g, f]) => `| ${ct} | ${op} | ${g} | ${f} |`)];
    fs.mkdirSync(path.join(__dirname, '..', 'build'), { recursive: true });
    fs.writeFileSync(path.join(__dirname, '..', 'build', 'gas.md'), lines.join('\n') + '\n');
    for (const l of lines) console.log(l);
});
