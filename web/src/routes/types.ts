// One page of the desk: a file `routes/NAME.ts` whose default export is a `DeskRoute`.
// The shell (App.vue) lists every such file in the navigation (when `show()` and `nav` allow) and
// shows its component at `#/ID`, with the hash's query (`#/patient?id=37`) as the `params` prop.
import type { Component } from 'vue';

export interface DeskRoute {
  /** The hash route: `#/worklists`. */
  id: string;
  /** The navigation label. */
  label: { zh: string; en: string };
  /** Position in the navigation (the map is 0; built-in pages 10–60). */
  order: number;
  /** Whether the signed-in user gets this page (permissions: `can()`, endpoints: `has()`). */
  show: () => boolean;
  /** false: reachable by link only (the patient record), not in the navigation. */
  nav?: boolean;
  /** The page component, loaded when first opened; it receives `params: URLSearchParams`. */
  component: () => Promise<Component | { default: Component }>;
}
