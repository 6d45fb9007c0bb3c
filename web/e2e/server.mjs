// Shared by the e2e test and the dashboard benchmark: start the real server binary on a free
// loopback port with a throwaway data directory, and launch Debian's Chromium.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** `args`: more command-line switches (the count's camera test: a fake camera fed a file). */
export function launchChromium({ args = [] } = {}) {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...args] });
}

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
    s.on('error', rej);
  });
}

/**
 * Starts `echinomap serve --demo` (after `demo-data --scale N` when scale > 1). Returns the base
 * URL, the port and `stop()` (SIGTERM: the server stops its cluster; then the directory goes).
 * `dataDir` (benchmarks: ECHINOMAP_BENCH_DATA_DIR) serves an existing data directory as it is,
 * loaded beforehand with `echinomap demo-data --scale N`, and keeps it.
 * `log` (default: debug) is the server's ECHINOMAP_LOG; its whole output is written to
 * target/test-logs/web-<port>.log, which the suite's last test searches for personal data.
 * The benchmark passes `log: 'info'` so that logging does not weigh on what it measures.
 */
export async function startServer({
  scale = 1,
  bin = process.env.ECHINOMAP_BIN ?? 'target/debug/echinomap',
  dataDir: existing = undefined,
  log = 'debug,hyper=info,h2=info',
} = {}) {
  const exe = path.resolve(root, bin);
  const port = await freePort();
  const dataDir = existing ? path.resolve(root, existing) : mkdtempSync(path.join(os.tmpdir(), 'echinomap-web-'));
  // As root the embedded cluster runs as `postgres`, which must be able to enter the directory.
  chmodSync(dataDir, 0o755);
  if (scale > 1 && !existing) {
    const r = spawnSync(exe, ['demo-data', '--scale', String(scale), '--data-dir', dataDir], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`demo-data --scale ${scale} failed`);
  }
  const server = spawn(exe, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Small fixed database settings unless the caller's environment says otherwise, and no
    // configuration file from /etc.
    env: {
      ECHINOMAP_DATABASE_SIZING: 'small',
      ...process.env,
      ECHINOMAP_CONFIG: 'none',
      ECHINOMAP_LOG: log,
    },
  });
  const logDir = path.join(root, 'target', 'test-logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = createWriteStream(path.join(logDir, `web-${port}.log`));
  // The last 64 KiB stay in memory too, for the message when the server dies.
  let out = '';
  const keep = (d) => { if (!logFile.writableEnded) logFile.write(d); out = (out + d).slice(-65536); };
  server.stdout.on('data', keep);
  server.stderr.on('data', keep);
  const logWritten = new Promise((r) => logFile.on('finish', r));
  // 'close' comes after the process's output has been read to its end.
  const closed = new Promise((r) => server.on('close', () => { logFile.end(); r(); }));
  server.on('exit', (code) => { if (code) console.error(out.slice(-4000)); });
  const within = (ms) => new Promise((r) => setTimeout(r, ms).unref());
  const stop = async () => {
    if (server.exitCode === null) server.kill('SIGTERM');
    // The whole log on disk before the caller exits.
    await Promise.race([closed, within(20_000)]);
    await Promise.race([logWritten, within(5_000)]);
    // PostgreSQL's own log joins the run's logs before the directory goes.
    const pgLog = path.join(dataDir, 'pg', 'postgresql.log');
    if (existsSync(pgLog)) copyFileSync(pgLog, path.join(logDir, `web-${port}-postgresql.log`));
    if (!existing) rmSync(dataDir, { recursive: true, force: true });
  };
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    if (server.exitCode !== null) { await stop(); throw new Error(`the server exited (${server.exitCode})`); }
    try {
      if ((await fetch(`${base}/healthz`)).ok) return { base, port, stop };
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  await stop();
  throw new Error('the server did not answer /healthz within 120 s');
}
