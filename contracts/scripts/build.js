'use strict';
// Compiles every contract under src/ with @ton/tolk-js (pinned 1.3.0) into build/<name>.json.
const { compileAll } = require('../lib/compile');

compileAll()
    .then((out) => {
        for (const [name, r] of Object.entries(out)) {
            console.log(`compiled ${name}: code hash ${r.codeHashHex}`);
        }
    })
    .catch((e) => {
        console.error(e.message || e);
        process.exit(1);
    });
