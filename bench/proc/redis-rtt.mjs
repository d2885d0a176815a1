// Anchor: raw Redis publish → subscribe round trip with ioredis (one publisher, one subscriber connection), one message
// in flight at a time. msg: { url, samples, gapMs }
import { Redis } from 'ioredis';
import { now, serve, sleep } from '../lib.mjs';

serve({
  async run(m) {
    const channel = `rc-bench-rtt-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const pub = new Redis(m.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const sub = new Redis(m.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await Promise.all([pub.connect(), sub.connect()]);
      await sub.subscribe(channel);
      let waiting;
      sub.on('message', (_c, raw) => waiting?.(now() - JSON.parse(raw).t));
      const latencies = [];
      const deadline = now() + 30_000;
      for (let i = 0; i < m.samples && now() < deadline; i++) {
        const got = new Promise((r) => {
          waiting = r;
          setTimeout(() => r(Number.NaN), 2000);
        });
        await pub.publish(channel, JSON.stringify({ i, t: now(), pad: 'x'.repeat(60) }));
        const l = await got;
        if (!Number.isNaN(l) && i >= 20) latencies.push(l); // first 20: warm-up
        await sleep(m.gapMs);
      }
      return latencies;
    } finally {
      pub.disconnect();
      sub.disconnect();
    }
  },
});
