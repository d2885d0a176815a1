import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePercentage } from './commands/flags.js';
import { parsePort } from './commands/up.js';
import { cliVersion, splitCommand } from './index.js';
import { runCli } from './test-support.js';

describe('splitCommand', () => {
  it('takes the first argument as the command', () => {
    assert.deepEqual(splitCommand(['flags', 'list', '--json']), { command: 'flags', rest: ['list', '--json'] });
  });

  it('moves connection options given before the command after it', () => {
    assert.deepEqual(splitCommand(['--url', 'http://x', '--token=t', 'flags', 'list']), {
      command: 'flags',
      rest: ['list', '--url', 'http://x', '--token=t'],
    });
  });

  it('has no command for an empty argument list', () => {
    assert.deepEqual(splitCommand([]), { command: undefined, rest: [] });
  });
});

describe('option values', () => {
  it('accepts ports 0–65535 only', () => {
    assert.equal(parsePort('0'), 0);
    assert.equal(parsePort('4400'), 4400);
    for (const bad of ['-1', '65536', '44.5', 'abc', '']) assert.throws(() => parsePort(bad), /--port/);
  });

  it('accepts percentages 0–100 with at most two decimals', () => {
    assert.equal(parsePercentage('5'), 5);
    assert.equal(parsePercentage('12.5'), 12.5);
    assert.equal(parsePercentage('100'), 100);
    for (const bad of ['101', '-1', '1.234', 'ten', '']) assert.throws(() => parsePercentage(bad), /--percentage/);
  });
});

describe('main: help, version and usage errors', () => {
  it('prints help with --help and exits 0', async () => {
    const run = await runCli(['--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /Usage: rctl <command>/);
    assert.match(run.stdout, /seed FILE/);
  });

  it('prints each command group help', async () => {
    for (const argv of [
      ['seed', '--help'],
      ['flags', '--help'],
      ['eval', '--help'],
      ['tokens', '--help'],
      ['up', '--help'],
    ]) {
      const run = await runCli(argv);
      assert.equal(run.code, 0, argv.join(' '));
      assert.match(run.stdout, new RegExp(`Usage: rctl ${argv[0]}`), argv.join(' '));
    }
  });

  it('prints the package version', async () => {
    const run = await runCli(['--version']);
    assert.equal(run.code, 0);
    assert.equal(run.stdout.trim(), cliVersion());
    assert.match(run.stdout, /^\d+\.\d+\.\d+/);
  });

  it('exits 2 with help on stderr when no command is given', async () => {
    const run = await runCli([]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /Usage: rctl/);
  });

  it('exits 2 for an unknown command or subcommand', async () => {
    const unknown = await runCli(['deploy']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "deploy".*\n.*rctl --help/);
    const unknownSub = await runCli(['flags', 'explode']);
    assert.equal(unknownSub.code, 2);
    assert.match(unknownSub.stderr, /unknown command "flags explode"/);
  });

  it('exits 2 for an unknown option, naming the command help', async () => {
    const run = await runCli(['flags', 'list', '--colour']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--colour/);
    assert.match(run.stderr, /rctl flags list --help/);
  });

  it('exits 2 when a required option or argument is missing', async () => {
    const noEnv = await runCli(['flags', 'enable', 'new-ui-enabled']);
    assert.equal(noEnv.code, 2);
    assert.match(noEnv.stderr, /missing --env/);
    const noKey = await runCli(['eval', '--env', 'production']);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /missing KEY/);
    const noFile = await runCli(['seed']);
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /missing FILE/);
    const clientWithoutEnv = await runCli(['tokens', 'create', '--kind', 'client']);
    assert.equal(clientWithoutEnv.code, 2);
    assert.match(clientWithoutEnv.stderr, /--env/);
  });

  it('exits 2 for an invalid --url', async () => {
    const run = await runCli(['flags', 'list', '--url', 'not a url']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /invalid server URL/);
  });
});
