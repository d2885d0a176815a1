import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { createMetrics, EvaluationCounts, HTTP_DURATION_BUCKETS, RequestDurations } from './metrics.js';

// The fast recorders must be invisible to Prometheus: the same observations give the same exposition as
// prom-client's own Histogram and Counter.
describe('server metrics fast paths', () => {
  it('RequestDurations exposes exactly what a prom-client Histogram exposes for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new RequestDurations(HTTP_DURATION_BUCKETS, ours);
    const reference = new Histogram({
      name: 'rc_http_request_duration_seconds',
      help: 'HTTP request latency by route template and status code.',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_DURATION_BUCKETS,
      registers: [theirs],
    });
    const routes = ['/ofrep/v1/evaluate/flags/:key', '/ofrep/v1/evaluate/flags', 'unmatched'];
    const recorders = new Map(routes.map((r) => [r, fast.routeRecorder(r)]));
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 2000; i++) {
      const labels = {
        method: i % 5 === 0 ? 'GET' : 'POST',
        route: routes[i % routes.length]!,
        status: String([200, 304, 400, 404][i % 4]),
      };
      // Spread over every bucket, the exact bounds and beyond the last one.
      const seconds = i % 97 === 0 ? HTTP_DURATION_BUCKETS[i % HTTP_DURATION_BUCKETS.length]! : random() ** 4 * 8;
      if (i % 3 === 0) fast.record(labels.method, labels.route, labels.status, seconds);
      else if (i % 3 === 1) fast.observe(labels, seconds);
      else recorders.get(labels.route)!(labels.method, Number(labels.status), seconds);
      reference.observe(labels, seconds);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
    assert.throws(() => fast.record('GET', '/', '200', Number.NaN), TypeError);
    assert.throws(() => recorders.get('unmatched')!('GET', 200, Number.NaN), TypeError);
    ours.resetMetrics();
    theirs.resetMetrics();
    assert.equal(await ours.metrics(), await theirs.metrics());
    // A route recorder keeps recording after a reset, into series the exposition shows.
    recorders.get('unmatched')!('GET', 404, 0.002);
    reference.observe({ method: 'GET', route: 'unmatched', status: '404' }, 0.002);
    assert.equal(await ours.metrics(), await theirs.metrics());
  });

  it('EvaluationCounts hands its counts to the counter whenever it is read', async () => {
    const registry = new Registry();
    let counts: EvaluationCounts | undefined;
    const counter = new Counter({
      name: 'c_total',
      help: 'c',
      labelNames: ['environment', 'flag', 'variant', 'reason'],
      registers: [registry],
      collect: () => counts?.flush(),
    });
    counts = new EvaluationCounts(counter);
    counts.inc('production', 'a', 'on', 'STATIC');
    counts.inc('production', 'a', 'on', 'STATIC');
    counts.inc('staging', 'a', '', 'DISABLED');
    const read = async () =>
      Object.fromEntries((await counter.get()).values.map((v) => [v.labels.environment, v.value]));
    assert.deepEqual(await read(), { production: 2, staging: 1 });
    counts.inc('production', 'a', 'on', 'STATIC');
    assert.match(
      await registry.metrics(),
      /c_total\{environment="production",flag="a",variant="on",reason="STATIC"\} 3/,
    );
    assert.deepEqual(await read(), { production: 3, staging: 1 });
  });

  it('createMetrics wires the evaluation counts to rc_flag_evaluations_total', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.evaluationCounts.inc('production', 'f', 'v', 'TARGETING_MATCH');
    m.evaluations.inc({ environment: 'production', flag: 'f', variant: 'v', reason: 'TARGETING_MATCH' });
    m.httpDuration.record('POST', '/ofrep/v1/evaluate/flags/:key', '200', 0.0004);
    const text = await m.registry.metrics();
    assert.match(
      text,
      /rc_flag_evaluations_total\{environment="production",flag="f",variant="v",reason="TARGETING_MATCH"\} 2/,
    );
    assert.match(
      text,
      /rc_http_request_duration_seconds_bucket\{le="0.0005",method="POST",route="\/ofrep\/v1\/evaluate\/flags\/:key",status="200"\} 1/,
    );
  });
});
