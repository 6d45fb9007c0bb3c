// #/reports: the report forms with a period picker and a download per form (pages/Reports.vue).
import { can, has } from '../api';
import type { DeskRoute } from './types';

const route: DeskRoute = {
  id: 'reports',
  label: { zh: '报表', en: 'Reports' },
  order: 50,
  show: () => can('aggregates') && has('GET', '/api/reports'),
  component: () => import('../pages/Reports.vue'),
};
export default route;
