import type { AppState } from '../api/store'
import { QrCode } from '../ui/qr'

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)$/

/** True when a phone on the LAN could open this host. */
export function isBeyondLoopback(host: string | undefined): boolean {
  return !!host && !LOOPBACK.test(host)
}

/** The UI's addresses on the LAN when the API is bound beyond loopback (`--ui-addr`). */
function pairingUrls(state: AppState, token: string): string[] {
  const info = state.info
  if (!info) return []
  const api = info.addresses.api
  const colon = api.lastIndexOf(':')
  const host = api.slice(0, colon).replace(/^\[|\]$/g, '')
  const port = api.slice(colon + 1)
  if (!isBeyondLoopback(host)) return []
  const hosts = host === '0.0.0.0' || host === '::' ? info.addresses.lan : [host]
  return hosts.map(
    (h) => `http://${h.includes(':') ? `[${h}]` : h}:${port}/?token=${encodeURIComponent(token)}`,
  )
}

/** A QR code of the UI's URL with its token, when a phone can reach it. */
export function PairingTab({ state, token }: { state: AppState; token: string }) {
  const urls = pairingUrls(state, token)
  const here = isBeyondLoopback(location.hostname) ? [location.href.replace(/#.*$/, '')] : []
  const targets = [...new Set([...here, ...urls])]
  if (targets.length === 0) {
    return (
      <div class="pairing" data-testid="pairing-off">
        <h2>Open this UI on your phone</h2>
        <p>
          Your peer's UI listens on this computer only (loopback), so a phone cannot reach it. To
          use it from a phone or another computer on your network, restart the peer with:
        </p>
        <pre>harddrive-party start --ui-addr 0.0.0.0:3030</pre>
        <p>
          Then open this tab again from that address: it shows a QR code with the link and its
          token. Anyone with the link controls your peer, so share it only with your own devices.
        </p>
      </div>
    )
  }
  return (
    <div class="pairing" data-testid="pairing-on">
      <h2>Scan to open on your phone</h2>
      <p>
        The code holds the link with its access token. Anyone with it controls your peer: show it to
        your own devices only.
      </p>
      {targets.map((u) => (
        <figure key={u}>
          <QrCode text={u} label={`QR code for ${u}`} />
          <figcaption>
            <code>{u.replace(/token=[^&]+/, 'token=…')}</code>
          </figcaption>
        </figure>
      ))}
    </div>
  )
}
