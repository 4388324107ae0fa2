import { createEmbeddedBroker, createMqttDiscovery } from '@harddrive-party/discovery'
import { discoveryCompliance } from '@harddrive-party/discovery/testing'
import { inject } from 'vitest'

// The same suite against mosquitto (a separate process) and aedes (in this process).
discoveryCompliance('MQTT through mosquitto', () => ({
  create: (peer) =>
    createMqttDiscovery({
      brokerUrl: inject('mosquittoUrl'),
      identity: peer.identity,
      getAnnouncement: peer.getAnnouncement,
    }),
}))

discoveryCompliance('MQTT through aedes', async () => {
  const broker = createEmbeddedBroker()
  await broker.start()
  return {
    create: (peer) =>
      createMqttDiscovery({
        brokerUrl: broker.url!,
        identity: peer.identity,
        getAnnouncement: peer.getAnnouncement,
      }),
    cleanup: () => broker.stop(),
  }
})
