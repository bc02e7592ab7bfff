// Starts localton as a child process on a random 127.0.0.1 port; it exits with its parent.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const serverPath = path.join(here, '..', 'server.mjs');

export function startLocalton(stateDir, extra = []) {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [serverPath, '--port', '0', '--state', stateDir, '--exit-with-parent', ...extra],
            { stdio: ['pipe', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d) => {
            out += d;
            const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
            if (m) resolve({ child, url: m[1] });
        });
        child.on('exit', (code) => reject(new Error(`localton exited ${code}`)));
    });
}

