// Scanning a dog's tag with wx.scanCode. Ear tags and collars carry a barcode or a QR code; when
// the stock barcode parser understands it (a GS1 string with a serial, or a plain GTIN) the tag
// is that serial or GTIN, otherwise the scanned text itself.
import { isBarcodeError, parseBarcode } from '@barcode'

/** The dog tag a scanned text stands for. */
export function tagFromScan(raw: string): string {
  const text = raw.trim()
  if (!text) return ''
  const p = parseBarcode(text)
  if (isBarcodeError(p)) return text
  switch (p.kind) {
    case 'gs1':
      return p.serial || p.gtin
    case 'plain':
      return p.gtin
    default:
      return text
  }
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
