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
  await page.screenshot({ path, fullPage: false })
  return path
}
