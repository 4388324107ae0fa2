import { parentPort, workerData } from 'node:worker_threads'
import { DirectoryReader, type DirJob, type DirResult, type ReaderConfig } from './read-directory'

// Entry point of a scan worker thread: reads batches of directories for the main thread.
const reader = new DirectoryReader(workerData as ReaderConfig)
const port = parentPort
if (port === null) throw new Error('scan-worker must run in a worker thread')
port.on('message', (jobs: DirJob[]) => {
  const results: DirResult[] = []
  const transfer: ArrayBuffer[] = []
  for (const job of jobs) {
    const r = reader.run(job)
    results.push(r)
    if (r.kind === 'list')
      transfer.push(r.listing.buffer as ArrayBuffer, r.names.buffer as ArrayBuffer)
  }
  port.postMessage(results, transfer)
})
// Tells the main thread this module loaded (a thread can come online and then fail to load it).
port.postMessage('ready')
