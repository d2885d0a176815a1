import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type Client,
  ErrorCode,
  type EvaluationContext,
  type EvaluationDetails,
  type JsonValue,
  OpenFeature,
  StandardResolutionReasons,
} from '@openfeature/server-sdk';
import type { ClientFeaturesResponse, Unleash } from 'unleash-client';
import { localDeltaUnleash, offlineUnleash } from './testing/offline-unleash.js';
import { UnleashProvider } from './unleash-provider.js';

/**
 * Unleash's client specification (@unleash/client-specification) run through UnleashProvider and the OpenFeature
 * client: each spec file's state bootstraps an offline unleash-client, and every expectation is checked against
 * what an application would see through OpenFeature.
 *
 * Two files (19-delta-api-hydration, 20-delta-api-events) hold their state as delta events, which bootstrap cannot
 * take: those are served once from a loopback HTTP server to a client in delta-polling mode instead. No file is
 * excluded; the test fails if any file or case stops running.
 */

interface SpecContext {
  userId?: string;
  sessionId?: string;
  remoteAddress?: string;
  environment?: string;
  appName?: string;
  currentTime?: string;
  properties?: Record<string, string>;
}

interface VariantExpectation {
  name: string;
  enabled: boolean;
  feature_enabled?: boolean;
  payload?: { type: string; value: string };
}

interface SpecFile {
  name: string;
  state: Pick<ClientFeaturesResponse, 'features' | 'segments'> & { events?: unknown[] };
  tests?: { description: string; context: SpecContext; toggleName: string; expectedResult: boolean }[];
  variantTests?: {
    description: string;
    context: SpecContext;
    toggleName: string;
    expectedResult: VariantExpectation;
  }[];
}

const require = createRequire(import.meta.url);
const specDir = join(dirname(require.resolve('@unleash/client-specification/package.json')), 'specifications');
const specFiles = (JSON.parse(readFileSync(join(specDir, 'index.json'), 'utf8')) as string[]).map((file) => ({
  file,
  spec: JSON.parse(readFileSync(join(specDir, file), 'utf8')) as SpecFile,
}));

/** An Unleash spec context as an application would pass it to OpenFeature: userId is the targeting key. */
function toEvaluationContext(context: SpecContext): EvaluationContext {
  const { userId, properties, ...topLevel } = context;
  const result: EvaluationContext = { ...properties };
  for (const [key, value] of Object.entries(topLevel)) if (value !== undefined) result[key] = value;
  if (userId !== undefined) result.targetingKey = userId;
  return result;
}

const counts = { files: 0, booleanCases: 0, variantCases: 0 };

const expectedCounts = {
  files: specFiles.length,
  booleanCases: specFiles.reduce((n, { spec }) => n + (spec.tests?.length ?? 0), 0),
  variantCases: specFiles.reduce((n, { spec }) => n + (spec.variantTests?.length ?? 0), 0),
};

for (const { file, spec } of specFiles) {
  describe(`client-specification ${file}`, () => {
    let unleash: Unleash;
    let closeUnleash: () => Promise<void>;
    let provider: UnleashProvider;
    let client: Client;
    const domain = `spec-${file}`;

    before(async () => {
      if (spec.state.events) {
        const served = await localDeltaUnleash(spec.state);
        unleash = served.unleash;
        closeUnleash = served.close;
      } else {
        unleash = offlineUnleash(spec.state);
        // The provider never destroys a client it was given.
        closeUnleash = async () => unleash.destroy();
      }
      provider = new UnleashProvider({ client: unleash });
      await OpenFeature.setProviderAndWait(domain, provider);
      client = OpenFeature.getClient(domain);
      counts.files++;
    });

    after(() => closeUnleash());

    for (const test of spec.tests ?? []) {
      it(`isEnabled: ${test.description}`, async () => {
        const context = toEvaluationContext(test.context);
        const details = await client.getBooleanDetails(test.toggleName, false, context);
        assert.equal(details.value, test.expectedResult);
        // A flag that exists and is switched on must answer from its strategies, whatever the caller's default.
        if (unleash.getFeatureToggleDefinition(test.toggleName)?.enabled) {
          const inverted = await client.getBooleanDetails(test.toggleName, true, context);
          assert.equal(inverted.value, test.expectedResult, 'with default true');
          assert.equal(inverted.reason, StandardResolutionReasons.TARGETING_MATCH);
        }
        counts.booleanCases++;
      });
    }

    for (const test of spec.variantTests ?? []) {
      it(`getVariant: ${test.description}`, async () => {
        const context = toEvaluationContext(test.context);
        const expected = test.expectedResult;
        if (!expected.enabled) {
          const details = await client.getStringDetails(test.toggleName, 'code-default', context);
          assert.equal(details.value, 'code-default');
          assert.equal(details.variant, undefined);
          const definition = unleash.getFeatureToggleDefinition(test.toggleName);
          const reason = !definition
            ? StandardResolutionReasons.ERROR
            : definition.enabled
              ? StandardResolutionReasons.DEFAULT
              : StandardResolutionReasons.DISABLED;
          assert.equal(details.reason, reason);
        } else {
          // The variant name, straight from the provider (OpenFeature drops it from error results).
          const resolved = await provider.resolveStringEvaluation(test.toggleName, 'code-default', context);
          assert.equal(resolved.variant, expected.name);
          assertPayload(await evaluateForPayload(client, test.toggleName, expected, context), expected);
        }
        counts.variantCases++;
      });
    }
  });
}

/** Evaluates with the OpenFeature type that fits the expected payload (string when there is none). */
function evaluateForPayload(
  client: Client,
  flagKey: string,
  expected: VariantExpectation,
  context: EvaluationContext,
): Promise<EvaluationDetails<JsonValue>> {
  switch (expected.payload?.type) {
    case 'number':
      return client.getNumberDetails(flagKey, -1, context);
    case 'json':
      return client.getObjectDetails(flagKey, {}, context);
    default:
      return client.getStringDetails(flagKey, 'code-default', context);
  }
}

function assertPayload(details: EvaluationDetails<JsonValue>, expected: VariantExpectation): void {
  const payload = expected.payload;
  if (!payload) {
    // A variant without a payload has no typed value: the default, with TYPE_MISMATCH.
    assert.equal(details.errorCode, ErrorCode.TYPE_MISMATCH);
    assert.equal(details.value, 'code-default');
    return;
  }
  assert.equal(details.errorCode, undefined, details.errorMessage);
  assert.equal(details.variant, expected.name);
  assert.equal(details.reason, StandardResolutionReasons.SPLIT);
  if (payload.type === 'number') assert.equal(details.value, Number(payload.value));
  else if (payload.type === 'json') assert.deepEqual(details.value, JSON.parse(payload.value));
  else assert.equal(details.value, payload.value);
}

after(async () => {
  await OpenFeature.clearProviders();
  // A count that drops means cases silently stopped running.
  assert.deepEqual(counts, expectedCounts);
  process.stderr.write(
    `# client-specification: ${counts.files} files, ${counts.booleanCases} isEnabled + ${counts.variantCases} getVariant cases through UnleashProvider\n`,
  );
});
