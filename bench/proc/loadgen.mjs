// HTTP load generator (its own process). Closed loop: `connections` keep-alive connections, each with one request in
// flight, for a warm-up then a measured window. `undici` is not installed in this repository, so the default client
// is a minimal HTTP/1.1 keep-alive client on raw sockets (pre-encoded requests, Content-Length framing — what
// undici/autocannon do), which leaves more of the machine to the server than `http.Agent`; BENCH_CLIENT=agent uses
// `http.Agent({ keepAlive: true, maxSockets })` instead.
import http from 'node:http';
import net from 'node:net';
import { now, serve } from '../lib.mjs';

const MAX_SAMPLES = 4_000_000;

/**
 * msg: { host, port, method, path, headers, bodies: string[], headersPerBody?: object[], connections, warmupMs, durationMs, expectStatus,
 *        client: 'raw' | 'agent' }
 */
async function run(msg) {
  const { connections, warmupMs, durationMs, expectStatus } = msg;
  const latencies = new Float64Array(MAX_SAMPLES);
  let samples = 0;
  let completed = 0;
  let errors = 0;
  const statuses = {};
  let measuring = false;
  let stopping = false;
  let measureStart = 0;
  let measureEnd = 0;
  let next = 0;
  const nextRequest = () => {
    const i = next++ % msg.bodies.length;
    return [msg.bodies[i], msg.headersPerBody?.[i]];
  };

  const record = (start, status) => {
    const end = now();
    if (!measuring || start < measureStart || end > measureEnd) return;
    completed++;
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status !== expectStatus) errors++;
    if (samples < MAX_SAMPLES) latencies[samples++] = end - start;
  };

  const loops = [];
  const sockets = [];
  if ((msg.client ?? 'raw') === 'raw') {
    const head = (body, i) =>
      `${msg.method} ${msg.path} HTTP/1.1\r\nhost: ${msg.host}:${msg.port}\r\n` +
      Object.entries({ ...msg.headers, ...msg.headersPerBody?.[i] })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('') +
      (body === undefined ? '' : `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`) +
      `\r\n${body ?? ''}`;
    const encoded = msg.bodies.map((b, i) => Buffer.from(head(b, i)));
    let nextEncoded = 0;
    for (let i = 0; i < connections; i++) {
      loops.push(
        new Promise((resolveLoop) => {
          const socket = net.connect({ host: msg.host, port: msg.port, noDelay: true });
          sockets.push(socket);
          let buf = Buffer.alloc(0);
          let start = 0;
          const send = () => {
            if (stopping) {
              socket.end();
              resolveLoop();
              return;
            }
            start = now();
            socket.write(encoded[nextEncoded++ % encoded.length]);
          };
          socket.on('connect', send);
          socket.on('data', (chunk) => {
            buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
            for (;;) {
              const headerEnd = buf.indexOf('\r\n\r\n');
              if (headerEnd < 0) return;
              const headText = buf.toString('latin1', 0, headerEnd);
              const status = Number(headText.slice(9, 12));
              const cl = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
              let bodyLen = cl ? Number(cl[1]) : 0;
              if (!cl && /\r\ntransfer-encoding:\s*chunked/i.test(headText)) {
                const term = buf.indexOf('\r\n0\r\n\r\n', headerEnd);
                if (term < 0) return;
                bodyLen = term + 7 - (headerEnd + 4);
              }
              const total = headerEnd + 4 + bodyLen;
              if (buf.length < total) return;
              buf = buf.subarray(total);
              record(start, status);
              send();
            }
          });
          socket.on('error', () => {
            errors++;
            resolveLoop();
          });
          socket.on('close', () => resolveLoop());
        }),
      );
    }
  } else {
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
    for (let i = 0; i < connections; i++) {
      loops.push(
        (async () => {
          while (!stopping) {
            const [body, extra] = nextRequest();
            const start = now();
            try {
              const status = await new Promise((resolveReq, reject) => {
                const req = http.request(
                  {
                    host: msg.host,
                    port: msg.port,
                    method: msg.method,
                    path: msg.path,
                    agent,
                    headers: {
                      ...msg.headers,
                      ...extra,
                      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
                    },
                  },
                  (res) => {
                    res.on('data', () => {});
                    res.on('end', () => resolveReq(res.statusCode));
                    res.on('error', reject);
                  },
                );
                req.on('error', reject);
                req.end(body);
              });
              record(start, status);
            } catch {
              errors++;
              await new Promise((r) => setTimeout(r, 10));
            }
          }
        })(),
      );
    }
    sockets.push({ destroy: () => agent.destroy() });
  }

  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, warmupMs));
  measureStart = now();
  measureEnd = measureStart + durationMs;
  measuring = true;
  process.send({ phase: 'measure-start' });
  const cpuStart = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, durationMs));
  const cpuEnd = process.cpuUsage(cpu0);
  process.send({ phase: 'measure-end' });
  stopping = true;
  // In-flight requests finish (bounded), then every socket goes.
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 3000))]);
  for (const s of sockets) s.destroy();
  const sorted = latencies.subarray(0, samples).sort();
  const pct = (p) => (samples ? sorted[Math.min(samples - 1, Math.max(0, Math.ceil((p / 100) * samples) - 1))] : NaN);
  const windowMs = measureEnd - measureStart;
  // Latency histogram, 10 µs buckets (capped at 10 s), as [bucket, count] pairs: runs can be merged.
  const buckets = new Map();
  for (let i = 0; i < samples; i++) {
    const b = Math.min(1_000_000, Math.round(sorted[i] * 100));
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  return {
    histogram: [...buckets],
    client: msg.client ?? 'raw',
    connections,
    windowMs,
    completed,
    errors,
    statuses,
    rps: (completed / windowMs) * 1000,
    latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: samples ? sorted[samples - 1] : NaN },
    loadgenCpu: (cpuEnd.user + cpuEnd.system - cpuStart.user - cpuStart.system) / 1e6 / (windowMs / 1000),
  };
}

serve({ run });
