import { createTransport } from '@harddrive-party/transport'
import { transportCompliance } from '../src/testing'

// The UDX transport with both carriers, and restricted to each one, must all pass the suite.
transportCompliance('udx + tcp carriers', {
  create: (options) => createTransport({ ...options, host: '127.0.0.1' }),
})
transportCompliance('udx carrier only', {
  create: (options) => createTransport({ ...options, host: '127.0.0.1', tcp: false }),
})
