#!/usr/bin/env node
// The command's entry: sets the size of libuv's thread pool, then loads the CLI (an ES module).
// The pool is sized once, when it is first used, and loading an ES module entry already uses
// it; so this file is CommonJS, read synchronously. Downloads of many small files fsync each
// part in batches (packages/peer-node/src/downloads/durable-batch.ts): with the default 4
// threads the fsyncs of a batch wait their turn behind each other and behind LMDB's commits
// (10,000 files of 4 KiB: 552 files/s with 4 threads, 2,724 with 16; docs/peer-node.md).
// A value set by the user is kept.
process.env.UV_THREADPOOL_SIZE ??= '16'
import('../dist/cli.js').catch((err) => {
  process.stderr.write(`harddrive-party: ${err?.stack ?? err}\n`)
  process.exit(1)
})
