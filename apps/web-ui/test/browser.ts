import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'

/** Debian's Chromium, headless, with nothing that talks to the internet by itself. */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  })
}

export const DESKTOP = { width: 1280, height: 800 }
/** A common phone size (iPhone 12-15 CSS pixels). */
export const PHONE = { width: 390, height: 844 }

export const OUTPUT_DIR = join(import.meta.dirname, '..', 'test-output')

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUTPUT_DIR, { recursive: true })
  const path = join(OUTPUT_DIR, `${name}.png`)
  // The whole page: what lies below the fold (uploads, a long tree) is looked at too.
  await page.screenshot({ path, fullPage: true })
  return path
}

/**
 * Runs in the page (kept as text: a bundler's helpers such as `__name` do not exist there).
 * Records `ms` of a moving picture at about `bps` bits a second; answers base64 WebM.
 */
const RECORD_WEBM = `async ([ms, bps]) => {
  const canvas = document.createElement('canvas')
  canvas.width = 320
  canvas.height = 240
  const g = canvas.getContext('2d')
  let frame = 0
  const draw = () => {
    frame++
    g.fillStyle = 'hsl(' + ((frame * 3) % 360) + ', 60%, 45%)'
    g.fillRect(0, 0, canvas.width, canvas.height)
    g.fillStyle = '#fff'
    g.fillRect((frame * 4) % canvas.width, 100, 40, 40)
    g.font = '32px sans-serif'
    g.fillText('frame ' + frame, 20, 50)
    // A patch of noise keeps every frame costing some bytes.
    const img = g.createImageData(64, 64)
    for (let i = 0; i < img.data.length; i++) img.data[i] = (Math.random() * 256) | 0
    g.putImageData(img, 240, 160)
  }
  draw()
  const recorder = new MediaRecorder(canvas.captureStream(25), {
    mimeType: 'video/webm;codecs=vp8',
    videoBitsPerSecond: bps,
  })
  const chunks = []
  recorder.ondataavailable = (e) => chunks.push(e.data)
  const stopped = new Promise((resolve) => { recorder.onstop = resolve })
  const timer = setInterval(draw, 40)
  recorder.start(500)
  await new Promise((resolve) => setTimeout(resolve, ms))
  recorder.stop()
  await stopped
  clearInterval(timer)
  const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer())
  let text = ''
  for (let i = 0; i < bytes.length; i += 0x8000)
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(text)
}`

/**
 * A real, playable WebM (VP8) made by Chromium itself with MediaRecorder (there is no ffmpeg
 * here), about `bitsPerSecond / 8` bytes a second; it streams (clusters, no index), as a
 * browser plays a download still arriving.
 */
export async function recordWebm(
  browser: Browser,
  seconds: number,
  bitsPerSecond: number,
): Promise<Buffer> {
  const page = await browser.newPage()
  try {
    const fn = `(${RECORD_WEBM})([${seconds * 1000}, ${bitsPerSecond}])`
    const base64 = (await page.evaluate(fn)) as string
    return Buffer.from(base64, 'base64')
  } finally {
    await page.close()
  }
}
