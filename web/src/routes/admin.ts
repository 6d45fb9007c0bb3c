// #/admin: users, API tokens and the audit log (pages/Admin.vue), for administrators.
import { can } from '../api';
import type { DeskRoute } from './types';

const route: DeskRoute = {
  id: 'admin',
  label: { zh: '系统管理', en: 'Administration' },
  order: 60,
  show: () => can('admin'),
  component: () => import('../pages/Admin.vue'),
};
export default route;
