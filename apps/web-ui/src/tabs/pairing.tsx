import { QrCode } from '../ui/qr'

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)$/

/** True when a phone on the LAN could open this host. */
export function isBeyondLoopback(host: string | undefined): boolean {
  return !!host && !LOOPBACK.test(host)
}

/**
 * A QR code of the UI's URL with its token. It is shown when this page was opened at an address
 * beyond loopback, which the peer only answers when started with `--ui-addr` (its Host check
 * refuses the rest); the API does not report the machine's LAN addresses, so the page's own
 * address is the one a phone can use.
 */
export function PairingTab({ token }: { token: string }) {
  if (!isBeyondLoopback(location.hostname)) {
    return (
      <div class="pairing" data-testid="pairing-off">
        <h2>Open this UI on your phone</h2>
        <p>
          This page is open at a loopback address ({location.host}), which a phone cannot reach. To
          use the UI from a phone or another computer on your network, start the peer with:
        </p>
        <pre>harddrive-party start --ui-addr 0.0.0.0:3030</pre>
        <p>
          Then open this page at this computer's network address (for example
          <code> http://192.168.1.20:3030/?token=…</code>): this tab shows a QR code with that link
          and its token. Anyone with the link controls your peer, so show it to your own devices
          only.
        </p>
      </div>
    )
  }
  const url = `${location.origin}/?token=${encodeURIComponent(token)}`
  return (
    <div class="pairing" data-testid="pairing-on">
      <h2>Scan to open on your phone</h2>
      <p>
        The code holds the link with its access token. Anyone with it controls your peer: show it to
        your own devices only. The phone must be on the same network.
      </p>
      <figure>
        <QrCode text={url} label={`QR code for ${location.origin}`} />
        <figcaption>
          <code>{location.origin}/?token=…</code>
        </figcaption>
      </figure>
    </div>
  )
}
