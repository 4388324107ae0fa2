import { afterEach, describe, expect, it } from 'vitest'
import { testStore } from './helpers'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('topics', () => {
  it('remembers joined and left topics across a restart', async () => {
    const { store, close } = await testStore()
    cleanups.push(close)
    await store.topics.join('movie night')
    await store.topics.join('book club')
    await store.topics.leave('movie night')
    await store.stop()
    await store.start()
    expect(store.topics.list().map(({ name, joined }) => ({ name, joined }))).toEqual([
      { name: 'book club', joined: true },
      { name: 'movie night', joined: false },
    ])
    expect(store.topics.get('book club')?.updatedAt).toBeGreaterThan(0)
    expect(await store.topics.remove('book club')).toBe(true)
    expect(await store.topics.remove('book club')).toBe(false)
    expect(store.topics.list().map((t) => t.name)).toEqual(['movie night'])
  })

  it('refuses names the wire refuses', async () => {
    const { store, close } = await testStore()
    cleanups.push(close)
    await expect(store.topics.join('')).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    await expect(store.topics.join('a\nb')).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    await expect(store.topics.join('x'.repeat(2000))).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })
})
