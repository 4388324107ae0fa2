// Child process of bench/query.ts: opens a store and serves ls and search queries, then prints
// latencies and its peak RSS as one JSON line. With `--empty` it only opens an empty store
// (the baseline RSS of a Node process with the store loaded). Plain JavaScript on the built
// package, run by plain `node`, so the memory figures are what a user's process would use
// (tsx alone adds ~45 MB).
import { readFileSync } from 'node:fs'
import { openIndexStore } from '../dist/index.js'

const [dbPath, mode, termsJson] = process.argv.slice(2)
const store = await openIndexStore({ path: dbPath, scanThreads: 0 })
const out = {}
if (mode !== '--empty') {
  const terms = JSON.parse(termsJson)
  const lsFull = []
  const lsPage = []
  for (let i = 0; i < 60; i++) {
    let t = performance.now()
    let n = 0
    for await (const _ of store.ls('library/big-dir')) n++
    lsFull.push(performance.now() - t)
    if (n !== 10_000) throw new Error(`ls gave ${n}`)
    t = performance.now()
    await store.ls('library/big-dir', { limit: 1000 }).page()
    lsPage.push(performance.now() - t)
  }
  const search = []
  for (let round = 0; round < 3; round++) {
    for (const { kind, term } of terms) {
      const t = performance.now()
      let hits = 0
      for await (const _ of store.search(term, { limit: 1000 })) hits++
      search.push({ kind, ms: performance.now() - t, hits })
    }
  }
  Object.assign(out, {
    lsFull: lsFull.slice(10),
    lsPage: lsPage.slice(10),
    search: search.slice(terms.length),
  })
}
const status = readFileSync('/proc/self/status', 'utf8')
const kb = (field) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024
Object.assign(out, { peakRssMb: kb('VmHWM'), rssAnonMb: kb('RssAnon'), rssFileMb: kb('RssFile') })
await store.close()
process.stdout.write(`${JSON.stringify(out)}\n`)
