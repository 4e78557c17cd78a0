/**
 * The camera: a live preview from `getUserMedia` (the rear camera on phones), frames grabbed as
 * ImageBitmaps, and messages a person can act on when the camera is missing or refused.
 */

/** Why the camera could not start, in words. */
export class CameraError extends Error {
  constructor(
    readonly reason: 'denied' | 'missing' | 'insecure' | 'busy' | 'other',
    message: string,
  ) {
    super(message);
    this.name = 'CameraError';
  }
}

function cameraError(err: unknown): CameraError {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return new CameraError('denied', 'Camera access was refused. Allow the camera for this site in the browser settings, or add photos from files.');
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') {
    return new CameraError('missing', 'No camera was found on this device. Add photos from files instead.');
  }
  if (name === 'NotReadableError' || name === 'AbortError') {
    return new CameraError('busy', 'The camera is in use by another app or could not start. Close other apps using it and try again.');
  }
  return new CameraError('other', `The camera could not start: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * A running camera bound to a <video> element. iOS rules: the element is `playsinline` (else
 * Safari plays it full screen) and `muted` (attribute and property: only muted video plays
 * without a further tap); the rear camera is asked for (`facingMode: environment`); and
 * {@link Camera.start} is called from a tap, asking for the camera before its first `await`, so
 * the request is inside the user gesture.
 */
export class Camera {
  private stream: MediaStream | null = null;

  constructor(readonly video: HTMLVideoElement) {
    video.muted = true;
    video.defaultMuted = true;
    video.setAttribute('muted', '');
    video.playsInline = true;
    video.setAttribute('playsinline', '');
    // Older iOS WebViews only know the prefixed attribute.
    video.setAttribute('webkit-playsinline', '');
  }

  /** Whether this browser can use a camera at all (secure context and the API). */
  static supported(): boolean {
    return typeof navigator !== 'undefined' && !!navigator.mediaDevices?.getUserMedia;
  }

  /**
   * Starts the preview (rear camera preferred). Call it from a user gesture (a click handler):
   * `getUserMedia` runs synchronously in it. Throws a {@link CameraError}.
   */
  async start(): Promise<void> {
    if (this.stream) return;
    if (!Camera.supported()) {
      throw new CameraError('insecure', 'This browser offers no camera here (it needs a secure https page). Add photos from files instead.');
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: 'environment' }, width: { ideal: 640 }, height: { ideal: 480 } },
      });
    } catch (err) {
      throw cameraError(err);
    }
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => undefined);
    if (this.video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) {
      await new Promise<void>((resolve) => this.video.addEventListener('loadeddata', () => resolve(), { once: true }));
    }
  }

  /** Whether the preview runs. */
  get running(): boolean {
    return this.stream !== null;
  }

  /** The current frame as an ImageBitmap (the caller closes it). */
  async grab(): Promise<ImageBitmap> {
    if (!this.stream) throw new CameraError('other', 'The camera is not running.');
    return createImageBitmap(this.video);
  }

  /** Stops the camera and releases it (the light on the phone goes off). */
  stop(): void {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }
}
