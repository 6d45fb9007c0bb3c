// Work lists with counts by township and village: follow-ups, deworming, faecal sampling, vaccination.
import { can, has } from '../api';
import type { DeskRoute } from './types';

const route: DeskRoute = {
  id: 'worklists',
  label: { zh: '工作清单', en: 'Work lists' },
  order: 20,
  show: () => has('GET', '/api/worklists/{kind}') && can('aggregates'),
  component: () => import('../pages/Worklists.vue'),
};
export default route;
