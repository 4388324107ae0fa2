import { WireError } from './errors'

/** True for a dotted-quad IPv4 literal such as `10.0.0.2`. */
export function isIPv4(host: string): boolean {
  const parts = host.split('.')
  return (
    parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)
  )
}

/** True for an IPv6 literal (no brackets, no zone id), including `::ffff:1.2.3.4` forms. */
export function isIPv6(host: string): boolean {
  if (host.length < 2 || host.length > 45 || !/^[0-9a-fA-F:.]+$/.test(host)) return false
  const halves = host.split('::')
  if (halves.length > 2) return false
  const groupsOf = (part: string): string[] | undefined => {
    if (part === '') return []
    const groups = part.split(':')
    return groups.every((g) => g !== '') ? groups : undefined
  }
  const head = groupsOf(halves[0]!)
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : []
  if (head === undefined || tail === undefined) return false
  const all = [...head, ...tail]
  let count = all.length
  const last = all[all.length - 1]
  if (last?.includes('.')) {
    if (!isIPv4(last)) return false
    all.pop()
    count += 1 // an embedded IPv4 address fills two groups
  }
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false
  return halves.length === 2 ? count < 8 : count === 8
}

/** Checks that `host` is an IP literal, returns it; throws `BAD_FIELD`. */
export function validateHost(host: unknown, what = 'host'): string {
  if (typeof host !== 'string' || !(isIPv4(host) || isIPv6(host))) {
    throw new WireError('BAD_FIELD', `${what} must be an IPv4 or IPv6 literal`)
  }
  return host
}
