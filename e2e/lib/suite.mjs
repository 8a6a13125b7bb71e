// The per-file setup the test files share, as node:test hooks:
//
//   let server; let sdk;
//   useServer('config.json', (s) => { server = s; sdk = backend(s, MAIN); });
//
// starts one server before the file's tests, closes every client after each
// test and stops the server after the file. useServers() is the same for a
// file that starts its servers (or other processes) inside its tests.

import { before, after, afterEach } from 'node:test';

import { startServer } from './server.mjs';
import { closeAll } from './clients.mjs';

/**
 * Registers after/afterEach hooks: `cleanup` (default closeAll: every
 * client) after each test; after the file, cleanup, then every server
 * started through start() and every stopper given to onStop(), last first.
 * Returns { start(config, opts) -> server, onStop(fn), servers }.
 */
export function useServers({ cleanup = closeAll } = {}) {
  const servers = [];
  const stoppers = [];
  after(async () => {
    await cleanup();
    for (const stop of stoppers.splice(0).reverse()) {
      try {
        await stop();
      } catch {
        /* best effort: the other processes must still go */
      }
    }
  });
  afterEach(cleanup);
  return {
    servers,
    /** startServer() whose server is stopped after the file. */
    async start(config, opts) {
      const server = await startServer(config, opts);
      servers.push(server);
      stoppers.push(() => server.stop());
      return server;
    },
    /** Runs fn after the file (after cleanup), e.g. to end a helper process. */
    onStop(fn) {
      stoppers.push(fn);
    },
  };
}

/**
 * One server for the whole file: started with `config` (a fixture name or a
 * config object) before the tests, then onStart(server) (which may derive
 * SDK clients or settings from it); cleaned up as useServers() does.
 */
export function useServer(config = 'config.json', onStart = () => {}, opts = {}) {
  const { start } = useServers(opts);
  before(async () => {
    await onStart(await start(config));
  });
}
