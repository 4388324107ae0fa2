/** Printed under each command's `--help` (by its name; `add`/`remove` are `shares`'s). */
export const EXAMPLES: Record<string, string> = {
  'harddrive-party':
    '  hdp start --topic "our movie night" --share-dir ~/Videos\n  hdp start --help',
  start:
    '  hdp start --topic "our movie night" --share-dir ~/Videos --share-dir /srv/music\n' +
    '  hdp start                      # again later: the same topics and shares\n' +
    '  hdp start --no-mqtt            # LAN only (mDNS), no broker\n' +
    "  hdp start --embedded-broker 1883 --topic club   # be the group's broker",
  info: '  hdp info\n  hdp info --json --storage /srv/hdp',
  join: '  hdp join "our movie night"',
  leave: '  hdp leave "our movie night"',
  topics: '  hdp topics',
  peers: '  hdp peers\n  hdp peers --json | jq ".peers[].name"',
  doctor: '  hdp doctor                     # why a friend does not show up',
  ls:
    "  hdp ls                         # every connected peer's shares\n" +
    '  hdp ls BriefOtter/films -r     # everything below a directory',
  search: '  hdp search "come together"\n  hdp search noir --peer BriefOtter --json',
  read:
    '  hdp read BriefOtter/films/a.mkv --start 0 --end 1024 > head.bin\n' +
    '  hdp read BriefOtter/notes/todo.txt | less',
  shares: '  hdp shares\n  hdp shares add ~/Music\n  hdp shares remove Music',
  add: '  hdp shares add ~/Music',
  remove: '  hdp shares remove Music      # the name hdp shares prints',
  download:
    '  hdp download BriefOtter/films/noir              # a folder, waiting with a progress bar\n' +
    '  hdp download BriefOtter/films/a.mkv --detach    # only queue it; hdp queue follows it\n' +
    '  hdp download BriefOtter/films/noir --json       # one JSON document at the end, for scripts',
  queue: '  hdp queue\n  hdp queue --json',
  pause: '  hdp pause 4f1c…                # an id from hdp queue',
  resume: '  hdp resume 4f1c…               # also retries its failed files',
  cancel: '  hdp cancel 4f1c…               # finished files stay',
  stop: '  hdp stop\n  hdp stop --storage /srv/hdp',
}
