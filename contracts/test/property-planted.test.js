'use strict';
// Test of the property test: a proxy with a planted accounting bug (it credits the worker's part to
// its own earnings as well, so it could pay out more than it holds for others) is compiled here only,
// from a patched copy of src/proxy.tolk, and the property run must report a violation.
const { it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { Cell } = require('@ton/core');
const { runProperty, PropertyViolation } = require('./property-runner');
const H = require('./helpers');
const { compileTolk, SRC_DIR } = require('../lib/compile');

const CORRECT = 'st.balance += proxyPart;';
const PLANTED = 'st.balance += proxyPart + workerPart;';

async function patchedCodes() {
    const src = fs.readFileSync(path.join(SRC_DIR, 'proxy.tolk'), 'utf-8');
    assert.equal(src.split(CORRECT).length, 2, 'the line to patch exists exactly once');
    const r = await compileTolk('proxy.tolk', { 'proxy.tolk': src.replace(CORRECT, PLANTED) });
    return { ...(await H.codes()), proxy: Cell.fromBase64(r.codeBoc64) };
}

it('the property run catches a planted accounting bug in the proxy', async () => {
    const codes = await patchedCodes();
    const seed = 7;
    await assert.rejects(runProperty({ seed, ops: 200, codes }), (e) => {
        assert.ok(e instanceof PropertyViolation, `expected a property violation, got ${e && e.stack}`);
        console.log(`# planted bug caught: ${e.message}`);
        return true;
    });
});

it('the same seed passes with the correct proxy', async () => {
    await runProperty({ seed: 7, ops: 200 });
});
