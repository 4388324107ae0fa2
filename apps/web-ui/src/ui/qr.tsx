import { renderSVG } from 'uqr'

/** A QR code as inline SVG (uqr draws it; nothing leaves the page). */
export function QrCode({ text, label }: { text: string; label: string }) {
  const svg = renderSVG(text, { border: 2 })
  return <div class="qr" role="img" aria-label={label} dangerouslySetInnerHTML={{ __html: svg }} />
}
