import { isIPv4 } from '@harddrive-party/wire-protocol/internal'
import { DiscoveryError } from './errors'

export function positive(value: number, name: string): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
    throw new DiscoveryError('INVALID_OPTIONS', `${name} must be a positive number`)
  }
  return value
}

export function ipv4(value: unknown, name: string): string {
  if (typeof value !== 'string' || !isIPv4(value)) {
    throw new DiscoveryError(
      'INVALID_OPTIONS',
      `${name} must be an IPv4 address, got ${String(value)}`,
    )
  }
  return value
}

export function udpPort(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new DiscoveryError('INVALID_OPTIONS', `${name} must be 1..65535, got ${String(value)}`)
  }
  return value
}
