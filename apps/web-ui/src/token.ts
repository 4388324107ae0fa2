/**
 * The token comes in the URL the peer printed (`?token=…`). It stays there so that a reload
 * and the pairing QR code keep working; it is never written to storage.
 */
export function readToken(href: string): string | undefined {
  const url = new URL(href)
  const fromQuery = url.searchParams.get('token')
  if (fromQuery) return fromQuery
  const fromHash = new URLSearchParams(url.hash.replace(/^#/, '')).get('token')
  return fromHash || undefined
}
