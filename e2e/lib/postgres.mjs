// A private PostgreSQL for the e2e tests of apps kept in a database, like
// the Go tests' engine/appstore/pgtest: initdb into a temporary directory,
// postgres on a free 127.0.0.1 port with trust authentication, run as the
// unprivileged user nobody when the tests run as root (initdb refuses
// root). Rows are written with psql, as an operator would.

import { spawn, execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { freePort } from './server.mjs';
import { waitFor } from './util.mjs';

const run = promisify(execFile);

/** The newest /usr/lib/postgresql/N/bin holding postgres and initdb, or null. */
export function postgresBin() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'postgres')) && existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : null;
}

/**
 * Starts a server. Returns { port, user, database, psql(sql), stop() }.
 */
export async function startPostgres(bin = postgresBin()) {
  const dir = mkdtempSync(path.join(tmpdir(), 'e2e-pg-'));
  chmodSync(dir, 0o755);
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  if (asUser.uid !== undefined) chownSync(dir, 65534, 65534);
  const data = path.join(dir, 'data');
  await run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], {
    cwd: dir,
    env: { ...process.env, LC_ALL: 'C' },
    ...asUser,
  });
  const port = await freePort();
  const child = spawn(
    path.join(bin, 'postgres'),
    ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
    { cwd: dir, stdio: 'ignore', env: { ...process.env, LC_ALL: 'C' }, ...asUser },
  );
  const exited = new Promise((resolve) => child.on('exit', resolve));
  process.on('exit', () => child.kill('SIGKILL'));
  const psql = async (sql) => {
    const { stdout } = await run(
      path.join(bin, 'psql'),
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-tAc', sql],
      { env: { ...process.env, PGCONNECT_TIMEOUT: '2' } },
    );
    return stdout.trim();
  };
  await waitFor(() => psql('SELECT 1').then(() => true), 30_000, `postgres on port ${port}`);
  return {
    port,
    user: 'postgres',
    database: 'postgres',
    psql,
    async stop() {
      child.kill('SIGQUIT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
