/**
 * @packageDocumentation
 * Test-only building blocks for harddrive-party: network namespaces with unique names, veth
 * links, Linux NAT routers (easy/hard), a real coturn STUN server, and child processes that
 * print readiness markers. Everything is torn down by PID and name, even when a test fails.
 *
 * @example
 * ```ts
 * const support = netnsSupport()
 * it.skipIf(!support.ok)('punches', async () => {
 *   await using lab = await NatLab.create({ nats: { A: 'easy', B: 'hard' } })
 *   const a = await lab.addHost('a', 'A')
 *   const p = a.ns.spawnNode(fixture, ['--stun', `${lab.stunServers[0].host}:3478`])
 *   await p.waitForLine(/^ready/)
 * })
 * ```
 */

export type {
  EmulatorCost,
  EmulatorReport,
  LinkCounters,
  LinkDirection,
  LinkShape,
} from './link-lab'
export { buildLinkEmulator, LinkLab, linkLabSupport, udpCounters } from './link-lab'
export type { Miniupnpd, MiniupnpdOptions } from './miniupnpd'
export { hasMiniupnpd, startMiniupnpd } from './miniupnpd'
export type { LabOptions, Support } from './namespaces'
export { Lab, Namespace, netnsSupport, skipReason, spawnNode, tsNodeArgs } from './namespaces'
export type { LabHost, NatKind, NatLabOptions, NatRouter } from './nat-lab'
export { NatLab } from './nat-lab'
export type { ExitStatus, LabProcessOptions } from './process'
export { LabProcess } from './process'
export { hasCommand, run } from './run'
export type { StunEndpoint, StunServer, StunServerOptions, TurnUser } from './stun-server'
export { freeUdpPort, hasCoturn, startStunServer } from './stun-server'
