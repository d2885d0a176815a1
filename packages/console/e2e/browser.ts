import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`, as .ci/run does); RC_CHROMIUM overrides the path. */
export const CHROMIUM = process.env.RC_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless Chromium as it works on these machines: as root (no sandbox), and with background networking, component
 * updates and sync off, so the browser opens no connection but the ones the test makes. Playwright gives it a fresh
 * temporary profile.
 */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-extensions',
    ],
  });
  return { browser, close: () => browser.close() };
}
