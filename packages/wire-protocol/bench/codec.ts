// Encode+decode cost of our messages (CBOR + validation) beside JSON.stringify/parse of the
// same objects (no validation) in the same run, so machine noise cancels out.
import {
  decodeLsResponse,
  decodePeerRequest,
  encodeFrame,
  encodePeerMessage,
  FrameDecoder,
  type PeerMessage,
} from '@harddrive-party/wire-protocol'

const read: PeerMessage = {
  type: 'read',
  path: 'films/Nosferatu (1922)/Nosferatu.mkv',
  offset: 1048576,
  expect: { size: 5_000_000_000, mtime: 1_700_000_000_000 },
}
const page: PeerMessage = {
  type: 'entries',
  entries: Array.from({ length: 1000 }, (_, i) => ({
    path: `music/Artist ${i % 50}/Album ${i % 7}/${i} - Track name.flac`,
    size: 30_000_000 + i,
    dir: false,
    mtime: 1_700_000_000_000 + i,
  })),
}

function time(label: string, n: number, fn: () => void): number {
  for (let i = 0; i < Math.min(n, 1000); i++) fn() // warm up
  const t = performance.now()
  for (let i = 0; i < n; i++) fn()
  const perSecond = n / ((performance.now() - t) / 1000)
  console.log(`${label.padEnd(44)} ${Math.round(perSecond).toLocaleString('en').padStart(12)} /s`)
  return perSecond
}

console.log('wire-protocol codec benchmark (encode + frame + decode + validate)')
const ours1 = time('read request: ours (CBOR, validated)', 200_000, () => {
  const d = new FrameDecoder()
  d.push(encodeFrame(encodePeerMessage(read)))
  decodePeerRequest(d.nextFrame()!)
})
const json1 = time('read request: JSON.stringify/parse (no checks)', 200_000, () =>
  JSON.parse(JSON.stringify(read)),
)
const ours2 = time('1000-entry ls page: ours (CBOR, validated)', 500, () =>
  decodeLsResponse(encodePeerMessage(page)),
)
const json2 = time('1000-entry ls page: JSON (no checks)', 500, () =>
  JSON.parse(JSON.stringify(page)),
)
const bytes = encodePeerMessage(page).length
console.log(
  `ratio ours/JSON: read ${(ours1 / json1).toFixed(2)}x, ls page ${(ours2 / json2).toFixed(2)}x; ls page size: CBOR ${bytes} B vs JSON ${JSON.stringify(page).length} B`,
)
