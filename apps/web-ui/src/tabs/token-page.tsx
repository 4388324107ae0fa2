/** Shown instead of the app when the URL has no token or the peer refuses it. */
export function TokenPage({ reason }: { reason: 'missing' | 'wrong' }) {
  return (
    <main class="token-page" data-testid="token-page">
      <h1>
        {reason === 'missing'
          ? 'This link has no access token'
          : 'This access token is not accepted'}
      </h1>
      <p>
        {reason === 'missing'
          ? 'The web UI of a harddrive-party peer only opens with the token that the peer created.'
          : 'The peer refused the token in this link. It may be from an older link, or mistyped.'}
      </p>
      <p>Open the full link that the peer printed when it started, for example:</p>
      <pre>http://localhost:3030/?token=…</pre>
      <p>
        On the machine running the peer, <code>harddrive-party start</code> prints it again. The
        token is also in the file <code>api-token</code> of the peer's storage folder.
      </p>
    </main>
  )
}
