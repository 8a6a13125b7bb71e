// Builds and runs the sockudo binary under test.
//
// SOCKUDO_BIN=/path/to/sockudo uses a prebuilt binary; otherwise the harness
// runs `go build -o e2e/.bin/sockudo ./cmd/sockudo` from the repository root
// (once per test process; Go's build cache makes the later builds cheap).

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { waitFor } from './util.mjs';

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = path.resolve(E2E_DIR, '..');
export const FIXTURES_DIR = path.join(E2E_DIR, 'fixtures');

const READY_DEADLINE_MS = 10_000;
const STOP_DEADLINE_MS = 15_000;

let binaryPromise;

/** Path of the server binary, building it if SOCKUDO_BIN is not set. */
export function sockudoBinary() {
  if (process.env.SOCKUDO_BIN) return Promise.resolve(path.resolve(process.env.SOCKUDO_BIN));
  binaryPromise ??= (async () => {
    const out = path.join(E2E_DIR, '.bin', 'sockudo');
    mkdirSync(path.dirname(out), { recursive: true });
    try {
      await promisify(execFile)('go', ['build', '-o', out, './cmd/sockudo'], {
        cwd: REPO_DIR,
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (err) {
      throw new Error(`go build ./cmd/sockudo failed:\n${err.stderr || err.message}`);
    }
    return out;
  })();
  return binaryPromise;
}

/**
 * A free TCP port on 127.0.0.1 below the kernel's ephemeral range (32768 and
 * up by default). A listen(0) port lies inside that range, so a server's own
 * outgoing connection (to its bus) could take it before the server binds it
 * ("address already in use").
 */
export async function freePort() {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await canListen(port)) return port;
  }
  throw new Error('no free port in 20000-31999');
}

function canListen(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A fixture file from e2e/fixtures, parsed (a fresh copy each call). */
export function loadFixture(name = 'config.json') {
  return JSON.parse(readFileSync(path.join(FIXTURES_DIR, name), 'utf8'));
}

/** The app entry with this id from a config object. */
export function appFrom(config, id) {
  const app = config.app_manager.array.apps.find((a) => String(a.id) === String(id));
  if (!app) throw new Error(`fixture has no app ${id}`);
  return app;
}

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/**
 * Starts sockudo with a config (an object, or a fixture file name) on fresh
 * ports (opts.port fixes the main port) and waits until GET /up answers 200.
 *
 * Returns { port, metricsPort, httpUrl, config, app(id), output(), stop(), exited }.
 * stop() sends SIGTERM and resolves with { code, signal } once the process is gone.
 */
export async function startServer(configOrFixture = 'config.json', { port: fixedPort } = {}) {
  const config = typeof configOrFixture === 'string' ? loadFixture(configOrFixture) : configOrFixture;
  const bin = await sockudoBinary();
  const dir = mkdtempSync(path.join(tmpdir(), 'sockudo-e2e-'));
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  const port = fixedPort ?? (await freePort());
  let metricsPort = await freePort();
  while (metricsPort === port) metricsPort = await freePort();

  // Both listeners on the loopback address the free ports were picked on.
  const args = ['--config', configFile, '--port', String(port), '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort), '--log-level', 'warn'];
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);

  let output = '';
  const keep = (chunk) => {
    output += chunk.toString();
    if (output.length > 64 * 1024) output = output.slice(-32 * 1024);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);

  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      running.delete(child);
      resolve(exitInfo);
    });
    child.on('error', (err) => {
      exitInfo = { code: null, signal: null, error: err };
      running.delete(child);
      resolve(exitInfo);
    });
  });

  const httpUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (exitInfo) return true; // reported below: waitFor would retry a throw until the deadline
        const res = await fetch(`${httpUrl}/up`).catch(() => null);
        if (!res) return false;
        await res.arrayBuffer().catch(() => {});
        return res.status === 200;
      },
      READY_DEADLINE_MS,
      () => `GET /up == 200 (sockudo ${args.join(' ')})\n--- output ---\n${output}`,
    );
    if (exitInfo) throw new Error(`sockudo exited early (${JSON.stringify(exitInfo)}):\n${output}`);
  } catch (err) {
    if (!exitInfo) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    if (exitInfo && !err.message.includes('exited early')) {
      throw new Error(`${err.message}\nsockudo exited: ${JSON.stringify(exitInfo)}\n${output}`);
    }
    throw err;
  }

  let stopping = null;
  const server = {
    port,
    metricsPort,
    httpUrl,
    wsUrl: `ws://127.0.0.1:${port}`,
    config,
    configFile,
    child,
    exited,
    output: () => output,
    app: (id) => appFrom(config, id),
    get exitInfo() {
      return exitInfo;
    },
    /** SIGTERM, wait for the exit (SIGKILL after a deadline). */
    stop() {
      stopping ??= (async () => {
        if (!exitInfo) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
          await exited;
          clearTimeout(timer);
        }
        if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
        return exitInfo;
      })();
      return stopping;
    },
  };
  return server;
}
