import { type ApiRequest, decodeApiRequestJson } from '@harddrive-party/wire-protocol'
import type { WebSocket } from 'ws'
import type { PeerNodeLogger } from '../logger'
import { type CommandContext, listCommand, runCommand } from './api-commands'
import { ApiError, publicMessage, toApiError } from './api-error'
import type { EventsHub } from './api-events-hub'

/** Commands one socket may have running at once; more are answered `BUSY`. */
const MAX_RUNNING_PER_SOCKET = 16

/**
 * A controller's WebSocket: events go out to it; it may also send commands as JSON
 * `{ id, command }` text frames, answered with `result` (several for `ls`), then `end`, or one
 * `error`. A frame that is not a valid request gets `error` with `id: 0` and changes nothing.
 */
export function answerSocket(
  socket: WebSocket,
  hub: EventsHub,
  context: () => CommandContext,
  log: PeerNodeLogger,
): void {
  hub.add(socket)
  let running = 0
  socket.on('message', (data, isBinary) => {
    let request: ApiRequest
    try {
      if (isBinary) throw new TypeError('binary frames are not requests')
      request = decodeApiRequestJson(JSON.parse(String(data)))
    } catch (err) {
      const e =
        err instanceof SyntaxError || err instanceof TypeError
          ? new ApiError('BAD_REQUEST', err.message)
          : toApiError(err)
      hub.send(socket, { type: 'error', id: 0, code: e.code, message: publicMessage(e) })
      return
    }
    if (running >= MAX_RUNNING_PER_SOCKET) {
      hub.send(socket, {
        type: 'error',
        id: request.id,
        code: 'BUSY',
        message: 'too many commands running',
      })
      return
    }
    running++
    void run(request)
      .catch((err: unknown) => {
        const e = toApiError(err, log)
        hub.send(socket, { type: 'error', id: request.id, code: e.code, message: publicMessage(e) })
      })
      .finally(() => {
        running--
      })
  })

  async function run({ id, command }: ApiRequest): Promise<void> {
    if (command.type === 'ls') {
      for await (const line of listCommand(command, context())) {
        hub.send(socket, { type: 'result', id, data: line })
      }
    } else {
      hub.send(socket, { type: 'result', id, data: await runCommand(command, context()) })
    }
    hub.send(socket, { type: 'end', id })
  }
}
