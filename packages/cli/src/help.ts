export const MAIN_HELP = `Usage: rctl <command> [options]

Runtime Control: feature flags and typed runtime config.

Commands:
  up                 start the server in this process
  seed FILE          create the flags of a flags file (idempotent; --reconcile updates differing ones)
  flags ...          list, show, enable, disable, override, roll out and revert flags
  audit              the audit log: every write with revision, time, actor and action, and each secret rotation
                     step (--flag KEY, --type secret, --json)
  eval KEY --env E   evaluate one flag for a context
  tokens ...         create, list and revoke API tokens
  clients            who is connected: each service's streams, environment, token and revision
  doctor             the runbook's troubleshooting checks, each with what it saw and the fix (exit 1 on a failure)
  canary ...         start, follow, pause, resume, promote and abort canary rollouts
  router             start the local router (weighted v1/v2 proxy with Istio metrics) in this process
  render FILE        check a platform file, write its Istio and External Secrets manifests and dashboard
                     (--out DIR; local)
  secrets check      offline checks of the platform file's secrets section, each with its fix (--file FILE)
  secrets list|show  secret bundles: state, version, age, consumers (never a value); rotate S/B rotates one
  exec               run a command with a service's secrets as env; restarted when one is rotated
  unleash status     how the Unleash bridge (webhook, event watch) is set up and doing

Options:
  --url URL          server URL (default: RC_URL, else http://127.0.0.1:4400)
  --token TOKEN      admin token (default: RC_TOKEN, else <RC_DATA_DIR or .runtime-control>/admin-token)
  -h, --help         show help (also "rctl <command> --help")
  -v, --version      show the version

Exit codes: 0 success, 1 failure, 2 usage error.
`;
