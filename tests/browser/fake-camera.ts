/**
 * A phone-sized Chromium whose camera is Chromium's fake capture device playing a video of real
 * images (tests/browser/video.ts), camera permission granted: the app tests' camera paths.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, type Browser } from './chrome.ts';
import { writeY4m } from './video.ts';

/** The viewport the app tests use: a small phone. */
export const PHONE = { width: 360, height: 740 };

/** Chromium with a fake camera; `dispose` closes it and deletes its profile and the video. */
export interface FakeCameraBrowser {
  browser: Browser;
  dispose(): Promise<void>;
}

/** Launches a phone-sized Chromium whose camera plays `images` (PNG bytes), each for 4 frames, in a loop. */
export async function launchWithFakeCamera(images: readonly Uint8Array[]): Promise<FakeCameraBrowser> {
  const dir = mkdtempSync(join(tmpdir(), 'tannerin-video-'));
  const video = join(dir, 'camera.y4m');
  writeY4m(video, images, { framesPerImage: 4 });
  try {
    const browser = await launchChromium(undefined, {
      viewport: PHONE,
      mobile: true,
      args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${video}`],
      permissions: ['camera'],
    });
    return {
      browser,
      async dispose() {
        await browser.dispose();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
