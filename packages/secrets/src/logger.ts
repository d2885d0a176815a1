/** The part of pino this package uses. Callers pass their pino logger (or a child); fields are never values. */
export interface SecretsLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export const silentLogger: SecretsLogger = {
  debug() {},
  warn() {},
};
