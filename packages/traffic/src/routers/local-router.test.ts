import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FINE_BUCKET_RATIO, FINE_DURATION_BUCKETS_MS, ISTIO_DURATION_BUCKETS_MS, LocalRouter } from './local-router.js';

/** What `histogram_quantile` does for samples all at one latency: interpolate inside the bucket holding them. */
function estimatedQuantile(buckets: readonly number[], latencyMs: number, q = 0.95): number {
  const i = buckets.findIndex((b) => latencyMs <= b);
  const upper = buckets[i]!;
  const lower = i === 0 ? 0 : buckets[i - 1]!;
  return lower + (upper - lower) * q;
}

describe('LocalRouter latency buckets', () => {
  it('are at most 5 % apart from 0.5 ms to 60 s', () => {
    const fine = FINE_DURATION_BUCKETS_MS.filter((b) => b <= 60_000);
    assert.equal(fine[0], 0.5);
    assert.equal(fine.at(-1), 60_000);
    for (let i = 1; i < fine.length; i++) {
      assert.ok(fine[i]! > fine[i - 1]!, 'increasing');
      assert.ok(fine[i]! / fine[i - 1]! <= FINE_BUCKET_RATIO + 0.001, `${fine[i - 1]} → ${fine[i]}`);
    }
  });

  it('resolve a 10 % difference anywhere in the range, where Istio buckets often cannot', () => {
    let istioBlind = 0;
    for (let latency = 1; latency < 50_000; latency *= 1.37) {
      const fineRatio =
        estimatedQuantile(FINE_DURATION_BUCKETS_MS, latency * 1.1) /
        estimatedQuantile(FINE_DURATION_BUCKETS_MS, latency);
      assert.ok(fineRatio > 1.04, `${latency} ms: ×${fineRatio}`);
      const istioRatio =
        estimatedQuantile(ISTIO_DURATION_BUCKETS_MS, latency * 1.1) /
        estimatedQuantile(ISTIO_DURATION_BUCKETS_MS, latency);
      if (istioRatio === 1) istioBlind += 1;
    }
    assert.ok(istioBlind > 10, 'Istio default buckets cannot tell most 10 % differences apart');
  });

  it('export the fine buckets by default, or the buckets asked for', async () => {
    const fine = new LocalRouter({ routes: [] });
    const istio = new LocalRouter({ routes: [], durationBucketsMs: ISTIO_DURATION_BUCKETS_MS });
    for (const router of [fine, istio]) {
      router.addRoute({ service: 'svc', backends: { v1: 'http://127.0.0.1:1' } });
    }
    // A histogram series appears on the first observation: observe through the registry's metric directly.
    const observe = async (router: LocalRouter) => {
      const metric = router.registry.getSingleMetric('istio_request_duration_milliseconds') as unknown as {
        observe(labels: Record<string, string>, v: number): void;
      };
      metric.observe({ destination_version: 'v1' }, 42);
      return router.metricsText();
    };
    const fineText = await observe(fine);
    const istioText = await observe(istio);
    assert.match(fineText, /le="49.06"/);
    assert.doesNotMatch(istioText, /le="49.06"/);
    assert.match(istioText, /le="50"/);
  });
});
