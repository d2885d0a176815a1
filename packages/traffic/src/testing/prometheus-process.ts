import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Starts a real Prometheus (the Debian `prometheus` package, `/usr/bin/prometheus`) on a free loopback port with
 * a throw-away config and TSDB directory, for tests, the demo and the benchmark. Not a library feature.
 */

export interface ScrapeTarget {
  /** `host:port` of a `/metrics` endpoint. */
  address: string;
  labels?: Record<string, string>;
}

export interface PrometheusProcess {
  url: string;
  stop(): Promise<void>;
  /** True until `stop` or an unexpected exit. */
  readonly running: boolean;
}

const CANDIDATES = [process.env.RC_PROMETHEUS_BIN, '/usr/bin/prometheus', '/usr/local/bin/prometheus'];

/** The Prometheus binary, or undefined when it is not installed (`apt-get install -y prometheus`). */
export function findPrometheus(): string | undefined {
  return CANDIDATES.find((p): p is string => typeof p === 'string' && p !== '' && existsSync(p));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startPrometheus(options: {
  targets: ScrapeTarget[];
  scrapeIntervalMs?: number;
  binary?: string;
}): Promise<PrometheusProcess> {
  const binary = options.binary ?? findPrometheus();
  if (!binary) throw new Error('Prometheus is not installed (apt-get install -y prometheus, or set RC_PROMETHEUS_BIN)');
  const dir = await mkdtemp(join(tmpdir(), 'rc-prometheus-'));
  // Prometheus accepts sub-second scrape intervals (`250ms`); tests use them to keep scenarios short.
  const intervalMs = Math.max(100, Math.round(options.scrapeIntervalMs ?? 1000));
  const interval = intervalMs % 1000 === 0 ? `${intervalMs / 1000}s` : `${intervalMs}ms`;
  const targets = options.targets
    .map((t) => `      - targets: ['${t.address}']\n        labels: ${JSON.stringify(t.labels ?? {})}`)
    .join('\n');
  const config = `global:
  scrape_interval: ${interval}
  scrape_timeout: ${interval}
  evaluation_interval: ${interval}
scrape_configs:
  - job_name: rc-targets
    static_configs:
${targets}
`;
  await writeFile(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killTimer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`Prometheus exited during start-up: ${stderr}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Prometheus was not ready within 20 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // Prometheus' discovery manager hands targets to the scrape loop only every 5 s, so "ready" is not "scraping".
  // Wait until every target has been scraped once: before that, queries see no series at all.
  const scrapeDeadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent('up == 1')}`, {
        signal: AbortSignal.timeout(1000),
      });
      const body = (await res.json()) as { data?: { result?: unknown[] } };
      if ((body.data?.result?.length ?? 0) >= options.targets.length) break;
    } catch {
      // retry
    }
    if (Date.now() > scrapeDeadline) {
      await stop();
      throw new Error(`Prometheus did not scrape its targets within 20 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop,
    get running() {
      return !exited;
    },
  };
}
