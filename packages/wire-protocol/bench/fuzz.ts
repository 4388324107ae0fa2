import { deriveTopicKeys, isWireError } from '@harddrive-party/wire-protocol'
import { encodeCbor } from '@harddrive-party/wire-protocol/internal'
import {
  byteDecoders,
  createRng,
  HOSTILE_KEYS,
  HOSTILE_WORDS,
  hostileCbor,
  validSamples,
} from '../test/decoders'

const total = Number(process.argv[2] ?? 1_000_000)
const topic = await deriveTopicKeys('fuzz', { kdf: { N: 1024, r: 8, p: 1 } })
const decoders = Object.entries(byteDecoders(topic))
const seeds = validSamples(topic)

const rngSeed = (Number(process.env.FUZZ_SEED) || Date.now()) >>> 0 || 1
const { rand, int } = createRng(rngSeed)

function randomBytes(): Uint8Array {
  const b = new Uint8Array(int(512))
  for (let i = 0; i < b.length; i++) b[i] = int(256)
  return b
}

function mutate(): Uint8Array {
  const b = Array.from(seeds[int(seeds.length)]!)
  for (let n = 1 + int(6); n > 0; n--) {
    const i = int(b.length + 1)
    switch (int(4)) {
      case 0:
        b[i] = (b[i] ?? 0) ^ (1 << int(8))
        break
      case 1:
        b[i] = int(256)
        break
      case 2:
        b.length = i
        break
      default:
        b.splice(i, 0, int(256))
    }
  }
  return new Uint8Array(b)
}

const keys = HOSTILE_KEYS
const words = HOSTILE_WORDS
function value(depth: number): unknown {
  switch (int(depth > 2 ? 6 : 8)) {
    case 0:
      return words[int(words.length)]
    case 1:
      return int(2 ** 31) - 2 ** 30
    case 2:
      return rand() * 1e12
    case 3:
      return rand() < 0.5
    case 4:
      return null
    case 5:
      return randomBytes().subarray(0, int(70))
    case 6:
      return Array.from({ length: int(4) }, () => value(depth + 1))
    default: {
      const o: Record<string, unknown> = {}
      // defineProperty: a `__proto__` key must be a key, not a prototype.
      for (let n = int(7); n > 0; n--) {
        Object.defineProperty(o, keys[int(keys.length)]!, {
          value: value(depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        })
      }
      return o
    }
  }
}

// Kinds of input, in turn: random bytes, mutated valid messages, well-formed CBOR of any shape,
// and CBOR the protocol never sends (tags, bignums, indefinite lengths, deep nesting; issue 9.3).
function input(kind: number): Uint8Array {
  if (kind === 0) return randomBytes()
  if (kind === 1) return mutate()
  if (kind === 2) return encodeCbor(value(0))
  return hostileCbor(seeds[int(seeds.length)]!, int)
}

const counts = new Map<string, { ok: number; refused: number }>()
let slowest = { ms: 0, name: '', bytes: 0 }
const started = performance.now()
for (let i = 0; i < total; i++) {
  const bytes = input(i % 4)
  const [name, decode] = decoders[i % decoders.length]!
  const c = counts.get(name) ?? { ok: 0, refused: 0 }
  counts.set(name, c)
  const t = performance.now()
  try {
    decode(bytes)
    c.ok++
  } catch (err) {
    if (!isWireError(err)) {
      console.error(
        `FAIL: ${name} threw a non-WireError on input ${Buffer.from(bytes).toString('hex')} (FUZZ_SEED=${rngSeed})`,
      )
      console.error(err)
      process.exit(1)
    }
    c.refused++
  }
  const ms = performance.now() - t
  if (ms > slowest.ms) slowest = { ms, name, bytes: bytes.length }
}
const seconds = (performance.now() - started) / 1000

console.log(
  `wire-protocol fuzz: ${total.toLocaleString('en')} inputs in ${seconds.toFixed(1)} s = ${Math.round(total / seconds).toLocaleString('en')} inputs/s (FUZZ_SEED=${rngSeed})`,
)
console.log('decoder            accepted   refused (WireError)')
for (const [name, c] of counts)
  console.log(`${name.padEnd(18)} ${String(c.ok).padStart(8)}   ${String(c.refused).padStart(8)}`)
console.log('non-WireError exceptions: 0')
console.log(
  `slowest input: ${slowest.ms.toFixed(1)} ms (${slowest.name}, ${slowest.bytes.toLocaleString('en')} bytes)`,
)
