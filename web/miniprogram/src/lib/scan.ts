// Scanning a dog's tag with wx.scanCode. Ear tags and collars carry a barcode or a QR code. The tag
// is the serial (GS1 AI 21) when the scan is a GS1 element string that has one; anything else is
// the scanned text itself, trimmed. Neither the GTIN nor a numeric code read as an EAN/UPC stands
// for the dog: a GTIN names the product (the same on every collar of a batch) and the parser pads
// an 8-, 12- or 13-digit number to a 14-digit GTIN, which is not the tag painted on the collar.
import { isBarcodeError, parseBarcode } from '@barcode'

/** The dog tag a scanned text stands for. */
export function tagFromScan(raw: string): string {
  const text = raw.trim()
  if (!text) return ''
  const p = parseBarcode(text)
  return !isBarcodeError(p) && p.kind === 'gs1' && p.serial ? p.serial : text
}

export type ScanOutcome = { ok: true; tag: string } | { ok: false; cancelled: boolean; reason: string }

export function scanTag(): Promise<ScanOutcome> {
  return new Promise((resolve) => {
    wx.scanCode({
      onlyFromCamera: false,
      scanType: ['barCode', 'qrCode', 'datamatrix'],
      success: (r) => {
        const tag = tagFromScan(r.result || '')
        resolve(tag ? { ok: true, tag } : { ok: false, cancelled: false, reason: 'empty' })
      },
      fail: (e) => resolve({ ok: false, cancelled: /cancel/i.test(e.errMsg || ''), reason: e.errMsg || 'scanCode:fail' }),
    })
  })
}
