/** A random high UDP port for one test's mDNS group (not 5353: tests must not meet real mDNS). */
export function randomMdnsPort(): number {
  return 20_000 + Math.floor(Math.random() * 30_000)
}
