import { useEffect, useState } from 'preact/hooks'
import type { AppState, Store } from '../api/store'

/** Re-renders the caller on each (frame-batched) store change. */
export function useAppState(store: Store): AppState {
  const [state, setState] = useState(store.state)
  useEffect(() => store.subscribe(() => setState(store.state)), [store])
  return state
}
