import { PROTOCOL_MAJOR, PROTOCOL_MINOR } from '@harddrive-party/wire-protocol'

const app = document.querySelector<HTMLElement>('#app')
if (app) {
  app.textContent = `harddrive-party (protocol ${PROTOCOL_MAJOR}.${PROTOCOL_MINOR}): the web UI is not built yet.`
}
