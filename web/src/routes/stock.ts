// #/stock: the 物资 section (issue 20): stock on hand, the ledger, receive / transfer / receive a
// transfer / hand out / adjust, counts, the reconciliation and the catalogue (pages/Stock.vue).
import { can } from '../api';
import type { DeskRoute } from './types';

const route: DeskRoute = {
  id: 'stock',
  label: { zh: '物资', en: 'Stock' },
  order: 35,
  show: () => can('stock'),
  component: () => import('../pages/Stock.vue'),
};
export default route;
