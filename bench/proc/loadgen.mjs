// HTTP load generator (its own process). Closed loop: `connections` keep-alive connections, each with one request in
// flight, for a warm-up then a measured window. `undici` is not installed in this repository, so the default client
// (`runAlternating`, several targets in turn) is a minimal HTTP/1.1 keep-alive client on raw sockets (pre-encoded
// requests, Content-Length framing — what undici/autocannon do), which leaves more of the machine to the server than
// `http.Agent`; BENCH_CLIENT=agent runs each target on its own with `http.Agent({ keepAlive: true, maxSockets })`
// (`run`).
import http from 'node:http';
import net from 'node:net';
import { cpuSeconds, machineBusySeconds, now, serve } from '../lib.mjs';

const MAX_SAMPLES = 4_000_000;

/**
 * One target with `http.Agent` (BENCH_CLIENT=agent).
 * msg: { host, port, method, path, headers, bodies: string[], headersPerBody?: object[], connections, warmupMs, durationMs, expectStatus }
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
    client: 'agent',
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

/** Calls `onResponse(status)` for every complete response that arrives on `socket`, in order. */
function readResponses(socket, onResponse) {
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      const r = completeResponse(buf);
      if (!r) return;
      buf = buf.subarray(r.total);
      onResponse(r.status);
    }
  });
}

/** The request bytes of one target: one pre-encoded request per body (raw client). */
function encodeRequests(t) {
  const head = (body, i) =>
    `${t.method} ${t.path} HTTP/1.1\r\nhost: ${t.host}:${t.port}\r\n` +
    Object.entries({ ...t.headers, ...t.headersPerBody?.[i] })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    (body === undefined ? '' : `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`) +
    `\r\n${body ?? ''}`;
  return t.bodies.map((b, i) => Buffer.from(head(b, i)));
}

/** Length of the first complete response in `buf` and its status, or undefined while it is incomplete. */
function completeResponse(buf) {
  const headerEnd = buf.indexOf('\r\n\r\n');
  if (headerEnd < 0) return undefined;
  const headText = buf.toString('latin1', 0, headerEnd);
  const status = Number(headText.slice(9, 12));
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
  let bodyLen = cl ? Number(cl[1]) : 0;
  if (!cl && /\r\ntransfer-encoding:\s*chunked/i.test(headText)) {
    const term = buf.indexOf('\r\n0\r\n\r\n', headerEnd);
    if (term < 0) return undefined;
    bodyLen = term + 7 - (headerEnd + 4);
  }
  const total = headerEnd + 4 + bodyLen;
  return buf.length < total ? undefined : { total, status };
}

/**
 * Several targets driven in alternation in short slices (`sliceMs`, default 250 ms): each target has its own
 * `connections` keep-alive connections, and only the active target's connections send (closed loop); at a slice's
 * end they stop sending, the requests in flight finish, and the next target's start. A target's throughput is its
 * answers from the first to the last of each slice over that time (the pipeline full); its latencies are those of
 * every request sent in its slices. So every
 * target meets the machine's background load in the same proportion — on a
 * shared machine whose speed drifts by tens of percent within seconds, slices this short compare like with like,
 * which whole-second rounds did not. Each target's server CPU (`pid`, from /proc) and this process's CPU are read
 * at every switch and charged to the slice's target.
 *
 * msg: { targets: [{ host, port, method, path, headers, bodies, headersPerBody?, expectStatus, pid }], connections,
 *        warmupMs and durationMs (each per target), sliceMs? }
 */
async function runAlternating(msg) {
  const { targets, connections, warmupMs, durationMs } = msg;
  const sliceMs = msg.sliceMs ?? 250;
  const perTargetSamples = Math.floor(MAX_SAMPLES / targets.length);
  const states = targets.map((t, index) => ({
    t,
    index,
    encoded: encodeRequests(t),
    nextEncoded: 0,
    idle: [],
    errors: 0,
    statuses: {},
    latencies: new Float64Array(perTargetSamples),
    samples: 0,
    activeMs: 0,
    /** Answers after the first one of the current slice, and when its first and last came. */
    sliceAnswers: 0,
    sliceFirst: undefined,
    sliceLast: 0,
    /** Sum over the measured slices: answers after each slice's first, and the time from its first to its last. */
    steadyAnswers: 0,
    steadyMs: 0,
    serverCpu: 0,
    loadgenCpu: 0,
    busy: 0,
  }));
  let active = -1;
  let measuring = false;
  let stopping = false;
  const sockets = [];
  const opened = [];

  for (const st of states) {
    for (let c = 0; c < connections; c++) {
      opened.push(
        new Promise((resolveOpen, rejectOpen) => {
          const socket = net.connect({ host: st.t.host, port: st.t.port, noDelay: true });
          sockets.push(socket);
          const conn = { start: 0, counted: false };
          conn.send = () => {
            conn.start = now();
            conn.counted = measuring;
            socket.write(st.encoded[st.nextEncoded++ % st.encoded.length]);
          };
          socket.on('connect', () => {
            st.idle.push(conn);
            resolveOpen();
          });
          readResponses(socket, (status) => {
            if (conn.counted) {
              const at = now();
              st.statuses[status] = (st.statuses[status] ?? 0) + 1;
              if (status !== st.t.expectStatus) st.errors++;
              if (st.samples < perTargetSamples) st.latencies[st.samples++] = at - conn.start;
              if (active === st.index) {
                // Throughput counts the answers between the slice's first and last one: the pipeline is full
                // then, so neither its filling at the start nor its draining after the end biases a slow target.
                if (st.sliceFirst === undefined) st.sliceFirst = at;
                else st.sliceAnswers++;
                st.sliceLast = at;
              }
            }
            if (!stopping && active === st.index) conn.send();
            else st.idle.push(conn);
          });
          socket.on('error', (err) => {
            st.errors++;
            rejectOpen(err);
          });
        }),
      );
    }
  }
  await Promise.all(opened);

  const activate = (i) => {
    active = i;
    const st = states[i];
    const idle = st.idle.splice(0);
    for (const conn of idle) conn.send();
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  /** Resolves once every connection of `st` is idle again (bounded: a lost connection never comes back). */
  const drained = async (st) => {
    const deadline = now() + 5000;
    while (st.idle.length < connections && now() < deadline) await sleep(1);
  };
  const runSlices = async (totalPerTarget, measure) => {
    const slices = Math.max(1, Math.round(totalPerTarget / sliceMs));
    for (let s = 0; s < slices; s++) {
      for (let i = 0; i < states.length; i++) {
        const st = states[i];
        measuring = measure;
        const cpu0 = cpuSeconds(st.t.pid);
        const own0 = process.cpuUsage();
        const busy0 = machineBusySeconds();
        const t0 = now();
        st.sliceFirst = undefined;
        st.sliceAnswers = 0;
        activate(i);
        await sleep(sliceMs);
        active = -1;
        if (measure) {
          if (st.sliceFirst !== undefined) {
            st.steadyAnswers += st.sliceAnswers;
            st.steadyMs += st.sliceLast - st.sliceFirst;
          }
          st.activeMs += now() - t0;
          st.serverCpu += cpuSeconds(st.t.pid) - cpu0;
          const own = process.cpuUsage(own0);
          st.loadgenCpu += (own.user + own.system) / 1e6;
          st.busy += machineBusySeconds() - busy0;
        }
        // The slice's requests still in flight finish before the next target starts, outside every measurement:
        // a slow target (Unleash) would otherwise still be working through them during the next target's slice.
        await drained(st);
      }
    }
  };
  await runSlices(warmupMs, false);
  process.send({ phase: 'measure-start' });
  await runSlices(durationMs, true);
  process.send({ phase: 'measure-end' });
  stopping = true;
  active = -1;
  await sleep(200);
  for (const s of sockets) s.destroy();

  return states.map((st) => {
    const sorted = st.latencies.subarray(0, st.samples).sort();
    const n = st.samples;
    const pct = (p) => (n ? sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))] : NaN);
    const buckets = new Map();
    for (let i = 0; i < n; i++) {
      const b = Math.min(1_000_000, Math.round(sorted[i] * 100));
      buckets.set(b, (buckets.get(b) ?? 0) + 1);
    }
    const sec = st.activeMs / 1000;
    const serverCpu = st.serverCpu / sec;
    const loadgenCpu = st.loadgenCpu / sec;
    return {
      histogram: [...buckets],
      client: 'raw',
      connections,
      windowMs: st.steadyMs,
      completed: st.steadyAnswers,
      errors: st.errors,
      statuses: st.statuses,
      rps: (st.steadyAnswers / st.steadyMs) * 1000,
      latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: n ? sorted[n - 1] : NaN },
      loadgenCpu,
      serverCpu,
      otherCpu: Number.isNaN(serverCpu) ? Number.NaN : Math.max(0, st.busy / sec - serverCpu - loadgenCpu),
      slices: Math.round(st.activeMs / sliceMs),
    };
  });
}

serve({ run, runAlternating });
