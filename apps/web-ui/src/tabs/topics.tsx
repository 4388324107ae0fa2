import type { AppState, Store } from '../api/store'

/** Topics we joined, and which peers each one brought us. */
export function TopicsTab({ store, state }: { store: Store; state: AppState }) {
  const join = (e: Event) => {
    e.preventDefault()
    const form = e.target as HTMLFormElement
    const topic = String(new FormData(form).get('topic') ?? '').trim()
    if (!topic) return
    store.api
      .call('join', { topic })
      .then((r) => {
        form.reset()
        store.update({ topics: r.topics })
      })
      .catch((err) => store.report(err))
  }
  const leave = (topic: string) =>
    store.api
      .call('leave', { topic })
      .then((r) => store.update({ topics: r.topics }))
      .catch((err) => store.report(err))
  const peers = [...state.peers.values()]
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
        {state.topics.length === 0 ? <li class="muted">No topics joined.</li> : null}
        {state.topics.map((t) => {
          const here = peers.filter((p) => p.topics.includes(t) || p.connection?.topic === t)
          return (
            <li key={t} class="card" data-topic={t}>
              <div>
                <strong>{t}</strong>
                <div class="muted small-text">
                  {here.length === 0
                    ? 'no peers from this topic yet'
                    : here.map((p) => `${p.name}${p.connected ? '' : ' (offline)'}`).join(', ')}
                </div>
              </div>
              <button type="button" onClick={() => void leave(t)}>
                Leave
              </button>
            </li>
          )
        })}
      </ul>
    </div>
  )
}
