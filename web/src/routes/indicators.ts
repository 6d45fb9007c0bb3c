// #/indicators: the indicator table by township or village (pages/Indicators.vue).
import { can, has } from '../api';
import type { DeskRoute } from './types';

const route: DeskRoute = {
  id: 'indicators',
  label: { zh: '指标', en: 'Indicators' },
  order: 30,
  show: () => can('aggregates') && has('GET', '/api/indicators'),
  component: () => import('../pages/Indicators.vue'),
};
export default route;
