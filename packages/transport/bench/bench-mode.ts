// A benchmark mode may carry environment settings, for an A/B run of one switch in the same
// run: `tcp+NAME=value+OTHER=value` runs mode `tcp` with those variables set for both ends.

/** The mode's name and the environment settings it carries. */
export function parseMode(modeWithEnv: string): { mode: string; settings: Record<string, string> } {
  const [mode = '', ...pairs] = modeWithEnv.split('+')
  return { mode, settings: Object.fromEntries(pairs.map((kv) => kv.split('=', 2))) }
}

/** The mode's label for a table row, followed by its settings as written. */
export function modeLabel(modeWithEnv: string, labels: Record<string, string>): string {
  const [mode = '', ...pairs] = modeWithEnv.split('+')
  return [labels[mode] ?? mode, ...pairs].join(' ')
}
