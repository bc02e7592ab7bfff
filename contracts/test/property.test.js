'use strict';
// Randomized property test (see property-runner.js). Seed and length from the environment:
//   COCOON_PROPERTY_SEED=123 COCOON_PROPERTY_OPS=20000 npm test
const { it } = require('node:test');
const { runProperty } = require('./property-runner');

const seed = Number(process.env.COCOON_PROPERTY_SEED ?? (Date.now() % 2 ** 31));
const ops = Number(process.env.COCOON_PROPERTY_OPS ?? 2000);

it(`random operations keep value conserved and pay everyone exactly what they are owed (seed ${seed}, ${ops} ops)`, { timeout: 20 * 60 * 1000 }, async () => {
    console.log(`# property seed=${seed} ops=${ops} (rerun with COCOON_PROPERTY_SEED=${seed})`);
    await runProperty({ seed, ops, clients: 3, workers: 3, log: (s) => console.log(`# ${s}`) });
});
