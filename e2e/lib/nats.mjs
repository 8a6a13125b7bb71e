// A real nats-server for the cluster suites (Debian package nats-server).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import path from 'node:path';

import { freePort } from './server.mjs';
import { waitFor } from './util.mjs';

export const NATS_PACKAGE = 'nats-server';

/** nats-server on PATH, or in /usr/sbin or /usr/bin (the Debian package installs it in /usr/sbin). */
export function findNats() {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    const p = path.join(dir, 'nats-server');
    if (existsSync(p)) return p;
  }
  return null;
}

export const NATS_BIN = findNats();
export const NO_NATS = `nats-server not found on PATH, /usr/sbin or /usr/bin: install the Debian package ${NATS_PACKAGE} (apt-get install -y ${NATS_PACKAGE})`;

/** Starts `nats-server -a 127.0.0.1 -p <free port>`; resolves once it accepts TCP connections. */
export async function startNats() {
  const port = await freePort();
  const child = spawn(NATS_BIN, ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (c) => {
    output = (output + c.toString()).slice(-16 * 1024);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve((exitInfo = { code, signal })));
    child.on('error', (error) => resolve((exitInfo = { error: error.message })));
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    if (!exitInfo) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    await waitFor(
      () => {
        if (exitInfo) return true; // reported below
        return new Promise((resolve) => {
          const s = tcpConnect(port, '127.0.0.1');
          s.once('connect', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        });
      },
      10_000,
      () => `nats-server listening on 127.0.0.1:${port}\n${output}`,
    );
    if (exitInfo) throw new Error(`nats-server exited early ${JSON.stringify(exitInfo)}:\n${output}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `nats://127.0.0.1:${port}`, stop };
}
