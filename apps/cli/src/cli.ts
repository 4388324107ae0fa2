// No ANSI colours unless a person reads stdout at a terminal. Set before citty loads: it decides
// once, from NO_COLOR, when its module is evaluated.
if (!process.stdout.isTTY || process.env.NO_COLOR) process.env.NO_COLOR = '1'
if (process.env.HDP_LOG === 'debug')
  process.env.DEBUG = [process.env.DEBUG, 'hdp:*'].filter(Boolean).join(',')
// `hdp ... | head` closes stdout early: that is the reader's choice, not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})
await import('./run')

export {}
