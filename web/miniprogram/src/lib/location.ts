// 我在哪个村: WeChat's position is GCJ-02 (wx.getLocation type 'gcj02'); the server converts it
// (crs=gcj02). Without signal the core converts it back to WGS84 and takes the nearest village
// centre of the saved list.
import { gcj02ToWgs84 } from '@core/coords'
import { nearestVillage } from '@core/search'
import { get } from './http'
import { savedVillages, setFix, type Village } from './places'

export interface Located {
  village: (Partial<Village> & { code: string; name: string }) | null
  distance_m: number | null
  inside: boolean
  outside_jurisdiction: boolean
  offline: boolean
}

export type LocateOutcome = { ok: true; located: Located } | { ok: false; reason: string }

function position(): Promise<WechatMiniprogram.GetLocationSuccessCallbackResult | { error: string }> {
  return new Promise((resolve) => {
    wx.getLocation({
      type: 'gcj02',
      isHighAccuracy: true,
      success: (r) => resolve(r),
      fail: (e) => resolve({ error: e.errMsg || 'getLocation:fail' }),
    })
  })
}

export async function locate(): Promise<LocateOutcome> {
  const p = await position()
  if ('error' in p) return { ok: false, reason: p.error }
  const wgs = gcj02ToWgs84(p.longitude, p.latitude)
  setFix({ gcj: [p.longitude, p.latitude], wgs, accuracy: Math.round(p.accuracy || 0), at: Date.now() })
  const q = `/api/villages/locate?lon=${p.longitude.toFixed(6)}&lat=${p.latitude.toFixed(6)}&crs=gcj02&n=3`
  const a = await get(q)
  if (a.status === 200) {
    return {
      ok: true,
      located: {
        village: a.data.village,
        distance_m: a.data.distance_m ?? a.data.village?.distance_m ?? null,
        inside: !!a.data.inside,
        outside_jurisdiction: !!a.data.outside_jurisdiction,
        offline: false,
      },
    }
  }
  if (a.status !== 0) return { ok: false, reason: a.data?.error?.message || `HTTP ${a.status}` }
  const near = nearestVillage(savedVillages()?.items || [], wgs[0], wgs[1])
  return {
    ok: true,
    located: {
      village: near ? near.village : null,
      distance_m: near ? near.distance_m : null,
      inside: false,
      outside_jurisdiction: false,
      offline: true,
    },
  }
}
