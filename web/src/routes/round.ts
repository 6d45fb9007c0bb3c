// 驱虫登记: the monthly deworming round of one village at the desk (`#/round`).
import { can, has } from '../api';
import type { DeskRoute } from './types';

const route: DeskRoute = {
  id: 'round',
  label: { zh: '驱虫登记', en: 'Deworming round' },
  order: 16,
  show: () => can('animal_rows') && has('GET', '/api/dewormings/round') && has('POST', '/api/dewormings/round'),
  component: () => import('../pages/DewormingRound.vue'),
};
export default route;
