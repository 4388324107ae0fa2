import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freeTcpPort, type Mosquitto } from '@harddrive-party/discovery/testing'
import { createApiServer } from '@harddrive-party/peer-node'
import { API_SERVED_COMMANDS } from '@harddrive-party/wire-protocol'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SEARCH_PAGE } from '../src/api/views'
import { DESKTOP, launchChromium, PHONE, screenshot } from './browser'
import { makeMedia, startUiPeer, stopUiPeer, type UiPeer, useBroker, WEB_ROOT } from './peers'

// Two real peers on loopback with their real API servers serving the built UI (dist/, built by
// the test's global setup); Chromium drives peer A's UI.
const TOPIC = 'web-ui-test-topic'
const MANY = 50_000
const STEP_MS = 120_000
// The queue commands arrive with the downloads work; until the API serves them the download
// steps cannot run (printed, not hidden).
const servesDownloads = (API_SERVED_COMMANDS as readonly string[]).includes('download')
if (!servesDownloads)
  console.warn('SKIP download steps: this control API does not serve "download" yet')
const TABS = ['peers', 'transfers', 'shares', 'topics', 'doctor', 'pairing'] as const

let broker: Mosquitto | undefined
let a: UiPeer | undefined
let b: UiPeer | undefined
let browser: Browser | undefined
let page: Page

const peerA = () => a as UiPeer
const peerB = () => b as UiPeer

async function tab(p: Page, id: (typeof TABS)[number]) {
  await p.click(`#tab-${id}`)
  await p.waitForSelector(`#tab-${id}[aria-selected="true"]`)
}

beforeAll(async () => {
  broker = await useBroker()
  // A downloads at 1 MB/s so that the 8 MB file is still arriving when the test pauses it.
  ;[a, b] = await Promise.all([
    startUiPeer(broker.url, { downloads: { limits: { bytesPerSecond: 1_000_000 } } }),
    startUiPeer(broker.url),
  ])
  browser = await launchChromium()
  const media = await makeMedia(peerB().dir, MANY)
  const t0 = Date.now()
  await peerB().api.call('add-share', { dir: media })
  console.log(`peer B shared ${MANY + 5} files in ${Date.now() - t0} ms`)
  await peerB().api.call('join', { topic: TOPIC })
  page = await browser.newPage({ viewport: DESKTOP })
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await Promise.all([stopUiPeer(a), stopUiPeer(b)])
  broker?.stop()
})

describe('web UI against two real peers', () => {
  it(
    'a missing or a wrong token shows a page that says what to do',
    async () => {
      const ctx = await (browser as Browser).newContext({ viewport: PHONE })
      const p = await ctx.newPage()
      await p.goto(peerA().server.url)
      await expect(p.textContent('body')).resolves.toContain('no access token')
      await screenshot(p, 'token-missing-phone')
      await p.goto(`${peerA().server.url}?token=${'0'.repeat(64)}`)
      await p.waitForFunction(
        () => document.body.textContent?.includes('not accepted'),
        undefined,
        {
          timeout: 10_000,
        },
      )
      await expect(p.locator('[data-testid="token-page"]').count()).resolves.toBe(1)
      await screenshot(p, 'token-wrong-phone')
      await ctx.close()
    },
    STEP_MS,
  )

  it(
    'joins a topic and sees the other peer',
    async () => {
      await page.goto(peerA().server.urlWithToken)
      await tab(page, 'topics')
      await page.fill('input[name="topic"]', TOPIC)
      await page.click('form button[type="submit"]')
      await page.waitForSelector(`[data-topic="${TOPIC}"]`)
      await tab(page, 'peers')
      const nameB = peerB().node.name
      await page.waitForSelector(`[data-peer="${nameB}"] .dot.on`, { timeout: 30_000 })
      await tab(page, 'topics')
      await page.waitForFunction(
        ([t, n]) =>
          document.querySelector(`[data-topic="${t}"]`)?.textContent?.includes(n as string),
        [TOPIC, nameB],
      )
      await screenshot(page, 'topics-desktop')
    },
    STEP_MS,
  )

  it(
    'browses the other peer lazily; a folder of 50,000 entries renders only what is in view',
    async () => {
      await tab(page, 'peers')
      await page.click(`[data-peer="${peerB().node.name}"] button`)
      await page.click('button[aria-label="Expand media"]')
      await page.waitForSelector('[data-path="media/album"]')
      const t0 = Date.now()
      await page.click('button[aria-label="Expand many"]')
      await page.waitForFunction(
        (n) => document.querySelector('.browser .toolbar')?.textContent?.includes(`${n} shown`),
        MANY + 5, // media, its album, many, large.bin and song.wav, and the 50,000
        { timeout: 60_000 },
      )
      const listedMs = Date.now() - t0
      const rendered = await page.locator('.tree li').count()
      expect(rendered).toBeLessThan(100)
      // Scroll to the end: the last file is drawn, the first is gone.
      const t1 = Date.now()
      await page.locator('.tree').evaluate((el) => {
        el.scrollTop = el.scrollHeight
      })
      await page.waitForSelector(
        `[data-path="media/many/file-${String(MANY - 1).padStart(5, '0')}.txt"]`,
      )
      console.log(
        `50,000 entries listed in ${listedMs} ms; ${rendered} rows in the DOM; scroll to end ${Date.now() - t1} ms`,
      )
      await expect(page.locator('[data-path="media/many/file-00000.txt"]').count()).resolves.toBe(0)
      await page.locator('.tree').evaluate((el) => {
        el.scrollTop = 0
      })
      await page.click('button[aria-label="Collapse many"]')
      await screenshot(page, 'peers-desktop')
    },
    STEP_MS,
  )

  it(
    'search streams results from the other peer',
    async () => {
      await page.fill('input[name="q"]', 'track')
      await page.press('input[name="q"]', 'Enter')
      await page.waitForSelector('[data-testid="search-done"]')
      await expect(page.textContent('[data-testid="search-done"]')).resolves.toContain('3 results')
      await expect(page.locator('.results li').count()).resolves.toBe(3)
      await screenshot(page, 'search-desktop')
    },
    STEP_MS,
  )

  it(
    "search pages: each peer's first page, then more from that peer on request",
    async () => {
      await page.fill('input[name="q"]', 'file-')
      await page.press('input[name="q"]', 'Enter')
      const done = page.locator('[data-testid="search-done"]')
      await done.waitFor()
      await expect(done.textContent()).resolves.toContain(`${SEARCH_PAGE} results so far`)
      const more = page.locator('[data-testid="search-more"]', {
        hasText: peerB().node.name,
      })
      await more.click()
      await page.waitForFunction(
        (n) =>
          document
            .querySelector('[data-testid="search-done"]')
            ?.textContent?.includes(`${n} results so far`),
        2 * SEARCH_PAGE,
        { timeout: 20_000 },
      )
      // The second page continues the first: no result twice.
      const paths = await page.locator('.results').evaluate(async (el) => {
        const seen = new Set<string>()
        for (let top = 0; top <= el.scrollHeight; top += el.clientHeight / 2) {
          el.scrollTop = top
          await new Promise((r) => requestAnimationFrame(r))
          for (const row of el.querySelectorAll('[data-path]'))
            seen.add(row.getAttribute('data-path') ?? '')
        }
        el.scrollTop = 0
        return seen.size
      })
      expect(paths).toBe(2 * SEARCH_PAGE)
      await screenshot(page, 'search-more-desktop')
    },
    STEP_MS,
  )

  it.skipIf(!servesDownloads)(
    'downloads a folder to 100 %, pauses and resumes a file, plays a finished one',
    async () => {
      await page.click('button[aria-label="Download album"]')
      await page.click('button[aria-label="Download large.bin"]')
      await page.click('button[aria-label="Download song.wav"]')
      // Queued and downloaded show in the tree at a glance.
      await page.waitForSelector('[data-path="media/album"] .status')
      await tab(page, 'transfers')
      const large = page.locator('.transfer[data-path="media/large.bin"]')
      await large.locator('button', { hasText: 'Pause' }).click({ timeout: 20_000 })
      await page.waitForSelector('.transfer.paused[data-path="media/large.bin"]', {
        timeout: 10_000,
      })
      await screenshot(page, 'transfers-paused-desktop')
      const before = await large.locator('[data-testid="percent"]').textContent()
      await large.locator('button', { hasText: 'Resume' }).click()
      await page.waitForSelector('.transfer.done[data-path="media/album"]', { timeout: 60_000 })
      await expect(
        page.locator('.transfer[data-path="media/album"] [data-testid="percent"]').textContent(),
      ).resolves.toBe('100 %')
      await page.waitForSelector('.transfer.done[data-path="media/large.bin"]', { timeout: 60_000 })
      await expect(large.locator('[data-testid="percent"]').textContent()).resolves.toBe('100 %')
      console.log(`large.bin paused at ${before}, then resumed to 100 %`)
      await page.waitForSelector('.transfer.done[data-path="media/song.wav"]', { timeout: 30_000 })
      await screenshot(page, 'transfers-desktop')

      await page
        .locator('.transfer[data-path="media/song.wav"] button', { hasText: 'Play' })
        .click()
      await page.waitForFunction(
        () => {
          const el = document.querySelector<HTMLMediaElement>('[data-testid="player"]')
          return el !== null && el.readyState >= 1 && el.duration > 7
        },
        undefined,
        { timeout: 15_000 },
      )
      await screenshot(page, 'player-desktop')
      await page.click('.player button')
    },
    STEP_MS,
  )

  it(
    'adds a share and shows its totals',
    async () => {
      const dir = join(peerA().dir, 'mine')
      await mkdir(dir)
      await writeFile(join(dir, 'notes.txt'), 'hello')
      await tab(page, 'shares')
      await page.fill('input[name="dir"]', dir)
      await page.click('form button[type="submit"]')
      await page.waitForSelector('[data-share="mine"]')
      await page.waitForFunction(() =>
        document.querySelector('[data-testid="share-totals"]')?.textContent?.includes('1 files'),
      )
      await screenshot(page, 'shares-desktop')
    },
    STEP_MS,
  )

  it(
    'the doctor explains our router and each peer in words',
    async () => {
      await tab(page, 'doctor')
      await expect(page.textContent('[data-testid="nat"]')).resolves.toContain('Router type')
      const card = page.locator(`.doctor-peer[data-peer="${peerB().node.name}"]`)
      await expect(card.textContent()).resolves.toMatch(/connected.*Connected by (us|them) over/s)
      await screenshot(page, 'doctor-desktop')
      await tab(page, 'pairing')
      await page.waitForSelector('[data-testid="pairing-off"]')
      await screenshot(page, 'pairing-desktop')
    },
    STEP_MS,
  )

  it(
    'works on a phone-sized screen: every tab fits the width',
    async () => {
      const ctx = await (browser as Browser).newContext({
        viewport: PHONE,
        colorScheme: 'dark',
        hasTouch: true,
        isMobile: true,
      })
      const p = await ctx.newPage()
      await p.goto(peerA().server.urlWithToken)
      for (const id of TABS) {
        await tab(p, id)
        if (id === 'transfers') {
          // A fresh page lists finished downloads from the queue, not only from live events.
          await p.waitForSelector('.transfer.done[data-path="media/album"]', { timeout: 10_000 })
        }
        if (id === 'peers') {
          // Browse on the phone too: the tree must fit the narrow screen.
          await p.click(`[data-peer="${peerB().node.name}"] button`)
          await p.waitForSelector('[data-path="media"]')
        }
        await p.waitForTimeout(300)
        const overflow = await p.evaluate(
          () => document.documentElement.scrollWidth - window.innerWidth,
        )
        expect(overflow, `${id} overflows the phone's width`).toBeLessThanOrEqual(0)
        await screenshot(p, `${id}-phone`)
      }
      await ctx.close()
    },
    STEP_MS,
  )

  it(
    'pairing shows a QR code when the UI is opened at a LAN name',
    async () => {
      // A LAN-like name that Chromium resolves to loopback: no traffic leaves 127.0.0.1.
      const port = await freeTcpPort()
      const lan = createApiServer({
        node: peerA().node,
        host: '127.0.0.1',
        port,
        webRoot: WEB_ROOT,
        allowedHosts: [`nas.test:${port}`],
      })
      await lan.start()
      const other = await launchChromium(['--host-resolver-rules=MAP nas.test 127.0.0.1'])
      try {
        const p = await other.newPage({ viewport: PHONE })
        await p.goto(`http://nas.test:${port}/?token=${lan.token}#pairing`)
        await p.waitForSelector('[data-testid="pairing-on"] .qr svg')
        await expect(p.textContent('[data-testid="pairing-on"]')).resolves.toContain(
          `nas.test:${port}`,
        )
        await screenshot(p, 'pairing-qr-phone')
      } finally {
        await other.close()
        await lan.stop()
      }
    },
    STEP_MS,
  )

  it(
    'shows a banner when the peer goes away and reconnects by itself when it is back',
    async () => {
      const port = Number(new URL(peerA().server.url).port)
      await peerA().server.stop()
      await page.waitForSelector('[data-testid="banner"]', { timeout: 10_000 })
      await expect(page.textContent('[data-testid="banner"]')).resolves.toContain('not reachable')
      await screenshot(page, 'unreachable-desktop')
      const again = createApiServer({
        node: peerA().node,
        host: '127.0.0.1',
        port,
        webRoot: WEB_ROOT,
      })
      await again.start()
      peerA().server = again
      await page.waitForSelector('[data-testid="banner"]', { state: 'detached', timeout: 20_000 })
    },
    STEP_MS,
  )
})
