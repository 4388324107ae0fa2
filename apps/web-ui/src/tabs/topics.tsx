import type { AppState, Store } from '../api/store'

/** Topics we joined, and which peers each one brought us. */
export function TopicsTab({ store, state }: { store: Store; state: AppState }) {
  const join = (e: Event) => {
    e.preventDefault()
    const form = e.target as HTMLFormElement
    const topic = String(new FormData(form).get('topic') ?? '').trim()
    if (!topic) return
    store.api
      .request({ type: 'join', topic })
      .then(() => {
        form.reset()
        return store.refresh()
      })
      .catch((err) => store.report(err))
  }
  const leave = (topic: string) =>
    store.api
      .request({ type: 'leave', topic })
      .then(() => store.refresh())
      .catch((err) => store.report(err))
  const peers = [...state.peers.values()]
  const joined = state.topics.filter((t) => t.joined)
  return (
    <div class="topics">
      <form class="row" onSubmit={join}>
        <input
          name="topic"
          placeholder="Topic name, shared with the people you want to meet"
          aria-label="Topic name"
        />
        <button type="submit">Join</button>
      </form>
      <p class="muted">
        Everyone who joins the same topic name finds each other. Pick a name that is hard to guess.
      </p>
      <ul class="list">
        {joined.length === 0 ? <li class="muted">No topics joined.</li> : null}
        {joined.map((t) => {
          const here = peers.filter((p) => p.topics.includes(t.name))
          return (
            <li key={t.name} class="card" data-topic={t.name}>
              <div>
                <strong>{t.name}</strong>
                <div class="muted small-text">
                  {here.length === 0
                    ? 'no peers from this topic yet'
                    : here.map((p) => `${p.name}${p.connected ? '' : ' (offline)'}`).join(', ')}
                </div>
              </div>
              <button type="button" onClick={() => void leave(t.name)}>
                Leave
              </button>
            </li>
          )
        })}
      </ul>
    </div>
  )
}
