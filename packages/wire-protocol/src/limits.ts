/** Largest control frame (CBOR message) accepted on a peer stream by default. */
export const MAX_CONTROL_FRAME_BYTES = 1024 * 1024
/**
 * Deepest nesting of CBOR arrays and maps accepted from the network. Our deepest message is
 * 3 levels (an announcement's address, an ls entry); API results carry a few more. 16 leaves room
 * to grow, and keeps every recursive walker (cbor-x's decoder, validators, the UI's renderers)
 * shallow: without it a 1 MiB frame of 0x81 bytes is a million levels.
 */
export const MAX_CBOR_DEPTH = 16
/** Largest path accepted from the network, in UTF-8 bytes. */
export const MAX_PATH_BYTES = 4096
/** Largest single path segment (file or directory name), in UTF-8 bytes. Linux NAME_MAX. */
export const MAX_SEGMENT_BYTES = 255
/** Largest search term, in UTF-8 bytes. */
export const MAX_SEARCH_BYTES = 256
/** Most entries a peer may ask for in one `ls` page, and the default page size. */
export const MAX_LS_LIMIT = 10_000
export const DEFAULT_LS_LIMIT = 1000
/** Largest opaque `ls` cursor, in bytes. */
export const MAX_CURSOR_BYTES = 8192
/** Largest error message carried on the wire, in characters. */
export const MAX_ERROR_MESSAGE_CHARS = 1024
/** Largest sealed announcement, in bytes. */
export const MAX_ANNOUNCEMENT_BYTES = 4096
/** Most addresses one announcement may list. */
export const MAX_ANNOUNCED_ADDRESSES = 16
/** Largest host string (an IPv4/IPv6 literal or a DNS name). */
export const MAX_HOST_CHARS = 253
/** Largest free-form text field (agent names, topic names). */
export const MAX_TEXT_CHARS = 1024
/** Largest agent (software name) string in a hello. */
export const MAX_AGENT_CHARS = 128

/** Largest mtime (ms since the epoch) accepted on the wire: year ~37,600. */
export const MAX_MTIME = 2 ** 50
