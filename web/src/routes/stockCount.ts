// 盘点: the scan screen of one count session (`#/stock-count?id=N`), opened from the counts of
// 物资 (Stock.vue). Made for a 5-inch PDA in keyboard-wedge mode and for a phone's camera.
import { can } from '../api';
import type { DeskRoute } from './types';

const route: DeskRoute = {
  id: 'stock-count',
  label: { zh: '盘点', en: 'Stock count' },
  order: 36,
  nav: false,
  show: () => can('stock'),
  component: () => import('../pages/StockCount.vue'),
};
export default route;
