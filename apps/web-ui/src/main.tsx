import { render } from 'preact'
import { connectApi } from './api/connection'
import { Store } from './api/store'
import { App } from './app'
import { TokenPage } from './tabs/token-page'
import { readToken } from './token'
import './styles.css'

const root = document.getElementById('app')
if (root) {
  const token = readToken(location.href)
  if (!token) render(<TokenPage reason="missing" />, root)
  else {
    const store = new Store(connectApi({ origin: location.origin, token }))
    render(<App store={store} token={token} />, root)
  }
}
