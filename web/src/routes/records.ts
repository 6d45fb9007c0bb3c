// 登记簿: the list and the form of every register the user may read (`#/records?register=dogs`).
import { can, has } from '../api';
import type { DeskRoute } from './types';

const route: DeskRoute = {
  id: 'records',
  label: { zh: '登记簿', en: 'Registers' },
  order: 15,
  // `/api/registers` answers the registers of the role's permissions: animal or case rows.
  show: () => has('GET', '/api/registers') && (can('animal_rows') || can('case_rows')),
  component: () => import('../pages/Records.vue'),
};
export default route;
