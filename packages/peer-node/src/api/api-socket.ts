import type { Logger } from '@harddrive-party/wire-protocol'
import { type ApiRequest, decodeApiRequestJson } from '@harddrive-party/wire-protocol'
import type { WebSocket } from 'ws'
import { type CommandContext, listCommand, runCommand } from './api-commands'
import { ApiError, publicMessage, toApiError } from './api-error'
import type { EventsHub } from './api-events-hub'

/** Commands one socket may have running at once; more are answered `BUSY`. */
const MAX_RUNNING_PER_SOCKET = 16

/**
 * A controller's WebSocket: events go out to it; it may also send commands as JSON
 * `{ id, command }` text frames, answered with `result` (several for `ls`), then `end`, or one
 * `error`. A frame that is not a valid request gets `error` (with its `id` when that much is valid, else
 * 0) and changes nothing.
 */
export function answerSocket(
  socket: WebSocket,
  hub: EventsHub,
  context: () => CommandContext,
  log: Logger,
): void {
  hub.add(socket)
  let running = 0
  socket.on('message', (data, isBinary) => {
    let request: ApiRequest
    let id = 0
    try {
      if (isBinary) throw new TypeError('binary frames are not requests')
      const value: unknown = JSON.parse(String(data))
      id = idOf(value)
      request = decodeApiRequestJson(value)
    } catch (err) {
      const e =
        err instanceof SyntaxError || err instanceof TypeError
          ? new ApiError('BAD_REQUEST', err.message)
          : toApiError(err)
      hub.send(socket, { type: 'error', id, code: e.code, message: publicMessage(e) })
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

/** The request's id when it is a valid one (so a bad command's error names it), else 0. */
function idOf(value: unknown): number {
  const id = (value as { id?: unknown } | null)?.id
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 2 ** 32 - 1 ? id : 0
}
