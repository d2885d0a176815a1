import type { JsonObject, JsonValue } from '@runtime-control/core';
import { parseCommandArgs, rejectExtraPositionals, requirePositional, requireValue } from '../args.js';
import { type CliIo, CONNECTION_OPTIONS, createAdminClient } from '../connection.js';
import { CliError, UsageError } from '../http-client.js';
import { compactJson, type Output, prettyJson } from '../output.js';

export const EVAL_HELP = `Usage: rctl eval KEY --env E [--context k=v ...] [--targeting-key K] [--json]

Evaluates one flag on the server (POST /api/admin/evaluate) and prints its value, variant and reason.

Options:
  --env E              environment to evaluate in (required)
  --context k=v        a context attribute as a string; repeat for more
  --context k:=JSON    a context attribute parsed as JSON (numbers, booleans, lists): --context age:=42
  --targeting-key K    the context's targetingKey (the user or entity being evaluated)
  --json               print the server's answer for this flag as JSON
  --url URL            server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN        admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help           show this help
`;

/**
 * Turns `--context` arguments into an evaluation context: `k=v` keeps `v` as a string, `k:=json` parses the JSON
 * (so `beta:=true` is a boolean and `age:=42` a number).
 */
export function parseContextArgs(entries: readonly string[]): JsonObject {
  const context: JsonObject = {};
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    if (equals <= 0) {
      throw new UsageError(`--context "${entry}" must look like key=value (string) or key:=json`);
    }
    const isJson = entry[equals - 1] === ':';
    const key = entry.slice(0, isJson ? equals - 1 : equals);
    if (key === '') throw new UsageError(`--context "${entry}" has an empty key`);
    const raw = entry.slice(equals + 1);
    let value: JsonValue = raw;
    if (isJson) {
      try {
        value = JSON.parse(raw) as JsonValue;
      } catch {
        throw new UsageError(
          `--context "${entry}": "${raw}" is not valid JSON (use key=value for a string, or quote JSON strings)`,
        );
      }
    }
    context[key] = value;
  }
  return context;
}

export async function runEval(args: string[], io: CliIo, out: Output): Promise<number> {
  const command = 'eval';
  const { values, positionals } = parseCommandArgs(
    args,
    {
      ...CONNECTION_OPTIONS,
      env: { type: 'string' },
      context: { type: 'string', multiple: true },
      'targeting-key': { type: 'string' },
      json: { type: 'boolean' },
    },
    command,
  );
  if (values.help) {
    out.line(EVAL_HELP.trimEnd());
    return 0;
  }
  const key = requirePositional(positionals, 0, 'KEY', command);
  rejectExtraPositionals(positionals, 1, command);
  const env = requireValue(values.env, '--env', command);
  const context = parseContextArgs(values.context ?? []);
  if (values['targeting-key'] !== undefined) context.targetingKey = values['targeting-key'];

  const result = await createAdminClient(values, io).evaluate(env, context);
  const evaluated = result.flags.find((f) => f.key === key);
  if (!evaluated) {
    throw new CliError(`FLAG_NOT_FOUND: no flag "${key}" in ${env}. List the flags with "rctl flags list".`);
  }
  if (values.json) {
    out.line(prettyJson(evaluated));
    return 0;
  }
  out.line(`${key} in ${env} (revision ${result.revision})`);
  if ('value' in evaluated) {
    out.line(`  value:   ${compactJson(evaluated.value)}`);
  } else if (evaluated.sensitive) {
    out.line('  value:   (hidden: the flag is sensitive)');
  } else {
    out.line("  value:   (none: the caller's code default applies)");
  }
  if (evaluated.variant !== undefined) out.line(`  variant: ${evaluated.variant}`);
  out.line(`  reason:  ${evaluated.reason}`);
  if (evaluated.errorCode) out.line(`  error:   ${evaluated.errorCode}`);
  return 0;
}
