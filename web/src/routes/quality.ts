// Data-quality findings by kind and village, each linked to its record, with review marks.
import { can, has } from '../api';
import type { DeskRoute } from './types';

const route: DeskRoute = {
  id: 'quality',
  label: { zh: '数据质量', en: 'Data quality' },
  order: 45,
  show: () => has('GET', '/api/quality') && can('animal_rows'),
  component: () => import('../pages/Quality.vue'),
};
export default route;
