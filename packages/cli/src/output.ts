/** Where a command writes; lines get their newline here so commands never forget it. */
export interface Output {
  line(text?: string): void;
  error(text: string): void;
}

export interface OutputStreams {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export function createOutput(streams: OutputStreams): Output {
  return {
    line: (text = '') => streams.stdout(`${text}\n`),
    error: (text) => streams.stderr(`${text}\n`),
  };
}

/** Left-aligned columns separated by two spaces; the last column is not padded (no trailing spaces). */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [render(headers), ...rows.map(render)].join('\n');
}

/** Compact JSON for one-line display of values and targeting rules. */
export function compactJson(value: unknown): string {
  return value === undefined ? '(none)' : JSON.stringify(value);
}

export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
