import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './http-client.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * `parseArgs` in strict mode with `--help` added; its errors (unknown option, missing value) become usage errors
 * that point at the command's help.
 */
export function parseCommandArgs<const O extends OptionsConfig>(
  args: string[],
  options: O,
  command: string,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: O & typeof HELP_OPTION; allowPositionals: true; strict: true }>
> {
  try {
    return parseArgs({ args, options: { ...options, ...HELP_OPTION }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nRun "rctl ${command} --help" for usage.`);
  }
}

export function requireValue(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value === '') {
    throw new UsageError(`missing ${flag}\nRun "rctl ${command} --help" for usage.`);
  }
  return value;
}

export function requirePositional(
  positionals: readonly string[],
  index: number,
  name: string,
  command: string,
): string {
  const value = positionals[index];
  if (value === undefined || value === '') {
    throw new UsageError(`missing ${name}\nRun "rctl ${command} --help" for usage.`);
  }
  return value;
}

export function rejectExtraPositionals(positionals: readonly string[], expected: number, command: string): void {
  if (positionals.length > expected) {
    throw new UsageError(`unexpected argument "${positionals[expected]}"\nRun "rctl ${command} --help" for usage.`);
  }
}
