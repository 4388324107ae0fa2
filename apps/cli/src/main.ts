import { defineCommand } from 'citty'

export const main = defineCommand({
  meta: {
    name: 'harddrive-party',
    version: '0.1.0',
    description:
      'Peer-to-peer file sharing: pick a topic, share a directory, download from everyone on it',
  },
  subCommands: {
    start: () => import('./commands/start').then((m) => m.start),
    info: () => import('./commands/client').then((m) => m.info),
    join: () => import('./commands/client').then((m) => m.join),
    leave: () => import('./commands/client').then((m) => m.leave),
    topics: () => import('./commands/client').then((m) => m.topics),
    peers: () => import('./commands/client').then((m) => m.peers),
    doctor: () => import('./commands/client').then((m) => m.doctor),
    ls: () => import('./commands/client').then((m) => m.ls),
    search: () => import('./commands/client').then((m) => m.search),
    read: () => import('./commands/client').then((m) => m.read),
    shares: () => import('./commands/shares').then((m) => m.shares),
    download: () => import('./commands/download').then((m) => m.download),
    queue: () => import('./commands/downloads').then((m) => m.queue),
    pause: () => import('./commands/downloads').then((m) => m.pause),
    resume: () => import('./commands/downloads').then((m) => m.resume),
    cancel: () => import('./commands/downloads').then((m) => m.cancel),
    stop: () => import('./commands/client').then((m) => m.stop),
  },
})
