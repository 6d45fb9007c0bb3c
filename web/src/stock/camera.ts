// Reading barcodes from a camera: the browser's `BarcodeDetector` where it exists (Android
// Chrome, macOS), else zxing-cpp compiled to WebAssembly (`zxing-wasm`), whose .wasm is served
// from echinomap's own /assets/ (its default would fetch it from a CDN, which a county's network
// may not reach and which the browser tests refuse). This module and the decoder are loaded only
// when the camera is opened (ScanCamera.vue imports it dynamically).
import type { ReaderOptions } from 'zxing-wasm/reader';
import wasmUrl from 'zxing-wasm/reader/zxing_reader.wasm?url';

/** One code read: its text as a scanner would send it (GS1 codes with their symbology
 *  identifier, `]d2…`, `]Q3…`, `]C1…`, and GS between variable-length fields). */
export interface Read {
  text: string;
  format: string;
  via: 'detector' | 'wasm';
}

export type Decoder = { via: Read['via']; read: (source: HTMLVideoElement) => Promise<Read | null> };

// What the BarcodeDetector is asked for (names of the Shape Detection API).
const DETECTOR_FORMATS = ['data_matrix', 'qr_code', 'ean_13', 'ean_8', 'code_128', 'upc_a', 'itf'];
// What zxing-wasm is asked for (its names).
const WASM_FORMATS = ['DataMatrix', 'QRCode', 'EAN-13', 'EAN-8', 'Code128', 'UPC-A', 'ITF', 'DataBar', 'DataBarExpanded'];

interface DetectedBarcode {
  rawValue: string;
  format: string;
}
interface BarcodeDetectorLike {
  detect(source: CanvasImageSource): Promise<DetectedBarcode[]>;
}
type DetectorClass = {
  new (opts: { formats: string[] }): BarcodeDetectorLike;
  getSupportedFormats(): Promise<string[]>;
};

// The symbology identifier (ISO/IEC 15424) a GS1 scanner puts before the data, from the
// detector's format name: the server's parser reads GS1 element strings after it.
const GS1_PREFIX: Record<string, string> = { data_matrix: ']d2', qr_code: ']Q3', code_128: ']C1' };
const GS = '\u001d';

async function detectorDecoder(): Promise<Decoder | null> {
  const D = (window as unknown as { BarcodeDetector?: DetectorClass }).BarcodeDetector;
  if (!D) return null;
  let supported: string[] = [];
  try {
    supported = await D.getSupportedFormats();
  } catch {
    return null;
  }
  const formats = DETECTOR_FORMATS.filter((f) => supported.includes(f));
  // Without DataMatrix the GS1 codes of drug packs cannot be read: the WebAssembly decoder can.
  if (!formats.includes('data_matrix')) return null;
  const detector = new D({ formats });
  return {
    via: 'detector',
    async read(video) {
      const found = await detector.detect(video);
      const b = found[0];
      if (!b?.rawValue) return null;
      // A GS1 element string starts with an AI (01 GTIN) after the FNC1 the detector drops.
      const gs1 = GS1_PREFIX[b.format] && (/^01\d{14}/.test(b.rawValue) || b.rawValue.includes(GS));
      return { text: gs1 ? GS1_PREFIX[b.format] + b.rawValue : b.rawValue, format: b.format, via: 'detector' };
    },
  };
}

async function wasmDecoder(): Promise<Decoder> {
  const zxing = await import('zxing-wasm/reader');
  // Offline: the .wasm comes from our own assets, never from the package's default CDN.
  zxing.prepareZXingModule({
    overrides: { locateFile: (path: string, prefix: string) => (path.endsWith('.wasm') ? new URL(wasmUrl, location.href).href : prefix + path) },
  });
  const options: ReaderOptions = {
    formats: WASM_FORMATS as ReaderOptions['formats'],
    tryHarder: true,
    tryRotate: true,
    tryInvert: false,
    maxNumberOfSymbols: 1,
    textMode: 'Plain',
  };
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2d canvas');
  return {
    via: 'wasm',
    async read(video) {
      const w = video.videoWidth;
      const h = video.videoHeight;
      if (!w || !h) return null;
      // At most 960 px wide: enough for a pack's code held at a hand's length, fast on a phone.
      const scale = Math.min(1, 960 / w);
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const [r] = await zxing.readBarcodes(img, options);
      if (!r?.isValid || !r.text) return null;
      // GS1 data carries its symbology identifier (]d2, ]Q3, ]C1, ]e0), as a scanner sends it.
      const gs1 = /^\](d2|Q3|C1|e0|J1)$/.test(r.symbologyIdentifier);
      return { text: gs1 ? r.symbologyIdentifier + r.text : r.text, format: r.format, via: 'wasm' };
    },
  };
}

/** The decoder this browser has: the native detector when it reads DataMatrix, else WebAssembly. */
export async function makeDecoder(prefer?: Read['via']): Promise<Decoder> {
  if (prefer !== 'wasm') {
    const d = await detectorDecoder();
    if (d) return d;
  }
  return wasmDecoder();
}

/** The back camera (environment), at a size that reads small codes. */
export async function openCamera(): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('camera_unavailable');
  return navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
  });
}

/**
 * Reads frames of `video` until `signal` aborts, calling `onRead` once per code shown: the same
 * code is not reported again while it stays in view (a pack held in front of the camera counts
 * once); it is again once another code or nothing has been seen for `gapMs`.
 */
export async function readLoop(video: HTMLVideoElement, decoder: Decoder, onRead: (r: Read) => void, signal: AbortSignal, gapMs = 1500) {
  let last = '';
  let lastSeen = 0;
  while (!signal.aborted) {
    let r: Read | null = null;
    try {
      if (video.readyState >= 2) r = await decoder.read(video);
    } catch {
      // A frame that cannot be read (the decoder still loading, a camera hiccup): the next one.
      r = null;
    }
    const now = performance.now();
    if (r) {
      if (r.text !== last || now - lastSeen > gapMs) onRead(r);
      last = r.text;
      lastSeen = now;
    }
    // About 8 frames a second: enough to feel instant, light on a phone's battery.
    await new Promise((res) => setTimeout(res, r ? 250 : 120));
  }
}
